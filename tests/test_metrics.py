"""The efficiency metrics on fixed, hand-computed inputs (no server)."""

from __future__ import annotations

import pytest

from plato_sgl import metrics
from plato_sgl.result import Call, NodeRecord, Result


def node(id, deps=(), parsed=0.0, dispatched=0.0, started=0.0, finished=1.0, prompt=0, cached=0, out=0):
    return NodeRecord(id=id, description=f"n{id}", deps=tuple(deps), parsed_at=parsed, dispatched_at=dispatched,
                      started_at=started, finished_at=finished, prompt_tokens=prompt, cached_tokens=cached, completion_tokens=out)


def answer(tokens: int, seconds: float) -> Result:
    return Result(question="q", method="ar", calls=[Call(kind="answer", completion_tokens=tokens)], wall_time=seconds)


def test_throughput_is_total_tokens_over_total_time_not_a_mean_of_rates():
    results = [answer(100, 1.0), answer(100, 3.0)]
    assert metrics.throughput(results) == pytest.approx(200 / 4.0)  # a mean of rates would be 66.7
    assert metrics.throughput([]) == 0.0


def test_speedup_compares_throughputs():
    assert metrics.speedup([answer(300, 2.0)], [answer(100, 1.0)]) == pytest.approx(1.5)
    assert metrics.speedup([answer(1, 1.0)], [answer(0, 1.0)]) == 0.0


def test_parallel_degree_and_inference_efficiency():
    plato = Result(question="q", method="plato", nodes=[node(1), node(2)], parallel_degree=2.0,
                   calls=[Call(kind="plan", completion_tokens=40)], wall_time=2.0)
    plato.nodes[0].completion_tokens = plato.nodes[1].completion_tokens = 80
    ar = answer(100, 2.0)
    assert metrics.mean_parallel_degree([plato, ar]) == pytest.approx(1.5)  # AR counts as 1
    assert metrics.inference_efficiency([plato]) == pytest.approx((200 / 2.0) / 2.0)


def test_extra_prefill_counts_node_side_requests_only():
    result = Result(
        question="q", method="plato",
        nodes=[node(1, prompt=100, cached=90), node(2, prompt=120, cached=100)],
        calls=[Call(kind="plan", prompt_tokens=500), Call(kind="context", prompt_tokens=110, cached_tokens=100)],
    )
    assert metrics.extra_prefill_tokens(result) == 10 + 20 + 10  # the plan's prompt is not "extra"


def test_prefill_time_share_and_latencies():
    result = Result(question="q", method="plato", plan_done_at=3.0,
                    nodes=[node(1, dispatched=1.0, started=1.5, finished=3.0), node(2, dispatched=2.0, started=2.5, finished=4.0)])
    assert metrics.prefill_time_share(result) == pytest.approx(1.0 / 4.0)
    assert metrics.planning_latency(result) == 3.0
    assert metrics.first_dispatch(result) == 1.0
    assert metrics.prefill_time_share(Result(question="q", method="ar")) is None


def test_scheduling_efficiency_is_one_for_a_perfect_schedule():
    # 1 and 2 parsed at 0 and 1 and decoding at once; 3 needs both and decodes from the moment 2 ends.
    # 1 and 2 decode in one batch: their measured (slower, batched) times are the ideal's times too.
    result = Result(question="q", method="plato", nodes=[
        node(1, parsed=0.0, dispatched=0.0, started=0.0, finished=2.0),
        node(2, parsed=1.0, dispatched=1.0, started=1.0, finished=4.0),
        node(3, deps=(1, 2), parsed=1.5, dispatched=4.0, started=4.0, finished=5.0),
    ])
    assert metrics.scheduling_efficiency(result) == pytest.approx(1.0)


def test_scheduling_efficiency_drops_when_a_ready_node_waits_for_dispatch():
    # node 2 could start at 2 (its line was parsed at 1, node 1 ended at 2) but was dispatched at 10
    result = Result(question="q", method="plato", nodes=[
        node(1, parsed=0.0, dispatched=0.0, started=0.0, finished=2.0),
        node(2, deps=(1,), parsed=1.0, dispatched=10.0, started=10.0, finished=12.0),
    ])
    # ideal: 1 runs 0-2, 2 runs 2-4 -> 4; measured 0-12
    assert metrics.scheduling_efficiency(result) == pytest.approx(4 / 12)


def test_scheduling_efficiency_of_plan_then_execute_is_below_one():
    # node 1 was parsed at 0 but only dispatched at 4, when the plan ended
    result = Result(question="q", method="plato", plan_done_at=4.0, nodes=[
        node(1, parsed=0.0, dispatched=4.0, started=4.0, finished=6.0),
        node(2, deps=(1,), parsed=1.0, dispatched=6.0, started=6.0, finished=8.0),
    ])
    # ideal: 1 runs 0-2, 2 runs 2-4 -> 4; measured 0-8
    assert metrics.scheduling_efficiency(result) == pytest.approx(0.5)
    assert metrics.scheduling_efficiency(Result(question="q", method="ar")) is None


def test_scheduling_efficiency_counts_waiting_for_the_first_token_on_the_critical_path():
    # dispatched the moment they were ready, yet node 2 had its first token 3 s later (queued
    # behind a context prefill, say): a greedy dispatcher does not make the schedule ideal
    result = Result(question="q", method="plato", nodes=[
        node(1, parsed=0.0, dispatched=0.0, started=0.0, finished=2.0),
        node(2, deps=(1,), parsed=1.0, dispatched=2.0, started=5.0, finished=7.0),
    ])
    # ideal: 1 decodes 0-2, 2 decodes 2-4 -> 4; measured 0-7
    assert metrics.scheduling_efficiency(result) == pytest.approx(4 / 7)
    # the same wait off the critical path costs nothing: 3 still ends before 2 would have
    result.nodes.append(node(3, parsed=1.0, dispatched=1.0, started=3.5, finished=4.0))
    assert metrics.scheduling_efficiency(result) == pytest.approx(4 / 7)


def test_scheduling_efficiency_without_first_token_times_counts_from_dispatch():
    # a backend that reports no first token (started_at None): the node decodes from its dispatch
    result = Result(question="q", method="sot", nodes=[
        node(1, parsed=0.0, dispatched=1.0, started=None, finished=3.0),
        node(2, parsed=0.0, dispatched=1.0, started=None, finished=4.0),
    ])
    assert metrics.scheduling_efficiency(result) == pytest.approx(3 / 4)
    result.nodes[0].finished_at = None  # an unfinished node: nothing to measure
    assert metrics.scheduling_efficiency(result) is None


def test_mean_of_skips_missing_values():
    assert metrics.mean_of([1.0, None, 3.0]) == 2.0
    assert metrics.mean_of([None]) is None
