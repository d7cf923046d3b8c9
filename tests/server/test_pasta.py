"""PASTA by prompting: the annotation helpers alone, then the interpreter on the real server.

Server tests force the main branch's annotated text with a literal regex (``plan_regex``, cut at
its tags into one regex per request) and let each async branch decode a fixed number of tokens
(ignore_eos; the tiny model never writes ``</async>``), so they check the interpreter's behaviour:
forks, waits, substitution order, nesting and degradation.
"""

from __future__ import annotations

import pytest

import plato_sgl
from plato_sgl.core.grammar import literal_regex

QUESTION = "Why is using a mobile phone too much bad for people?"
NODE_TOKENS = 24
LIST = "Three reasons:\n<scope>\n1. Eyes:<promise/>\n2. Posture:<promise/>\n</scope>\nDone."
NESTED = "<scope>A:<promise/> <scope>B:<promise/> C:<promise/></scope> D:<promise/></scope>E."


def in_order(text: str, parts: list[str]) -> bool:
    """Whether ``parts`` occur in ``text`` one after the other, without overlapping."""
    at = 0
    for part in parts:
        found = text.find(part, at)
        if found < 0:
            return False
        at = found + len(part)
    return True


# -- the pure parts (no server) -----------------------------------------------------------------


def pasta(backend, main: str, **options) -> plato_sgl.Result:
    settings = dict(plan_regex=literal_regex(main), node_max_tokens=NODE_TOKENS, ignore_eos=True)
    settings.update(options)
    return plato_sgl.run(QUESTION, method="pasta", backend=backend, **settings)


@pytest.fixture(scope="module")
def listed(backend) -> plato_sgl.Result:
    return pasta(backend, LIST)


@pytest.fixture(scope="module")
def nested(backend) -> plato_sgl.Result:
    return pasta(backend, NESTED)


def test_each_promise_forks_one_async_span(listed) -> None:
    assert listed.ok and listed.method == "pasta" and not listed.repairs
    assert [(n.id, n.description, n.deps) for n in listed.nodes] == [(1, "1. Eyes:", ()), (2, "2. Posture:", ())]
    assert all(n.finished and n.completion_tokens == NODE_TOKENS for n in listed.nodes)
    assert all(n.parsed_at <= n.dispatched_at <= n.started_at <= n.finished_at for n in listed.nodes)
    assert [c.kind for c in listed.calls] == ["main"] * 4  # cut at 2 promises and 1 </scope>
    assert listed.critical_path == 1 and listed.parallel_degree == 2.0


def test_the_main_branch_goes_on_while_a_span_decodes(listed) -> None:
    first = listed.node(1)
    assert listed.calls[1].started_at < first.finished_at  # "2. Posture:" was asked for meanwhile
    assert listed.node(2).dispatched_at < first.finished_at


def test_promises_are_substituted_in_order(listed) -> None:
    one, two = listed.nodes
    assert in_order(listed.answer, ["Three reasons:", "1. Eyes:", one.result, "2. Posture:", two.result, "Done."])
    assert "<" not in listed.answer.replace(one.result, "").replace(two.result, "")
    assert listed.plan.startswith("Three reasons:\n<scope>\n1. Eyes:<promise/><async>")
    assert listed.plan.endswith("</async>\n</scope>\nDone.")


def test_the_text_after_the_scope_waits_for_its_spans_and_sees_them(listed) -> None:
    after = listed.calls[-1]
    assert after.started_at >= max(n.finished_at for n in listed.nodes)
    # the request after </scope> carries the spans' text in its prompt (substituted, then decoded)
    before = listed.calls[-2]
    assert after.prompt_tokens - before.prompt_tokens >= sum(n.completion_tokens for n in listed.nodes) // 2


def test_a_nested_scope_waits_only_for_its_own_spans(nested) -> None:
    assert nested.ok and not nested.repairs
    assert [(n.id, n.description, n.deps) for n in nested.nodes] == [
        (1, "A:", ()),
        (2, "B:", ()),
        (3, "C:", ()),
        (4, "D:", (2, 3)),  # forked after the inner scope substituted 2 and 3
    ]
    # requests: A: | B: | C: | </scope> | D: | </scope> | E.
    assert len(nested.calls) == 7
    inner_done = max(nested.node(2).finished_at, nested.node(3).finished_at)
    assert nested.calls[4].started_at >= inner_done
    assert nested.calls[6].started_at >= max(n.finished_at for n in nested.nodes)
    parts = ["A:", nested.node(1).result, "B:", nested.node(2).result, "C:", nested.node(3).result]
    assert in_order(nested.answer, [*parts, "D:", nested.node(4).result, "E."])
    assert nested.critical_path == 2 and nested.parallel_degree == 2.0


def test_an_unclosed_scope_is_closed_at_the_end(backend) -> None:
    result = pasta(backend, "<scope>Intro:<promise/> and more")
    assert result.ok and len(result.nodes) == 1 and result.node(1).finished_at <= result.wall_time
    assert in_order(result.answer, ["Intro:", result.node(1).result, " and more"])
    assert result.plan.startswith("<scope>Intro:<promise/><async>") and result.plan.endswith("</async> and more")
    assert result.repairs == ["1 <scope> left open, closed at the end of the text"]


def test_malformed_annotations_degrade_to_plain_text(backend) -> None:
    result = pasta(backend, "Start<promise/> stray</scope> end <sco")
    assert result.ok and len(result.nodes) == 1
    assert in_order(result.answer, ["Start", result.node(1).result, " stray end"])
    assert result.answer.endswith("stray end")  # the cut-off "<sco" is gone
    assert not any(word in result.answer for word in ("scope", "promise", "async"))
    assert len(result.repairs) == 2  # promise outside a scope, stray </scope>


def test_no_annotations_is_a_plain_answer(backend) -> None:
    result = pasta(backend, "Just a plain answer.")
    assert result.ok and result.answer == "Just a plain answer." and result.plan == result.answer
    assert result.nodes == [] and len(result.calls) == 1 and not result.repairs


def test_the_temperature_reaches_the_async_spans(backend) -> None:
    first, second = (
        pasta(backend, "<scope>A:<promise/></scope>", temperature=1.0, node_max_tokens=8) for _ in range(2)
    )
    assert first.node(1).result != second.node(1).result  # a random model at temperature 1 never repeats itself
