"""Sampling settings (``top_p``, ``top_k``, ``stop``, the penalties, ``seed``): defaults, checks and the CLI's flags, without a server."""

from __future__ import annotations

import pytest

from plato_sgl.cli import _options, build_parser
from plato_sgl.core.options import PROSE_FREQUENCY_PENALTY, Options
from plato_sgl.engine import endpoint as cancel


def test_sampling_settings_are_the_programs_run_defaults():
    assert Options(top_p=0.9, top_k=40, stop="END", frequency_penalty=0.3).sampling("q?") == {
        "temperature": 0.0,
        "top_p": 0.9,
        "top_k": 40,
        "stop": ["END"],
        "frequency_penalty": 0.3,
        "presence_penalty": 0.0,
    }
    assert Options().sampling("q?")["stop"] is None  # SGLang's own default: no stop string


PROSE = "How can I improve my time management skills?"
CODE = "Implement a Python function to find the longest common subsequence of two input strings."
MATH = "A shirt costs $20 and is 15% off. What is the total cost of 3 shirts?"


def test_by_default_prose_is_penalised_and_code_and_math_are_not():
    assert Options().frequency_penalty is None
    assert (
        [Options().answer_frequency_penalty(q) for q in (PROSE, CODE, MATH)]
        == [PROSE_FREQUENCY_PENALTY, 0.0, 0.0]
        == [0.5, 0.0, 0.0]
    )
    assert [Options().sampling(q)["frequency_penalty"] for q in (PROSE, CODE, MATH)] == [0.5, 0.0, 0.0]
    # a number given applies to every answer, code and math included
    assert [Options(frequency_penalty=0.2).answer_frequency_penalty(q) for q in (PROSE, CODE, MATH)] == [0.2, 0.2, 0.2]
    assert [Options(frequency_penalty=0).answer_frequency_penalty(q) for q in (PROSE, CODE, MATH)] == [0, 0, 0]
    assert [Options().to_dict(q)["frequency_penalty"] for q in (PROSE, CODE, MATH)] == [
        0.5,
        0.0,
        0.0,
    ]  # a Result's record


def test_the_cli_passes_sampling_settings_as_options():
    args = build_parser().parse_args(
        [
            "ask",
            "q?",
            "--top-p",
            "0.5",
            "--top-k",
            "3",
            "--stop",
            "A",
            "--stop",
            "B",
            "--seed",
            "7",
            "--frequency-penalty",
            "0.4",
            "--presence-penalty",
            "-0.2",
            "--sentence-tokens",
            "40",
        ]
    )
    assert _options(args) == {
        "top_p": 0.5,
        "top_k": 3,
        "stop": ["A", "B"],
        "seed": 7,
        "frequency_penalty": 0.4,
        "presence_penalty": -0.2,
        "sentence_tokens": 40,
    }


@pytest.mark.parametrize("name", ["frequency_penalty", "presence_penalty"])
@pytest.mark.parametrize("value", [2.5, -3, "0.5", True])
def test_a_penalty_outside_openais_range_is_refused(name, value):
    with pytest.raises(ValueError, match=f"option {name} must be a number from -2 to 2"):
        Options(**{name: value})


@pytest.mark.parametrize("seed", [1.5, "7", True, 2**63])
def test_a_seed_that_is_not_a_64_bit_integer_is_refused(seed):
    with pytest.raises(ValueError, match="seed must be a 64-bit integer"):
        Options(seed=seed)


def test_a_seed_for_a_backend_without_the_runtime_is_refused_before_any_request():
    with pytest.raises(ValueError, match="option seed needs SGLang's runtime"):
        cancel.for_question(object(), seed=7)
