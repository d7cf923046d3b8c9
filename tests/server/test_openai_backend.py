"""Plato through an OpenAI-style backend (``sgl.OpenAI``), which does not enforce ``gen(regex=...)``:
the local SGLang server's own ``/v1`` endpoint (fixture ``openai_backend``, conftest.py), serving
the tiny random model that never writes a plan. The plan is parsed tolerantly; with no usable
line, Plato falls back to a plain answer and says why.

``sgl.OpenAI`` reports no per-request token counts (its ``meta_info`` is empty), so these tests
check texts and records, not token numbers."""

from __future__ import annotations

import pytest

import plato_sgl
from plato_sgl.core.errors import PlanFormatError
from plato_sgl.core.grammar import plan_line_pattern
from plato_sgl.core.parser import parse_plan

pytestmark = pytest.mark.server

FALLBACK = "the plan had no usable sub-task line; answered with a single plain request"


def _fell_back(result: plato_sgl.Result) -> None:
    """``result`` is a plain answer after a plan without usable lines, and says so."""
    assert result.ok, result.error
    assert not result.nodes and result.parallel_degree == 0
    assert result.fallback == FALLBACK
    assert [c.kind for c in result.calls] == ["plan", "fallback"]
    assert result.answer  # the plain answer (the random model may write only newlines)


def test_a_plan_of_blank_lines_falls_back_to_a_plain_answer(openai_backend):
    # Greedy, the random model's "plan" is newlines only: the strict parser (used when the regex
    # is enforced) would refuse it, the tolerant one reads no node from it.
    result = plato_sgl.run("How do bees make honey?", backend=openai_backend, plan_max_tokens=32, max_tokens=16)
    assert result.plan and not result.plan.strip()
    with pytest.raises(PlanFormatError):
        parse_plan(result.plan)
    assert parse_plan(result.plan, tolerant=True) == ([], [])
    _fell_back(result)


def test_an_unconstrained_plan_is_read_tolerantly_and_its_non_plan_lines_recorded(openai_backend):
    # Sampled, the random model writes arbitrary text: under the plan regex it could not.
    result = plato_sgl.run(
        "How do bees make honey?", backend=openai_backend, plan_max_tokens=32, max_tokens=4, temperature=1.0
    )
    lines = [line for line in result.plan.split("\n") if line.strip()]  # the parser's lines (not splitlines')
    assert lines and not any(plan_line_pattern().fullmatch(line) for line in lines)
    assert len(result.repairs) == len(lines)  # only the tolerant parser skips lines and says so
    assert all(": skipped, not a plan line: " in repair for repair in result.repairs)
    _fell_back(result)


def test_the_other_methods_answer_through_the_openai_backend(openai_backend):
    for method in ("ar", "cot", "pasta"):
        result = plato_sgl.run(
            "Name a colour.", method=method, backend=openai_backend, max_tokens=8, plan_max_tokens=16, node_max_tokens=8
        )
        assert result.ok and result.calls, (method, result.error)
        if method == "pasta":  # it cannot tell which tag ended a request there: a plain answer, said so
            assert result.fallback and "SGLang's runtime" in result.fallback and not result.nodes
        else:
            assert result.fallback is None


def test_sot_says_why_it_cannot_run_on_an_openai_chat_backend(openai_backend):
    # SoT's prompts end in a partial assistant answer ("1."), which a chat API cannot take.
    with pytest.raises(
        plato_sgl.PlatoError, match=r"request 'skeleton' failed: .*gen must be right after sgl\.assistant"
    ) as caught:
        plato_sgl.run("Name a colour.", method="sot", backend=openai_backend, plan_max_tokens=16)
    assert caught.value.result.error
