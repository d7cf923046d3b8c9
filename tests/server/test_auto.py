"""``auto``: its decisions as pure functions, and each of its paths against a real SGLang server.

Server tests use the tiny random model with a forced plan (a literal ``plan_regex``), so the plan
that auto reads is known: a one-part plan, a chain-shaped plan and a parallel plan each take the
path built for them; a math word problem is answered plainly without a plan request.
"""

from __future__ import annotations

import pytest

import plato_sgl
from plato_sgl.core.grammar import literal_regex

# -- decisions, no server ------------------------------------------------------------------------


SETTINGS = dict(node_max_tokens=6, max_tokens=8, ignore_eos=True)


def auto(backend, question: str, plan: str | None = None) -> plato_sgl.Result:
    forced = {"plan_regex": literal_regex(plan)} if plan else {}
    return plato_sgl.run(question, method="auto", backend=backend, **SETTINGS, **forced)


@pytest.mark.server
def test_a_one_part_plan_takes_the_plain_path_and_decodes_no_node(backend):
    result = auto(backend, "What is a library for? (auto, one part)", "Parts: 1\n1. Its purpose.[]\n")
    assert result.ok and result.method == "auto"
    assert result.route == "plain" and "1 part" in result.route_reason
    assert result.nodes == [] and [c.kind for c in result.calls if c.kind != "context"] == ["plan", "answer"]
    assert result.answer and result.calls[1].completion_tokens == 8  # the plain answer, as ar's request
    assert result.calls[0].finished_at is not None  # the plan request's counts are kept


@pytest.mark.server
@pytest.mark.parametrize("method", ["auto", "plato"])
def test_a_plain_decision_stops_the_rest_of_the_plan(backend, method):
    # decided at "Parts: 1": the long line after it would otherwise decode beside the plain answer
    plan = "Parts: 1\n1. " + "Survey the readers of the library and their needs, " * 12 + "then decide.[]\n"
    result = plato_sgl.run(
        f"What is a library for? ({method}, long plan)",
        method=method,
        backend=backend,
        plan_regex=literal_regex(plan),
        **SETTINGS,
    )
    plan_call, answer_call = result.calls[0], result.calls[1]
    assert result.route == "plain" and result.nodes == [] and result.answer
    assert plan_call.kind == "plan" and plan_call.finish_reason == "abort" and plan_call.stopped
    assert result.plan.startswith("Parts: 1\n") and len(result.plan) < len(plan)
    assert result.ok and result.aborted() == [] and result.error is None and result.repairs == []
    assert answer_call.kind == "answer" and answer_call.finish_reason == "length" and answer_call.completion_tokens == 8


@pytest.mark.server
def test_plato_answers_a_one_part_plan_with_one_plain_request_within_the_answer_budget(backend):
    result = plato_sgl.run(
        "What is a library for? (plato, one part)",
        backend=backend,
        node_max_tokens=6,
        max_tokens=8,
        answer_max_tokens=5,
        ignore_eos=True,
        plan_regex=literal_regex("Parts: 1\n1. Its purpose.[]\n"),
    )
    assert result.ok and result.method == "plato" and result.route == "plain" and result.plan_size == 1
    assert result.nodes == [] and [c.kind for c in result.calls if c.kind != "context"] == ["plan", "answer"]
    assert result.calls[1].completion_tokens == 5


@pytest.mark.server
def test_a_chain_shaped_plan_takes_the_plain_path(backend):
    result = auto(
        backend,
        "How should a library grow? (auto, chain)",
        "Parts: 3\n1. Survey readers.[]\n2. Choose services.[1]\n3. Plan the budget.[2]\n",
    )
    assert result.route == "plain" and "chain" in result.route_reason
    assert result.nodes == [] and [c.kind for c in result.calls if c.kind != "context"] == ["plan", "answer"]


@pytest.mark.server
def test_a_parallel_plan_takes_the_plato_path(backend):
    plan = "Parts: 3\n1. Survey readers.[]\n2. Review the budget.[]\n3. Choose services.[1,2]\n"
    result = auto(backend, "How should a library grow? (auto, parallel)", plan)
    assert result.route == "plato" and result.route_reason is None
    assert [n.id for n in result.nodes] == [1, 2, 3] and all(n.completion_tokens == 6 for n in result.nodes)
    assert result.plan_size == 3
    # nodes were held until the route was decided at line 2, then forked together
    one, two = result.node(1), result.node(2)
    assert one.dispatched_at == two.dispatched_at >= two.parsed_at


@pytest.mark.server
def test_a_plan_sized_beyond_a_chain_takes_platos_path_without_its_second_line(backend):
    # the plan ends after its first line: only a decision made at "Parts: 4" goes on with Plato
    # (waiting for line 2 would have found one usable part and answered plainly)
    result = auto(backend, "How should a library grow? (auto, four parts)", "Parts: 4\n1. Survey readers.[]\n")
    assert result.route == "plato" and result.route_reason is None and result.plan_size == 4
    assert [n.id for n in result.nodes] == [1] and result.node(1).completion_tokens == 6


@pytest.mark.server
def test_a_math_word_problem_is_answered_without_a_plan(backend):
    result = auto(backend, "Tom has 3 apples and buys 5 more. How many apples does he have in total?")
    assert result.route == "plain" and "math" in result.route_reason
    assert [c.kind for c in result.calls] == ["answer"] and result.nodes == []


@pytest.mark.server
def test_auto_reports_its_route_to_on_progress(backend):
    seen = []
    plato_sgl.run(
        "What is a library for? (auto, progress)",
        method="auto",
        backend=backend,
        on_progress=seen.append,
        plan_regex=literal_regex("Parts: 1\n1. Its purpose.[]\n"),
        **SETTINGS,
    )
    assert [e.text for e in seen if e.kind == "route"] == [next(e.text for e in seen if e.kind == "route")]
    assert any(e.kind == "route" and e.text.startswith("plain:") for e in seen)


@pytest.mark.server
def test_auto_answers_plainly_while_the_server_is_busy_and_plans_when_it_is_not(backend):
    import threading
    import time

    import requests

    from plato_sgl.engine.http import abort_requests, queued_requests

    url = backend.base_url
    plan = "Parts: 3\n1. Survey readers.[]\n2. Review the budget.[]\n3. Choose services.[1,2]\n"
    busy = {
        "text": "Count slowly.",
        "rid": "busy-for-auto-load-test",
        "sampling_params": {"max_new_tokens": 3500, "ignore_eos": True, "temperature": 0},
    }
    worker = threading.Thread(target=lambda: requests.post(f"{url}/generate", json=busy, timeout=600), daemon=True)
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while (queued_requests(url) or 0) < 1:  # a bounded wait for the request to reach the scheduler
            assert time.monotonic() < deadline, "the busy request never showed in /v1/loads"
            time.sleep(0.2)
        busy_result = plato_sgl.run(
            "How should a library grow? (auto, busy)",
            method="auto",
            backend=backend,
            auto_max_load=0.5,
            plan_regex=literal_regex(plan),
            **SETTINGS,
        )
    finally:
        abort_requests(url, [busy["rid"]])
        worker.join(60)
    assert busy_result.route == "plain" and "the server is busy" in busy_result.route_reason
    assert [c.kind for c in busy_result.calls] == ["answer"] and busy_result.nodes == []  # no plan was asked for

    deadline = time.monotonic() + 60
    while queued_requests(url) != 0:
        assert time.monotonic() < deadline, "the server did not become idle"
        time.sleep(0.2)
    idle = plato_sgl.run(
        "How should a library grow? (auto, idle)",
        method="auto",
        backend=backend,
        auto_max_load=0.5,
        plan_regex=literal_regex(plan),
        **SETTINGS,
    )
    assert idle.route == "plato" and len(idle.nodes) == 3
