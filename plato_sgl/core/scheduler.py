"""The event-driven DAG scheduler that every parallel method runs on.

A method gives it two things: a *source* of nodes (Plato's plan stream, SoT's skeleton, PASTA's
promises), which posts nodes with their dependencies as they become known and says when it is done,
and a *runner* that starts a batch of ready nodes (forks on the server) and posts each node's
outcome. The scheduler owns the rest: the ready set, dispatch order, finish order, the deadline and
the partial Result's node records.

Threads: sources and node followers post events from their own threads; the calling thread handles
them (``run``); the runner's calls, which block on the server (syncs, forks, prefills), run one at a
time, in order, on one action thread. So the calling thread only ever waits on the event queue, and
it waits no longer than the deadline: a hung server cannot hold it past ``timeout``. Nothing sleeps
or polls. The bookkeeping needs no server, and its tests drive it with a scripted source.

Progress: an optional ``on_event`` callback gets a :class:`Progress` when a node becomes known, when
nodes are dispatched and when a node finishes or fails, on the calling thread, as it happens (the
CLI prints them). It must be quick; an exception it raises is warned about once and ignored.
"""

from __future__ import annotations

import queue
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from plato_sgl.core.errors import PlatoError, PlatoTimeout
from plato_sgl.core.plan import PlanNode, admit, ready_nodes
from plato_sgl.core.result import Clock, NodeRecord
from plato_sgl.core.threads import TimedOut, call_with_timeout


class Deadline:
    """The seconds a question may take, on its clock; ``None``: no limit."""

    def __init__(self, timeout: float | None, clock: Clock):
        self.timeout = timeout
        self.clock = clock

    def remaining(self) -> float | None:
        return None if self.timeout is None else max(0.0, self.timeout - self.clock.now())

    def call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args)`` on a daemon thread, waited for at most the time left; raises PlatoTimeout."""
        try:
            return call_with_timeout(f"plato-{what}", self.remaining(), fn, *args, **kwargs)
        except TimedOut:
            raise PlatoTimeout(f"timed out after {self.timeout:g} s ({what})") from None


@dataclass
class Event:
    """Something that happened, posted to the scheduler. ``kind``: nodes | source_done | node_done | failed."""

    kind: str
    at: float
    nodes: Sequence[PlanNode] = ()
    node_id: int | None = None
    result: str = ""
    meta: dict = field(default_factory=dict)
    started_at: float | None = None
    error: BaseException | None = None
    what: str = ""


@dataclass(frozen=True)
class Progress:
    """What a question's run has just done, for a person watching (``Scheduler(on_event=...)``).

    ``kind``: ``"node"`` (a plan line, i.e. a node, became known; again when a repeated line revises
    a waiting node), ``"dispatched"`` (``node_ids`` started together, in id order; ``node_id`` is
    None), ``"done"`` (``tokens``: its completion tokens, ``text``: its result), ``"failed"`` (a
    node, or with ``node_id`` None the source or an action named by ``description``; ``text``: the
    error), ``"planned"`` (the source, e.g. the plan, has ended: no node comes after it); sent by
    methods, not the scheduler: ``"route"`` (a method's choice of how to answer, in ``text``) and
    ``"text"`` (a piece of answer text as it arrives: of node ``node_id``, or of a single plain
    answer when that is None). ``at``: seconds since the question started.
    """

    kind: str
    at: float
    node_id: int | None = None
    description: str = ""
    deps: tuple = ()
    tokens: int | None = None
    text: str = ""
    node_ids: tuple[int, ...] = ()


class Runner(Protocol):
    """What a method does for the scheduler; both calls run on the action thread, in order."""

    def dispatch(self, nodes: list[PlanNode], context: tuple[int, ...]) -> None:
        """Start ``nodes`` (ready, in id order); ``context``: the finished ids, in finish order.
        Each started node must end in ``Scheduler.node_done`` or ``Scheduler.node_failed``."""

    def finished(self, record: NodeRecord, waiting: bool) -> None:
        """``record`` just finished, and a node may still start after it (not called when none can);
        told before the nodes that start in the same round are dispatched. ``waiting``: a known node
        is still not started after that dispatch, so it will read the context later (Plato prefills
        only then: a node starting now prefills the context with its own request)."""


class Scheduler:
    """Schedules one question's nodes. Sources and runners post with the methods below (any thread)."""

    def __init__(
        self,
        clock: Clock,
        deadline: Deadline,
        *,
        pipeline: bool = True,
        max_nodes: int | None = None,
        streaming_cap: int | None = None,
        on_event: Callable[[Progress], None] | None = None,
    ):
        self.clock = clock
        self.deadline = deadline
        self.pipeline = pipeline
        self.max_nodes = max_nodes
        self.streaming_cap = streaming_cap  # at most this many nodes at once while the source streams (plan.admit)
        self.events: queue.Queue[Event] = queue.Queue()
        self.nodes: list[PlanNode] = []  # in plan order
        self.records: dict[int, NodeRecord] = {}
        self.dispatched: list[int] = []  # in dispatch order
        self.finish_order: list[int] = []
        self._finished_now: list[NodeRecord] = []  # finished in the current round, not yet told to the runner
        self.repairs: list[str] = []
        self.source_done = False
        self.cancelled = threading.Event()
        self._progress = threading.Condition()  # notified on every finish and when the run ends
        self._actions: queue.Queue = queue.Queue()
        self._action_thread: threading.Thread | None = None
        self.on_event = on_event
        self._event_failed = False  # on_event raised once (warned); later exceptions are ignored quietly

    # -- posting (any thread) --------------------------------------------------------------------

    def add_nodes(self, nodes: Sequence[PlanNode]) -> None:
        """New nodes (or, for an id already known, its revised dependencies and description)."""
        self.events.put(Event("nodes", self.clock.now(), nodes=tuple(nodes)))

    def source_finished(self) -> None:
        """No node will be added any more."""
        self.events.put(Event("source_done", self.clock.now()))

    def node_done(
        self, node_id: int, result: str, meta: dict, started_at: float | None, at: float | None = None
    ) -> None:
        self.events.put(
            Event(
                "node_done",
                self.clock.now() if at is None else at,
                node_id=node_id,
                result=result,
                meta=meta or {},
                started_at=started_at,
            )
        )

    def node_failed(self, node_id: int, error: BaseException) -> None:
        self.events.put(Event("node_done", self.clock.now(), node_id=node_id, error=error))

    def fail(self, what: str, error: BaseException) -> None:
        """A source or an action failed (``what``: e.g. "the plan request"): the question ends, naming it."""
        self.events.put(Event("failed", self.clock.now(), error=error, what=what))

    def spawn(self, what: str, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` on a daemon thread; an exception it raises fails the question."""

        def work() -> None:
            try:
                fn(*args)
            except BaseException as exc:  # surfaced to the scheduler, never swallowed
                self.fail(what, exc)

        threading.Thread(target=work, daemon=True, name="plato-worker").start()

    def act(self, what: str, fn: Callable[..., None], *args: Any) -> None:
        """Queue ``fn(*args)`` on the action thread (calls run one at a time, in order)."""
        self._actions.put((what, fn, args))
        if self._action_thread is None:
            self._action_thread = threading.Thread(target=self._run_actions, daemon=True, name="plato-actions")
            self._action_thread.start()

    def wait_finished(self, ids: Sequence[int]) -> None:
        """Block (a source's thread) until the nodes ``ids`` have finished; raises if the question ended."""
        done = lambda: set(ids).issubset(self.finish_order)  # noqa: E731
        with self._progress:
            self._progress.wait_for(lambda: done() or self.cancelled.is_set())
        if not done():
            raise PlatoError("the question ended before the nodes it waited for finished")

    # -- the loop (calling thread) ---------------------------------------------------------------

    def run(self, runner: Runner) -> None:
        """Handle events and dispatch ready nodes until the source is done and every node finished.

        Raises PlatoTimeout past the deadline (checked on every event) and PlatoError when a node,
        the source or an action fails; either way the records hold what was done.
        """
        self.runner = runner
        try:
            while not self.complete:
                for event in self._next_events():
                    self._handle(event)
                ready = self._ready()
                self._report_finished(starting=len(ready))
                self._dispatch(ready)
        finally:
            with self._progress:
                self.cancelled.set()
                self._progress.notify_all()
            self._actions.put(None)

    @property
    def complete(self) -> bool:
        return self.source_done and len(self.finish_order) == len(self.records)

    def plan_records(self) -> list[NodeRecord]:
        return [self.records[n.id] for n in self.nodes]

    def _next_events(self) -> list[Event]:
        """The next event (waiting at most until the deadline) and every event already queued behind
        it, so nodes that became ready together are dispatched together."""
        remaining = self.deadline.remaining()
        if remaining == 0:
            raise PlatoTimeout(f"timed out after {self.deadline.timeout:g} s")
        try:
            events = [self.events.get(timeout=remaining)]
        except queue.Empty:
            raise PlatoTimeout(f"timed out after {self.deadline.timeout:g} s") from None
        while True:
            try:
                events.append(self.events.get_nowait())
            except queue.Empty:
                return events

    def _handle(self, event: Event) -> None:
        if event.kind == "nodes":
            for node in event.nodes:
                self._add(node, event.at)
        elif event.kind == "source_done":
            self.source_done = True
            self.tell(Progress("planned", event.at))
        elif event.kind == "failed":
            self.tell(Progress("failed", event.at, description=event.what, text=_cause(event.error)))
            raise _failure(event.what, event.error)
        elif event.kind == "node_done":
            record = self.records[event.node_id]
            if event.error is not None:
                self.tell(
                    Progress("failed", event.at, record.id, record.description, record.deps, text=_cause(event.error))
                )
                raise _failure(f"node {record.id} ({record.description!r})", event.error)
            record.started_at, record.finished_at = event.started_at, event.at
            record.result = event.result
            record.record_meta(event.meta)
            with self._progress:
                self.finish_order.append(record.id)
                self._progress.notify_all()
            self.tell(
                Progress(
                    "done",
                    event.at,
                    record.id,
                    record.description,
                    record.deps,
                    tokens=record.completion_tokens,
                    text=record.result,
                )
            )
            self._finished_now.append(record)  # told to the runner once this round's dispatch is decided

    def _add(self, node: PlanNode, at: float) -> None:
        known = self.records.get(node.id)
        if known is not None:  # a repeated plan line, merged by the tolerant parser
            if node.id in self.dispatched:
                if set(node.deps) - set(known.deps):
                    self.repairs.append(
                        f"node {node.id}: the dependencies {sorted(set(node.deps) - set(known.deps))} of its repeated "
                        "line came after it had started and were not waited for"
                    )
                return
            index = next(i for i, n in enumerate(self.nodes) if n.id == node.id)
            self.nodes[index] = node
            known.description, known.deps = node.description, node.deps
            self.tell(Progress("node", at, node.id, node.description, node.deps))
            return
        if self.max_nodes is not None and len(self.nodes) >= self.max_nodes:  # only an unconstrained plan gets here
            self.repairs.append(
                f"dropped plan line {node.id} ({node.description!r}): more than max_nodes={self.max_nodes}"
            )
            return
        self.nodes.append(node)
        self.records[node.id] = NodeRecord(id=node.id, description=node.description, deps=node.deps, parsed_at=at)
        self.tell(Progress("node", at, node.id, node.description, node.deps))

    def _ready(self) -> list[PlanNode]:
        """The nodes to start now: ready, and admitted (``streaming_cap``)."""
        if not self.pipeline and not self.source_done:
            return []
        ready = ready_nodes(self.nodes, set(self.finish_order), set(self.dispatched))
        running = len(self.dispatched) - len(self.finish_order)
        return admit(ready, self.nodes, running, self.streaming_cap, streaming=not self.source_done)

    def _report_finished(self, starting: int) -> None:
        """Tell the runner of this round's finished nodes, before the ``starting`` ready nodes are
        dispatched (they read the grown context). ``waiting``: a known node is still not started
        after this round's dispatch, so a prefill now would be read later; a node starting now
        prefills the context with its own request, one round trip fewer on its way."""
        waiting = len(self.dispatched) + starting < len(self.records)
        for record in self._finished_now:
            if starting or waiting or not self.source_done:  # else no node can start after it: nothing to tell
                self.act("the context update", self.runner.finished, record, waiting)
        self._finished_now.clear()

    def _dispatch(self, ready: list[PlanNode]) -> None:
        if not ready:
            return
        now = self.clock.now()
        context = tuple(self.finish_order)
        for node in ready:
            self.records[node.id].dispatched_at = now
            self.dispatched.append(node.id)
        self.act("dispatch", self.runner.dispatch, ready, context)
        self.tell(Progress("dispatched", now, node_ids=tuple(node.id for node in ready)))

    def tell(self, progress: Progress) -> None:
        """Give ``progress`` to ``on_event`` (the scheduler's own events, and a method's, e.g. auto's
        route); its exceptions never break the run (warned about once)."""
        if self.on_event is None:
            return
        try:
            self.on_event(progress)
        except Exception as exc:  # a display's bug must not fail the question
            if not self._event_failed:
                self._event_failed = True
                warnings.warn(
                    f"the progress callback raised {type(exc).__name__}: {exc}; its later exceptions are ignored",
                    RuntimeWarning,
                    stacklevel=2,
                )

    def _run_actions(self) -> None:
        while True:
            item = self._actions.get()
            if item is None or self.cancelled.is_set():
                return
            what, fn, args = item
            try:
                fn(*args)
            except BaseException as exc:  # surfaced to the scheduler, never swallowed
                self.fail(what, exc)
                return


def _cause(error: BaseException | None) -> str:
    return "" if error is None else f"{type(error).__name__}: {error}"


def _failure(what: str, cause: BaseException | None) -> PlatoError:
    """The error a question ends with: ``what`` failed, and why."""
    if isinstance(cause, PlatoTimeout):
        return cause
    if isinstance(cause, PlatoError):
        return PlatoError(f"{what} failed: {cause}")
    return PlatoError(f"{what} failed: {type(cause).__name__}: {cause}")
