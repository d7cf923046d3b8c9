"""Streaming: answer text in reading order. The ordering logic on scripted event sequences (no
engine needed), then ``plato_sgl.stream`` against the tiny real server for every method."""

from __future__ import annotations

import pytest

import plato_sgl
from plato_sgl.core.grammar import literal_regex
from tests.polling import busy, until

PLAN = "Parts: 3\n1. Wings.[]\n2. Muscles.[]\n3. Both together.[1,2]\n"
SMALL = dict(node_max_tokens=8, max_tokens=12, plan_max_tokens=64)


def collect(**kwargs):
    events = list(plato_sgl.stream(**kwargs))
    assert events[-1].kind == "result" and all(e.kind != "result" for e in events[:-1])
    return events, events[-1].result


@pytest.mark.server
@pytest.mark.parametrize("method", ["plato", "auto", "ar", "cot", "sot", "pasta"])
def test_every_method_streams_texts_that_make_up_its_answer(backend, method):
    forced = {"plan_regex": literal_regex(PLAN)} if method in ("plato", "auto") else {}
    events, result = collect(
        question=f"How do bees fly? (stream {method})", method=method, backend=backend, **SMALL, **forced
    )
    assert result.ok and (result.answer or method == "pasta")  # the tiny model's PASTA text can be all whitespace
    assert "".join(e.text for e in events if e.kind == "text") == result.answer
    if method in ("plato", "auto", "ar", "cot", "sot"):
        assert sum(e.kind == "text" for e in events) > 1  # in pieces, not all at the end


@pytest.mark.server
def test_plato_releases_the_first_section_before_the_last_node_is_done(backend):
    events, result = collect(
        question="How do bees fly? (stream order)",
        backend=backend,
        ignore_eos=True,
        plan_regex=literal_regex(PLAN),
        **SMALL,
    )
    kinds = [
        (e.kind, e.progress.kind if e.progress else None, e.progress.node_id if e.progress else None) for e in events
    ]
    first_text = next(i for i, e in enumerate(events) if e.kind == "text")
    assert first_text < kinds.index(("progress", "done", 3))
    assert events[first_text].text.startswith("**Wings**")
    assert ("progress", "planned", None) in kinds and ("progress", "dispatched", None) in kinds


@pytest.mark.server
def test_leaving_a_stream_early_aborts_the_questions_requests(backend):
    # nodes 1 and 2 would decode 3000 tokens each (tens of seconds here); the reader leaves at the first text
    events = plato_sgl.stream(
        "How do bees fly? (stream abort)",
        backend=backend,
        node_max_tokens=3000,
        ignore_eos=True,
        plan_regex=literal_regex(PLAN),
    )
    next(e for e in events if e.kind == "text")
    assert busy(backend.base_url) > 0  # the nodes are decoding
    events.close()  # e.g. the client went away
    assert until(lambda: busy(backend.base_url) == 0, 5), "the server kept decoding the abandoned question's nodes"
