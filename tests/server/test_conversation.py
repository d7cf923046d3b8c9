"""Conversations: earlier turns go into every prompt of every method, and a Plato answer composes
inside a user's own SGLang program (``append_answer``). Against the tiny real server."""

from __future__ import annotations

import pytest
import sglang as sgl

import plato_sgl
from plato_sgl.core.grammar import literal_regex

PLAN = "Parts: 2\n1. First.[]\n2. Second.[]\n"
SKELETON = " First.\n2. Second."  # SoT's skeleton after its "1."
SMALL = dict(node_max_tokens=6, max_tokens=6, ignore_eos=True, plan_regex=literal_regex(PLAN))
# Plato with dependency-only context: node 2's prompt then holds no node 1 result, whose text differs between the runs
FORCED = {
    "ar": {},
    "plato": {"plan_regex": literal_regex(PLAN), "context": "deps"},
    "sot": {"plan_regex": literal_regex(SKELETON)},
}


def first_turn(backend):
    """A first question and its answer (written here: the tiny model's answers can be all blanks)."""
    return "What is a bee? (conversation)", "A bee is a flying insect that makes honey."


def history_tokens(tokenizer, history) -> int:
    """What the turns add to a ChatML prompt between its system prompt and its user turn."""

    def count(turns):
        messages = [
            {"role": "system", "content": "S"},
            *({"role": r, "content": t} for r, t in turns),
            {"role": "user", "content": "Q"},
        ]
        return len(
            tokenizer(tokenizer.apply_chat_template(messages, tokenize=False), add_special_tokens=False)["input_ids"]
        )

    return count(history) - count([])


@pytest.mark.server
@pytest.mark.parametrize("method", ["ar", "plato", "sot"])
def test_a_follow_up_question_s_prompts_hold_the_first_turn(backend, tokenizer, method):
    question, answer = first_turn(backend)
    history = [("user", question), ("assistant", answer)]
    follow_up = "Now make it shorter. (conversation)"
    settings = {**SMALL, **FORCED[method]}
    alone = plato_sgl.run(follow_up, method=method, backend=backend, **settings)
    after = plato_sgl.run(follow_up, method=method, backend=backend, history=history, **settings)
    assert after.ok and after.options["history"] == tuple(history)
    added = history_tokens(tokenizer, history)

    def requests(r):
        return [*(c.prompt_tokens for c in r.calls if c.kind != "context"), *(n.prompt_tokens for n in r.nodes)]

    # every request of the follow-up (plan or skeleton, each node, the plain answer) starts with the conversation
    assert [b - a for a, b in zip(requests(alone), requests(after))] == [added] * len(requests(alone))
    assert len(requests(alone)) == {"ar": 1, "plato": 3, "sot": 3}[method]  # plan or skeleton and two nodes


@pytest.mark.server
def test_the_conversation_reaches_the_stream_too(backend, tokenizer):
    question, answer = first_turn(backend)
    events = list(
        plato_sgl.stream(
            "And its wings? (conversation)",
            backend=backend,
            history=[("user", question), ("assistant", answer)],
            **SMALL,
        )
    )
    result = events[-1].result
    alone = plato_sgl.run("And its wings? (conversation)", backend=backend, **SMALL)
    assert result.calls[0].prompt_tokens - alone.calls[0].prompt_tokens == history_tokens(
        tokenizer, [("user", question), ("assistant", answer)]
    )


@sgl.function
def chat(s, first: str, second: str, seen: list):
    s += sgl.system("You are a helpful assistant.")
    s += sgl.user(first)
    s += sgl.assistant(sgl.gen("first", max_tokens=8))
    s += sgl.user(second)
    seen.append(plato_sgl.append_answer(s, "second", **SMALL))
    s += sgl.user("Thanks!")
    s += sgl.assistant(sgl.gen("third", max_tokens=4))


@pytest.mark.server
def test_append_answer_composes_with_the_rest_of_a_users_program(backend):
    seen: list = []
    state = chat.run(first="What is a bee? (program)", second="How do bees fly? (program)", seen=seen, backend=backend)
    assert state.error() is None
    (result,) = seen
    assert result.ok and result.method == "plato" and [n.id for n in result.nodes] == [1, 2]
    assert state["second"] == result.answer and state["third"]  # read back by name; the program went on after it
    assert result.question == "How do bees fly? (program)"
    assert result.options["history"] == (
        ("user", "What is a bee? (program)"),
        ("assistant", state["first"].strip()),
    )  # as the state keeps its turns
    roles = [m["role"] for m in state.messages()]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user", "assistant"]
    assert state.messages()[4]["content"] == result.answer
