"""The prompt tokens a Plato question has the server compute, on the real tiny server: the node rules
put before the question are cached across questions (``node_prompt``), and the node prompt's prefix
is sent only once the plan has decided on parts side by side (``prefix_prefill``)."""

from __future__ import annotations

import pytest

import plato_sgl
from plato_sgl.core.grammar import literal_regex
from plato_sgl.evaluation.bench import run_bench, variants_for
from plato_sgl.evaluation.datasets import Question
from plato_sgl.evaluation.records import load_rows

TWO_PARTS = literal_regex("Parts: 2\n1. Wings.[]\n2. Muscles.[]\n")
ONE_PART = literal_regex("Parts: 1\n1. Wings.[]\n")
SMALL = {"node_max_tokens": 8, "max_tokens": 8, "frequency_penalty": 0.0, "ignore_eos": True}
QUESTION = Question(id="1", text="How do bees find their way back to the hive after a long flight?")


def uncached(call) -> int:
    return call.prompt_tokens - call.cached_tokens


def prefix_calls(result) -> list:
    return [c for c in result.calls if c.kind == "context"]


@pytest.fixture(scope="module")
def fair_run(backend, tmp_path_factory):
    """Plato with each node prompt order, every answer in the cache state of a newly arrived question."""
    out = tmp_path_factory.mktemp("prefill") / "run"
    variants = variants_for(
        ["plato+node_prompt=question-first", "plato+node_prompt=rules-first"],
        options={**SMALL, "plan_regex": TWO_PARTS},
    )
    run_bench([QUESTION], variants, backend, out, progress_bar=False)
    return load_rows(out)


def test_rules_first_leaves_only_the_question_uncached_in_the_node_prefix(fair_run, tokenizer):
    own = len(tokenizer(QUESTION.text, add_special_tokens=False)["input_ids"])
    question_first = prefix_calls(fair_run["plato+node_prompt=question-first"][QUESTION.id].result)[0]
    rules_first = prefix_calls(fair_run["plato+node_prompt=rules-first"][QUESTION.id].result)[0]
    assert own - 1 <= uncached(rules_first) <= own + 12, rules_first  # the question and what follows it
    assert uncached(question_first) >= own + 40, question_first  # the question and the rules after it


@pytest.mark.parametrize("prefill, expected", [("at-start", 1), ("on-parts", 0)])
def test_a_one_part_plan_sends_the_node_prefix_only_when_prefilled_at_start(backend, prefill, expected):
    result = plato_sgl.run(
        "Why do cats purr? (one part)", backend=backend, plan_regex=ONE_PART, prefix_prefill=prefill, **SMALL
    )
    assert result.route == "plain" and result.answer
    assert len(prefix_calls(result)) == expected


def test_on_parts_prefills_the_prefix_after_the_size_decision_for_the_nodes(backend):
    result = plato_sgl.run(
        "Why do cats purr? (two parts)", backend=backend, plan_regex=TWO_PARTS, prefix_prefill="on-parts", **SMALL
    )
    assert result.ok and [n.finished_at is not None for n in result.nodes] == [True, True]
    prefix = prefix_calls(result)[0]
    assert prefix.started_at >= result.plan_first_token_at  # decided by the plan's first tokens
    assert all(node.cached_tokens >= prefix.prompt_tokens - 1 for node in result.nodes)  # they found it cached
