"""The one registry of methods: names, summaries, run functions, layouts and openings, read by the CLI and the API."""

from __future__ import annotations

import pytest

from plato_sgl.cli import main
from plato_sgl.core.options import Options
from plato_sgl.engine.warmup import PLACEHOLDER
from plato_sgl.methods.registry import METHODS, help_text, method, openings


def test_every_method_has_a_run_function_and_openings_holding_the_placeholder():
    assert list(METHODS) == ["plato", "ar", "cot", "sot", "pasta", "auto"]
    for name, m in METHODS.items():
        assert callable(m.run) and m.name == name and m.summary
        found = m.openings(Options())
        assert found and all(kwargs["question"] == PLACEHOLDER for _, kwargs in found)


def test_sectioned_methods_have_a_layout_and_single_requests_none():
    assert METHODS["plato"].layout("q") is not None and METHODS["auto"].layout("q") is not None
    assert METHODS["sot"].layout("q") is not None
    assert METHODS["ar"].layout("q") is None and METHODS["pasta"].layout("q") is None


def test_shared_openings_are_sent_once():
    # plato and auto open with the same programs; ar's plain answer is one of them
    assert len(openings([("plato", Options()), ("auto", Options()), ("ar", Options())])) == 3


def test_an_unknown_method_is_named_with_the_choices():
    with pytest.raises(ValueError, match=r"unknown method 'nope'; choose one of: plato, ar, cot, sot, pasta, auto"):
        method("nope")


def test_the_cli_help_lists_every_method_from_the_registry(capsys):
    with pytest.raises(SystemExit):
        main(["ask", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert help_text() in text
