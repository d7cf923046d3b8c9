"""Limits on a real server: a plan that keeps going is stopped at ``max_nodes`` lines (by the grammar
on SGLang's runtime, by the scheduler on a backend without regex) or at ``plan_max_tokens``, and
the question is still answered from the nodes that were kept."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import plato_sgl
from plato_sgl.core import prompts
from plato_sgl.core.grammar import literal_regex

pytestmark = pytest.mark.server

RUNAWAY = "".join(f"{i}. Step {i} of a plan that goes on and on.[]\n" for i in range(1, 9))


def _kept(result: plato_sgl.Result, count: int) -> None:
    """``result`` answered from its first ``count`` plan lines, each node finished."""
    assert result.ok, result.error
    assert not result.fallback
    assert [n.id for n in result.nodes] == list(range(1, count + 1))
    assert all(n.finished for n in result.nodes)
    assert result.answer == prompts.compose_answer((n.description, n.result) for n in result.nodes)


def test_a_plan_cut_by_plan_max_tokens_is_answered_from_its_complete_lines(backend):
    result = plato_sgl.run(
        "A question whose plan runs out of tokens",
        backend=backend,
        plan_regex=literal_regex(RUNAWAY),
        plan_max_tokens=40,
        node_max_tokens=4,
    )
    assert result.calls[0].kind == "plan" and result.calls[0].completion_tokens == 40
    assert RUNAWAY.startswith(result.plan) and result.plan != RUNAWAY
    complete = result.plan.count("]")
    assert 1 <= complete < 8
    _kept(result, complete)
    cut_line = [] if result.plan.endswith(("]", "\n")) else [result.plan.splitlines()[-1]]
    assert result.repairs == [f"line {complete + 1}: dropped incomplete last line {line!r}" for line in cut_line]


class _PlanForcingClient:
    """An OpenAI client whose plan request alone carries SGLang's ``regex`` extension field.

    Not a fake: the real server decodes a plan that never stops (the tiny model cannot write one by
    itself), and ``sgl.OpenAI`` streams it back as from any OpenAI-style API, so Plato parses it
    tolerantly and has no grammar to stop it at ``max_nodes``.
    """

    def __init__(self, client: Any, regex: str):
        self._client, self._regex = client, regex
        self.chat = self.completions = self  # sgl.OpenAI calls client.chat.completions.create(...)

    def create(self, *, messages: list[dict], **kwargs: Any) -> Any:
        if messages and messages[0].get("content") == prompts.plan_system():
            kwargs["extra_body"] = {"regex": self._regex}
        return self._client.chat.completions.create(messages=messages, **kwargs)


def test_a_runaway_plan_without_regex_stops_at_max_nodes_and_still_answers(openai_backend):
    backend = copy.copy(openai_backend)  # the session's backend stays as it is
    backend.client = _PlanForcingClient(openai_backend.client, literal_regex(RUNAWAY))
    result = plato_sgl.run(
        "A question whose plan never ends",
        backend=backend,
        max_nodes=3,
        plan_max_tokens=400,
        node_max_tokens=8,
        frequency_penalty=0.0,
    )  # unpenalised: penalised noise can repeat a node word for word, left out
    assert result.plan == RUNAWAY  # the server wrote all eight lines...
    _kept(result, 3)  # ...the scheduler kept three, and answered from them
    assert result.repairs == [
        f"dropped plan line {i} ('Step {i} of a plan that goes on and on'): more than max_nodes=3" for i in range(4, 9)
    ]


def test_each_node_is_decoded_within_its_share_and_the_sentences_that_share_holds(backend, sent_generate):
    """A 6-part plan splits 768 tokens into 128 a node, which holds 2 sentences of 64 tokens: the
    real server decodes every node under the 2-sentence grammar and that cap (recorded on the way)."""
    from plato_sgl.core.grammar import node_regex, split_opening

    plans = {
        6: "Parts: 6\n" + "".join(f"{i}. Part {i}.[]\n" for i in range(1, 7)),
        2: "Parts: 2\n1. One.[]\n2. Two.[]\n",
    }
    for size, sentences, share in ((6, 2, 128), (2, 4, 256)):
        sent_generate.clear()
        result = plato_sgl.run("How do bees fly? (shares)", backend=backend, plan_regex=literal_regex(plans[size]))
        assert result.ok and len(result.nodes) == size
        nodes = [
            b["sampling_params"]
            for b in sent_generate
            if b["sampling_params"].get("max_new_tokens")
            and b["sampling_params"].get("regex") != split_opening(literal_regex(plans[size]))[1]  # not the plan
        ]
        assert len(nodes) == size
        assert all(
            p["regex"] == node_regex(sentences, ascii=True, code=False) and p["max_new_tokens"] == share for p in nodes
        )
