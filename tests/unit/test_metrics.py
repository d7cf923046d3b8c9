"""The efficiency metrics on fixed, hand-computed inputs (no server)."""

from __future__ import annotations

import pytest

from plato_sgl.core.result import Call, NodeRecord, Result
from plato_sgl.evaluation import metrics


def node(id, deps=(), parsed=0.0, dispatched=0.0, started=0.0, finished=1.0, prompt=0, cached=0, out=0):
    return NodeRecord(
        id=id,
        description=f"n{id}",
        deps=tuple(deps),
        parsed_at=parsed,
        dispatched_at=dispatched,
        started_at=started,
        finished_at=finished,
        prompt_tokens=prompt,
        cached_tokens=cached,
        completion_tokens=out,
    )


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
    plato = Result(
        question="q",
        method="plato",
        nodes=[node(1), node(2)],
        parallel_degree=2.0,
        calls=[Call(kind="plan", completion_tokens=40)],
        wall_time=2.0,
    )
    plato.nodes[0].completion_tokens = plato.nodes[1].completion_tokens = 80
    ar = answer(100, 2.0)
    assert metrics.mean_parallel_degree([plato, ar]) == pytest.approx(1.5)  # AR counts as 1
    assert metrics.inference_efficiency([plato]) == pytest.approx((200 / 2.0) / 2.0)


def test_extra_prefill_counts_node_side_requests_only():
    result = Result(
        question="q",
        method="plato",
        nodes=[node(1, prompt=100, cached=90), node(2, prompt=120, cached=100)],
        calls=[Call(kind="plan", prompt_tokens=500), Call(kind="context", prompt_tokens=110, cached_tokens=100)],
    )
    assert metrics.extra_prefill_tokens(result) == 10 + 20 + 10  # the plan's prompt is not "extra"


def test_prefill_time_share_and_latencies():
    result = Result(
        question="q",
        method="plato",
        plan_done_at=3.0,
        nodes=[node(1, dispatched=1.0, started=1.5, finished=3.0), node(2, dispatched=2.0, started=2.5, finished=4.0)],
    )
    assert metrics.prefill_time_share(result) == pytest.approx(1.0 / 4.0)
    assert metrics.planning_latency(result) == 3.0
    assert metrics.first_dispatch(result) == 1.0
    assert metrics.prefill_time_share(Result(question="q", method="ar")) is None


def test_scheduling_efficiency_is_one_for_a_perfect_schedule():
    # 1 and 2 parsed at 0 and 1 and decoding at once; 3 needs both and decodes from the moment 2 ends.
    # 1 and 2 decode in one batch: their measured (slower, batched) times are the ideal's times too.
    result = Result(
        question="q",
        method="plato",
        nodes=[
            node(1, parsed=0.0, dispatched=0.0, started=0.0, finished=2.0),
            node(2, parsed=1.0, dispatched=1.0, started=1.0, finished=4.0),
            node(3, deps=(1, 2), parsed=1.5, dispatched=4.0, started=4.0, finished=5.0),
        ],
    )
    assert metrics.scheduling_efficiency(result) == pytest.approx(1.0)


def test_scheduling_efficiency_drops_when_a_ready_node_waits_for_dispatch():
    # node 2 could start at 2 (its line was parsed at 1, node 1 ended at 2) but was dispatched at 10
    result = Result(
        question="q",
        method="plato",
        nodes=[
            node(1, parsed=0.0, dispatched=0.0, started=0.0, finished=2.0),
            node(2, deps=(1,), parsed=1.0, dispatched=10.0, started=10.0, finished=12.0),
        ],
    )
    # ideal: 1 runs 0-2, 2 runs 2-4 -> 4; measured 0-12
    assert metrics.scheduling_efficiency(result) == pytest.approx(4 / 12)


def test_scheduling_efficiency_of_plan_then_execute_is_below_one():
    # node 1 was parsed at 0 but only dispatched at 4, when the plan ended
    result = Result(
        question="q",
        method="plato",
        plan_done_at=4.0,
        nodes=[
            node(1, parsed=0.0, dispatched=4.0, started=4.0, finished=6.0),
            node(2, deps=(1,), parsed=1.0, dispatched=6.0, started=6.0, finished=8.0),
        ],
    )
    # ideal: 1 runs 0-2, 2 runs 2-4 -> 4; measured 0-8
    assert metrics.scheduling_efficiency(result) == pytest.approx(0.5)
    assert metrics.scheduling_efficiency(Result(question="q", method="ar")) is None


def test_scheduling_efficiency_counts_waiting_for_the_first_token_on_the_critical_path():
    # dispatched the moment they were ready, yet node 2 had its first token 3 s later (queued
    # behind a context prefill, say): a greedy dispatcher does not make the schedule ideal
    result = Result(
        question="q",
        method="plato",
        nodes=[
            node(1, parsed=0.0, dispatched=0.0, started=0.0, finished=2.0),
            node(2, deps=(1,), parsed=1.0, dispatched=2.0, started=5.0, finished=7.0),
        ],
    )
    # ideal: 1 decodes 0-2, 2 decodes 2-4 -> 4; measured 0-7
    assert metrics.scheduling_efficiency(result) == pytest.approx(4 / 7)
    # the same wait off the critical path costs nothing: 3 still ends before 2 would have
    result.nodes.append(node(3, parsed=1.0, dispatched=1.0, started=3.5, finished=4.0))
    assert metrics.scheduling_efficiency(result) == pytest.approx(4 / 7)


def test_scheduling_efficiency_without_first_token_times_counts_from_dispatch():
    # a backend that reports no first token (started_at None): the node decodes from its dispatch
    result = Result(
        question="q",
        method="sot",
        nodes=[
            node(1, parsed=0.0, dispatched=1.0, started=None, finished=3.0),
            node(2, parsed=0.0, dispatched=1.0, started=None, finished=4.0),
        ],
    )
    assert metrics.scheduling_efficiency(result) == pytest.approx(3 / 4)
    result.nodes[0].finished_at = None  # an unfinished node: nothing to measure
    assert metrics.scheduling_efficiency(result) is None


def test_mean_of_skips_missing_values():
    assert metrics.mean_of([1.0, None, 3.0]) == 2.0
    assert metrics.mean_of([None]) is None


# What the user waits for (issue 16): latency, length, truncation, plan shape.

CAPS = {"max_tokens": 100, "node_max_tokens": 10}


def timed(
    seconds: float, method: str = "ar", tokens: int = 0, nodes=(), answer_text: str = "", plan_done=None, calls=None
) -> Result:
    calls = calls if calls is not None else ([] if nodes else [Call(kind="answer", completion_tokens=tokens)])
    return Result(
        question="q",
        method=method,
        wall_time=seconds,
        nodes=list(nodes),
        calls=calls,
        answer=answer_text,
        plan_done_at=plan_done,
        options=dict(CAPS),
    )


def test_percentile_and_latency_summary():
    assert metrics.percentile([], 50) is None
    assert metrics.percentile([7.0], 90) == 7.0
    assert metrics.percentile([4.0, 1.0, 3.0, 2.0], 50) == pytest.approx(2.5)
    assert metrics.percentile(range(1, 11), 90) == pytest.approx(9.1)  # rank 8.1 between 9 and 10, as numpy
    summary = metrics.latency_summary([timed(s) for s in (1.0, 2.0, 3.0, 4.0, 10.0)])
    assert summary == {"mean": pytest.approx(4.0), "median": 3.0, "p90": pytest.approx(7.6)}
    assert metrics.latency_summary([]) == {"mean": None, "median": None, "p90": None}


def test_latency_speedups_are_matched_by_question():
    ar = {"1": timed(10.0), "2": timed(20.0), "3": timed(30.0), "only-ar": timed(1000.0)}
    plato = {
        "1": timed(5.0, "plato"),
        "2": timed(40.0, "plato"),
        "3": timed(90.0, "plato"),
        "only-plato": timed(1.0, "plato"),
    }
    pairs = metrics.paired(plato, ar)
    assert [(r.wall_time, b.wall_time) for r, b in pairs] == [(5.0, 10.0), (40.0, 20.0), (90.0, 30.0)]
    assert metrics.total_time_speedup(pairs) == pytest.approx(60.0 / 135.0)  # not a mean of per-question ratios
    assert metrics.median_latency_ratio(pairs) == pytest.approx(2.0)  # ratios 0.5, 2, 3
    assert metrics.answered_sooner(pairs) == 1
    assert metrics.total_time_speedup([]) is None and metrics.median_latency_ratio([]) is None


def test_answer_length_counts_the_answer_requests_not_the_plan():
    nodes = [node(1, out=30), node(2, out=50)]
    plato = timed(
        1.0,
        "plato",
        nodes=nodes,
        answer_text="one two\nthree  four",
        calls=[Call(kind="plan", completion_tokens=40), Call(kind="context")],
    )
    assert metrics.answer_tokens(plato) == 80 and plato.completion_tokens == 120
    assert metrics.answer_words(plato) == 4
    assert metrics.plan_tokens(plato) == 40 and metrics.plan_tokens(timed(1.0, tokens=5)) is None
    fallback = timed(
        1.0, "plato", calls=[Call(kind="plan", completion_tokens=9), Call(kind="fallback", completion_tokens=60)]
    )
    assert metrics.answer_tokens(fallback) == 60
    pasta = timed(
        1.0,
        "pasta",
        nodes=[node(1, out=7)],
        calls=[Call(kind="main", completion_tokens=20), Call(kind="main", completion_tokens=5)],
    )
    assert metrics.answer_tokens(pasta) == 32
    ar = {"1": timed(1.0, tokens=40, answer_text="a b"), "2": timed(1.0, tokens=100, answer_text="a b c d")}
    mine = {
        "1": timed(1.0, "plato", nodes=[node(1, out=80)], answer_text="a b c d"),
        "2": timed(1.0, "plato", nodes=[node(1, out=100)], answer_text="a b c d e f"),
    }
    pairs = metrics.paired(mine, ar)
    assert metrics.median_ratio(pairs, metrics.answer_tokens) == pytest.approx(1.5)  # ratios 2 and 1
    assert metrics.median_ratio(pairs, metrics.answer_words) == pytest.approx(1.75)  # ratios 2 and 1.5


def test_truncation_is_reaching_the_cap_from_the_options():
    plato = timed(
        1.0,
        "plato",
        nodes=[node(1, out=10), node(2, out=9), node(3, out=10)],
        calls=[Call(kind="plan", completion_tokens=100)],
    )
    assert metrics.truncation(plato) == {"node": (2, 3), "answer": (0, 0)}  # the plan's cap is not max_tokens
    assert metrics.truncation(timed(1.0, tokens=100)) == {"node": (0, 0), "answer": (1, 1)}
    assert metrics.truncation(timed(1.0, tokens=99)) == {"node": (0, 0), "answer": (0, 1)}
    pasta = timed(
        1.0, "pasta", calls=[Call(kind="main", completion_tokens=60), Call(kind="main", completion_tokens=40)]
    )
    assert metrics.truncation(pasta)["answer"] == (1, 1)  # one branch over a shared budget
    uncapped = timed(1.0, tokens=5000)
    uncapped.options = {}
    assert metrics.truncation(uncapped)["answer"] == (0, 1)
    assert metrics.truncation_totals([plato, timed(1.0, tokens=100), timed(1.0, tokens=3)]) == {
        "node": (2, 3),
        "answer": (1, 2),
    }


def test_node_counts_duplicates_and_plan_share():
    def plan(*descriptions):
        return timed(
            10.0,
            "plato",
            nodes=[NodeRecord(id=i, description=d) for i, d in enumerate(descriptions, start=1)],
            plan_done=4.0,
        )

    results = [plan("a", "b"), plan("a", "b", "c"), plan("x", "y"), timed(1.0)]
    assert metrics.node_count_distribution(results) == {2: 2, 3: 1}
    assert list(metrics.node_count_distribution([plan("a", "b", "c"), plan("a")])) == [1, 3]
    assert metrics.normalise_description("  Use a  Timer. ") == "use a timer"
    repeated = plan("Use a timer.", "Take breaks", "use a   TIMER", "Take breaks!", "Use a timer to focus")
    assert metrics.duplicate_subtasks(repeated) == 2
    assert metrics.duplicate_subtasks(plan("a", "b")) == 0
    assert metrics.plan_latency_share(plan("a")) == pytest.approx(0.4)
    assert metrics.plan_latency_share(timed(1.0)) is None


def test_the_first_answer_token_is_the_first_section_s_or_the_single_answer_s():
    from plato_sgl.core.result import Call, NodeRecord, Result
    from plato_sgl.evaluation.metrics import first_answer_token

    sectioned = Result(
        question="q",
        method="plato",
        wall_time=9.0,
        nodes=[NodeRecord(id=2, description="b", started_at=1.0), NodeRecord(id=1, description="a", started_at=2.5)],
    )
    assert first_answer_token(sectioned) == 2.5  # node 1 is read first, even though node 2 started sooner
    plain = Result(
        question="q",
        method="auto",
        wall_time=9.0,
        calls=[Call(kind="plan", first_token_at=0.2), Call(kind="answer", first_token_at=3.0)],
    )
    assert first_answer_token(plain) == 3.0
    assert first_answer_token(Result(question="q", method="pasta", wall_time=9.0)) == 9.0  # spliced at the end
    assert first_answer_token(Result(question="q", method="ar", calls=[Call(kind="answer")])) is None  # not recorded


def test_section_overlap_counts_the_word_trigrams_that_stand_in_another_section():
    from plato_sgl.evaluation.metrics import section_overlap, sections

    def plan(*texts):
        return Result(
            question="q",
            method="plato",
            nodes=[NodeRecord(id=i, description=f"part {i}", result=t) for i, t in enumerate(texts, 1)],
        )

    # 4 of 5 trigrams of each node are shared: "the cat sat", "cat sat on", "sat on the", "on the mat"
    assert section_overlap(plan("the cat sat on the mat today", "the cat sat on the mat yesterday")) == 0.8
    assert section_overlap(plan("apples grow on trees in autumn", "rivers run down to the sea")) == 0.0
    assert section_overlap(plan("the same words here", "the same words here")) == 1.0
    # a single answer is measured over its paragraphs; one section has nothing to repeat
    single = Result(question="q", method="ar", answer="one two three four\n\nthree four five six")
    assert sections(single) == ["one two three four", "three four five six"] and section_overlap(single) == 0.0
    assert section_overlap(Result(question="q", method="ar", answer="just one paragraph here")) is None
    assert section_overlap(plan("", "a b c d")) is None  # an empty node is no section


def test_the_batch_gain_is_read_between_measured_batch_sizes():
    decode = {1: 10.0, 2: 18.0, 4: 30.0, 8: 40.0}
    assert metrics.batch_gain(decode, 1) == 1.0
    assert metrics.batch_gain(decode, 3) == pytest.approx(2.4)  # halfway from 1.8x to 3.0x
    assert metrics.batch_gain(decode, 16) == 4.0  # flat beyond the largest size measured
    assert metrics.batch_gain({2: 18.0}, 2) is None


@pytest.mark.parametrize(
    "route, reason, deps, group",
    [
        (
            "plain",
            "the plan's size decision was 1 part: nothing to decode in parallel",
            [],
            "plain: the plan's size decision was 1 part",
        ),
        ("plain", "a chain: part 2 of a 3-part plan needs part 1", [], "plain: a chain"),
        ("plato", None, [(), ()], "parts side by side"),
        ("plato", None, [(), (1,)], "parts with dependencies"),
        (None, None, [(), (), ()], "parts side by side"),
        (None, None, [], "single request"),
    ],
)
def test_route_group_names_the_path_and_the_kind_of_reason(route, reason, deps, group):
    result = Result(
        question="q",
        method="auto",
        route=route,
        route_reason=reason,
        nodes=[node(i + 1, d) for i, d in enumerate(deps)],
    )
    assert metrics.route_group(result) == group


def test_the_path_table_puts_each_path_beside_the_baseline_on_the_same_questions():
    from plato_sgl.evaluation.datasets import Question
    from plato_sgl.evaluation.records import Row
    from plato_sgl.evaluation.report.tables import route_lines

    def row(qid, variant, result):
        return Row(Question(id=qid, text=f"q{qid}"), variant, result)

    plan = [node(1, out=50), node(2, out=50)]
    auto = {
        "1": Result(question="q1", method="auto", route="plato", nodes=plan, wall_time=10.0, parallel_degree=2.0),
        "2": Result(question="q2", method="auto", route="plato", nodes=plan, wall_time=10.0, parallel_degree=2.0),
        "3": Result(
            question="q3", method="auto", route="plain", route_reason="a math word problem: steps", wall_time=30.0
        ),
    }
    rows = {
        "ar": {q: row(q, "ar", answer(100, 20.0)) for q in "123"},
        "auto": {q: row(q, "auto", r) for q, r in auto.items()},
    }
    table = "\n".join(route_lines(rows))
    assert "| auto | parts side by side | 2 | 20.0 s | 10.0 s | 2.00x | 2 | 100 | 100 | 2.00 |" in table
    assert "| auto | plain: a math word problem | 1 | 20.0 s | 30.0 s | 0.67x | 0 | 100 | 0 | - |" in table
    assert route_lines({"ar": rows["ar"]}) == []  # no method that routes: no section
