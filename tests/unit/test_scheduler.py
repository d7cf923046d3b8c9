"""The scheduler's bookkeeping, driven by a scripted source and a scripted runner: no server.

These test the scheduler's logic (ready set, dispatch order, finish order, merges, the deadline,
failures), not the engine; every method's tests against the real server are in their own files.
"""

from __future__ import annotations

import threading

import pytest

from plato_sgl.core.errors import PlatoError, PlatoTimeout
from plato_sgl.core.plan import PlanNode
from plato_sgl.core.result import Clock
from plato_sgl.core.scheduler import Deadline, Progress, Scheduler


class ScriptedRunner:
    """Records every dispatch and finish; ``finish`` decides which dispatched nodes end, and when."""

    def __init__(self, scheduler: Scheduler, finish_at_once: bool = True):
        self.scheduler = scheduler
        self.batches: list[tuple[list[int], tuple[int, ...]]] = []
        self.finishes: list[tuple[int, bool]] = []
        self.finish_at_once = finish_at_once
        self.lock = threading.Lock()

    def dispatch(self, nodes, context):
        with self.lock:
            self.batches.append(([n.id for n in nodes], context))
        if self.finish_at_once:
            for node in nodes:
                self.scheduler.node_done(node.id, f"result {node.id}", {"completion_tokens": 3}, None)

    def finished(self, record, waiting):
        self.finishes.append((record.id, waiting))


def scheduler(timeout: float | None = None, **kwargs) -> Scheduler:
    clock = Clock()
    return Scheduler(clock, Deadline(timeout, clock), **kwargs)


def test_nodes_run_in_dependency_order_and_ready_nodes_go_together():
    s = scheduler()
    runner = ScriptedRunner(s)
    s.add_nodes([PlanNode(1, "a"), PlanNode(2, "b"), PlanNode(3, "c", (1, 2)), PlanNode(4, "d", (3,))])
    s.source_finished()
    s.run(runner)
    assert [batch for batch, _ in runner.batches] == [[1, 2], [3], [4]]
    assert runner.batches[1][1] == (1, 2) and runner.batches[2][1] == (1, 2, 3)  # context: finish order
    assert s.finish_order == [1, 2, 3, 4]
    assert all(r.completion_tokens == 3 and r.result == f"result {r.id}" for r in s.plan_records())


def test_pipelining_dispatches_before_the_source_is_done_and_plan_first_does_not():
    for pipeline, first_batch in ((True, [1]), (False, [1, 2])):
        s = scheduler(pipeline=pipeline)
        runner = ScriptedRunner(s, finish_at_once=False)
        s.add_nodes([PlanNode(1, "a")])
        seen: list = []

        def later():  # the plan goes on only once the scheduler has had a chance to dispatch node 1
            import time

            time.sleep(0.2)
            seen.append(list(runner.batches))
            s.add_nodes([PlanNode(2, "b")])
            s.source_finished()
            time.sleep(0.2)
            for node_id in (1, 2):
                s.node_done(node_id, "x", {}, None)

        threading.Thread(target=later).start()
        s.run(runner)
        assert (seen[0][0][0] if seen[0] else None) == (first_batch if pipeline else None)
        assert runner.batches[0][0] == first_batch


def test_a_repeated_line_adds_its_dependencies_to_a_waiting_node():
    s = scheduler()
    runner = ScriptedRunner(s, finish_at_once=False)
    # node 3 first depends on 1 only; its repeated line adds 2 while 3 still waits for 1
    s.add_nodes([PlanNode(1, "a"), PlanNode(2, "b"), PlanNode(3, "c", (1,)), PlanNode(3, "c; more", (1, 2))])
    s.source_finished()

    def finish():
        import time

        time.sleep(0.1)
        s.node_done(1, "x", {}, None)
        time.sleep(0.2)
        s.node_done(2, "y", {}, None)
        time.sleep(0.2)
        s.node_done(3, "z", {}, None)

    threading.Thread(target=finish).start()
    s.run(runner)
    assert [batch for batch, _ in runner.batches] == [[1, 2], [3]]
    assert runner.batches[1][1] == (1, 2)  # node 3 started only after 2, the dependency its repeat declared
    assert s.records[3].deps == (1, 2) and s.records[3].description == "c; more"


def test_a_repeat_of_a_started_node_is_recorded_not_silently_dropped():
    s = scheduler()
    runner = ScriptedRunner(s, finish_at_once=False)
    s.add_nodes([PlanNode(1, "a"), PlanNode(2, "b")])

    def rest():
        import time

        time.sleep(0.2)  # node 2 has started by now
        s.add_nodes([PlanNode(2, "b again", (1,))])
        s.source_finished()
        s.node_done(1, "x", {}, None)
        s.node_done(2, "y", {}, None)

    threading.Thread(target=rest).start()
    s.run(runner)
    assert any("node 2: the dependencies [1]" in r and "not waited for" in r for r in s.repairs), s.repairs


def test_finishes_say_whether_a_known_node_still_waits_after_this_rounds_dispatch():
    s = scheduler()
    runner = ScriptedRunner(s)
    s.add_nodes([PlanNode(1, "a"), PlanNode(2, "b", (1,)), PlanNode(3, "c", (2,))])
    s.source_finished()
    s.run(runner)
    # node 1's finish: node 2 starts at once (its own request prefills the context) but node 3 still
    # waits (a prefill now is read later); node 2's: node 3 starts at once and none waits; after
    # node 3's, no node can start, so the runner is not even told
    assert runner.finishes == [(1, True), (2, False)]
    assert [batch for batch, _ in runner.batches] == [[1], [2], [3]]


def test_a_finish_while_the_plan_streams_with_nothing_waiting_asks_for_no_prefill():
    s = scheduler()
    runner = ScriptedRunner(s)
    s.add_nodes([PlanNode(1, "a")])

    def rest():
        import time

        time.sleep(0.2)  # node 1 has finished; the plan is still streaming
        s.add_nodes([PlanNode(2, "b")])
        s.source_finished()

    threading.Thread(target=rest).start()
    s.run(runner)
    assert runner.finishes[0] == (1, False)


def test_max_nodes_drops_lines_beyond_it_and_says_so():
    s = scheduler(max_nodes=2)
    runner = ScriptedRunner(s)
    s.add_nodes([PlanNode(1, "a"), PlanNode(2, "b"), PlanNode(3, "c")])
    s.source_finished()
    s.run(runner)
    assert list(s.records) == [1, 2]
    assert any("dropped plan line 3" in r for r in s.repairs)


def test_the_deadline_is_checked_on_every_event_not_only_when_idle():
    s = scheduler(timeout=0.5)
    runner = ScriptedRunner(s, finish_at_once=False)
    s.add_nodes([PlanNode(1, "a")])
    stop = threading.Event()

    def chatter():  # a source that keeps posting (revisions of node 1) and never finishes
        while not stop.is_set():
            s.add_nodes([PlanNode(1, "a")])
            stop.wait(0.01)

    threading.Thread(target=chatter, daemon=True).start()
    try:
        with pytest.raises(PlatoTimeout, match="timed out after 0.5 s"):
            s.run(runner)
    finally:
        stop.set()
    assert s.clock.now() < 0.5 + 0.5
    assert s.records[1].dispatched_at is not None and not s.records[1].finished  # what was done is kept


def test_a_failed_node_names_itself_and_keeps_what_finished():
    s = scheduler()
    runner = ScriptedRunner(s, finish_at_once=False)
    s.add_nodes([PlanNode(1, "a"), PlanNode(2, "b")])
    s.source_finished()
    s.node_done(1, "x", {}, None)
    s.node_failed(2, ConnectionError("reset"))
    with pytest.raises(PlatoError, match=r"node 2 \('b'\) failed: ConnectionError: reset"):
        s.run(runner)
    assert s.records[1].finished and s.records[1].result == "x"


def test_a_failing_source_or_action_ends_the_run_naming_it():
    s = scheduler()
    s.spawn("the plan request", lambda: (_ for _ in ()).throw(OSError("gone")))
    with pytest.raises(PlatoError, match="the plan request failed: OSError: gone"):
        s.run(ScriptedRunner(s))
    s = scheduler()
    s.act("the node prompt prefix", lambda: 1 / 0)
    with pytest.raises(PlatoError, match="the node prompt prefix failed: ZeroDivisionError"):
        s.run(ScriptedRunner(s))


def test_waiters_are_released_when_their_nodes_finish_or_the_run_ends():
    s = scheduler()
    runner = ScriptedRunner(s, finish_at_once=False)
    s.add_nodes([PlanNode(1, "a"), PlanNode(2, "b")])
    outcomes: list = []

    def scope():  # a PASTA-style source: it waits for its promises, then ends
        s.wait_finished([1])
        outcomes.append("1 done")
        s.source_finished()

    threading.Thread(target=scope).start()
    s.node_done(1, "x", {}, None)
    s.node_failed(2, RuntimeError("boom"))
    with pytest.raises(PlatoError):
        s.run(runner)
    blocked: list = []

    def late():
        try:
            s.wait_finished([2])
        except PlatoError as exc:
            blocked.append(str(exc))

    waiter = threading.Thread(target=late)
    waiter.start()
    waiter.join(5)
    assert not waiter.is_alive() and blocked and "ended before" in blocked[0]


def test_deadline_call_raises_in_time_and_passes_results_and_errors_through():
    clock = Clock()
    deadline = Deadline(0.3, clock)
    assert deadline.call("quick", lambda: 42) == 42
    with pytest.raises(KeyError):
        deadline.call("failing", lambda: {}["x"])
    with pytest.raises(PlatoTimeout, match=r"timed out after 0.3 s \(the hung call\)"):
        deadline.call("the hung call", threading.Event().wait)
    assert clock.now() < 0.3 + 0.5
    assert issubclass(PlatoTimeout, TimeoutError) and issubclass(PlatoTimeout, PlatoError)


def test_on_event_sees_each_node_each_dispatch_and_each_finish_in_order():
    events: list[Progress] = []
    s = scheduler(on_event=events.append)
    runner = ScriptedRunner(s)
    s.add_nodes([PlanNode(1, "a"), PlanNode(2, "b"), PlanNode(3, "c", (1, 2))])
    s.source_finished()
    s.run(runner)
    seen = [(e.kind, e.node_id, e.node_ids) for e in events]
    assert seen == [
        ("node", 1, ()),
        ("node", 2, ()),
        ("node", 3, ()),
        ("planned", None, ()),  # the source ended: no node comes after it
        ("dispatched", None, (1, 2)),
        ("done", 1, ()),
        ("done", 2, ()),
        ("dispatched", None, (3,)),
        ("done", 3, ()),
    ]
    assert [(e.description, e.deps) for e in events if e.kind == "node"] == [("a", ()), ("b", ()), ("c", (1, 2))]
    assert all(e.tokens == 3 and e.text == f"result {e.node_id}" for e in events if e.kind == "done")
    times = [e.at for e in events]
    assert times == sorted(times) and all(t >= 0 for t in times)  # on the question's clock, as they happened
    records = s.records
    assert [e.at for e in events if e.kind == "done"] == [records[i].finished_at for i in (1, 2, 3)]
    assert events[4].at == records[1].dispatched_at == records[2].dispatched_at


def test_on_event_tells_a_revised_line_and_a_failure():
    events: list[Progress] = []
    s = scheduler(on_event=events.append)
    runner = ScriptedRunner(s, finish_at_once=False)
    runner.dispatch = lambda nodes, context: s.node_failed(1, ConnectionError("reset"))
    s.add_nodes(
        [PlanNode(1, "a"), PlanNode(2, "b", (1,)), PlanNode(2, "b again", ())]
    )  # the repeat drops the dependency
    s.source_finished()
    with pytest.raises(PlatoError, match="node 1"):
        s.run(runner)
    assert [(e.kind, e.node_id, e.description) for e in events] == [
        ("node", 1, "a"),
        ("node", 2, "b"),
        ("node", 2, "b again"),
        ("planned", None, ""),
        ("dispatched", None, ""),
        ("failed", 1, "a"),
    ]
    assert events[4].node_ids == (1, 2)
    assert events[-1].text == "ConnectionError: reset"
    events.clear()
    s = scheduler(on_event=events.append)
    s.spawn("the plan request", lambda: (_ for _ in ()).throw(OSError("gone")))
    with pytest.raises(PlatoError, match="the plan request failed"):
        s.run(ScriptedRunner(s))
    assert [(e.kind, e.node_id, e.description, e.text) for e in events] == [
        ("failed", None, "the plan request", "OSError: gone")
    ]


def test_a_raising_callback_is_warned_about_once_and_does_not_break_the_run():
    calls: list[str] = []

    def broken(progress: Progress) -> None:
        calls.append(progress.kind)
        raise ValueError("display bug")

    s = scheduler(on_event=broken)
    runner = ScriptedRunner(s)
    s.add_nodes([PlanNode(1, "a"), PlanNode(2, "b", (1,))])
    s.source_finished()
    with pytest.warns(RuntimeWarning, match="progress callback raised ValueError: display bug") as caught:
        s.run(runner)
    assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1
    assert s.finish_order == [1, 2] and all(r.result for r in s.plan_records())
    assert calls == ["node", "node", "planned", "dispatched", "done", "dispatched", "done"]  # still told everything


def test_a_streaming_cap_holds_nodes_back_until_the_plan_ends_or_a_slot_frees():
    s = scheduler(streaming_cap=1)
    runner = ScriptedRunner(s, finish_at_once=False)
    seen: list = []

    def plan_and_nodes():
        import time

        s.add_nodes([PlanNode(1, "a"), PlanNode(2, "b"), PlanNode(3, "c", (2,))])
        time.sleep(0.2)
        seen.append(
            [batch for batch, _ in runner.batches]
        )  # one slot while the plan streams: node 2 (node 3 waits on it)
        s.node_done(2, "x", {}, None)
        time.sleep(0.2)
        seen.append([batch for batch, _ in runner.batches])  # the freed slot: nodes 1 and 3 tie (nothing behind them)
        s.source_finished()
        time.sleep(0.2)
        seen.append([batch for batch, _ in runner.batches])
        for node_id in (1, 3):
            s.node_done(node_id, "x", {}, None)

    threading.Thread(target=plan_and_nodes).start()
    s.run(runner)
    assert seen[0] == [[2]]
    assert seen[1] == [[2], [1]]  # ties go in plan order
    assert seen[2] == [[2], [1], [3]]  # the plan ended: every ready node starts
    assert sorted(s.finish_order) == [1, 2, 3]
