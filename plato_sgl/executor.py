"""Plato's scheduler: stream the plan, dispatch ready nodes as forks of the global-context state.

Event-driven: a thread follows the plan stream and one thread follows each node's output stream;
all of them post events to one queue, and the scheduler (the calling thread) reacts to each event by
updating the DAG and dispatching every node whose dependencies are finished. Nothing sleeps or polls.

Cache layout (paper §4.2.2): one live program state holds the node prompt prefix, i.e. question,
rules and every finished result in finish order. When a node finishes, its result is appended to a
fork of that state and the grown prefix is prefilled at once (a zero-token ``gen``), so each result
is prefilled exactly once and nodes dispatched later find their whole prefix cached. Ready nodes are
forked from it together, so SGLang batches them.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Any

import sglang as sgl
from sglang.lang.backend.runtime_endpoint import RuntimeEndpoint

from plato_sgl import programs, prompts
from plato_sgl.errors import PlatoError
from plato_sgl.grammar import plan_regex
from plato_sgl.methods.autoregressive import plain_answer
from plato_sgl.options import Options
from plato_sgl.parser import PlanParser
from plato_sgl.plan import PlanNode, critical_path, parallel_degree, ready_nodes
from plato_sgl.result import Call, Clock, NodeRecord, Result


@dataclass
class _Event:
    kind: str  # plan_token | node_parsed | plan_done | node_done
    at: float
    node: PlanNode | None = None
    node_id: int | None = None
    text: str | None = None
    meta: dict | None = None
    error: BaseException | None = None
    started: float | None = None  # node_done: when its first token arrived


def is_sglang_runtime(backend: Any) -> bool:
    """Whether ``backend`` is SGLang's own runtime: it alone enforces ``gen(regex=...)`` and lets a
    program prefill a prefix (OpenAI-style APIs, including SGLang's own /v1, do neither)."""
    return isinstance(getattr(backend, "endpoint", backend), RuntimeEndpoint)


class PlatoRun:
    """Answers one question with Plato. Use ``run_plato``; this class holds the run's mutable state."""

    def __init__(self, question: str, backend: Any, options: Options):
        self.question = question
        self.backend = backend
        self.options = options
        self.runtime = is_sglang_runtime(backend)
        self.clock = Clock()
        self.events: queue.Queue[_Event] = queue.Queue()
        self.result = Result(question=question, method="plato", options=options.to_dict())
        self.parser = PlanParser(tolerant=not self.runtime)
        self.plan_nodes: list[PlanNode] = []
        self.records: dict[int, NodeRecord] = {}
        self.finish_order: list[int] = []
        self.dispatched: set[int] = set()
        self.plan_done = False
        self.base = None  # node prompt parts (1)-(2), an ended state: fork it, never append to it
        self.context = None  # live state: base + finished results in finish order
        self._prefills: list[tuple[Call, Any]] = []
        self.states = programs.LiveStates()  # every fork of this run, ended when it returns or fails

    # -- lifecycle -------------------------------------------------------------------------------

    def run(self) -> Result:
        try:
            with self.states:
                return self._run()
        finally:
            self.result.wall_time = self.clock.now()

    def _run(self) -> Result:
        deadline = self.options.timeout  # seconds on self.clock, which started with this run
        plan_state = programs.plan.run(
            question=self.question,
            regex=(self.options.plan_regex or plan_regex(self.options.max_nodes)) if self.runtime else None,
            max_tokens=self.options.plan_max_tokens,
            temperature=self.options.temperature,  # run()'s sampling default, used by its gen
            backend=self.backend,
            stream=True,
        )
        self.result.calls.append(Call(kind="plan", started_at=self.clock.now()))
        self._spawn(self._follow_plan, plan_state)
        self.base = programs.node_prefix.run(
            question=self.question, temperature=self.options.temperature, backend=self.backend, stream=True  # forks inherit it
        )
        programs.drain(self.base)  # run(stream=True) returns before the body queued its text
        if self.options.context == "global":
            self.context = self._grown_context(None)
        while not self._finished():
            timeout = None if deadline is None else max(0.0, deadline - self.clock.now())
            try:
                event = self.events.get(timeout=timeout)
            except queue.Empty:
                raise self._fail(f"timed out after {self.options.timeout:g} s") from None
            self._handle(event)
            self._dispatch_ready()
        if not self.records:
            self._fallback()
        else:
            self._record_nodes()
        self._collect_prefills()
        return self.result

    def _all_dispatched(self) -> bool:
        return self.plan_done and len(self.dispatched) == len(self.records)

    def _finished(self) -> bool:
        return self.plan_done and len(self.finish_order) == len(self.records)

    def _fail(self, why: str, cause: BaseException | None = None) -> PlatoError:
        done = len(self.finish_order)
        message = f"Plato failed: {why} ({done} of {len(self.records)} nodes finished)"
        if isinstance(cause, PlatoError):
            message += f": {cause}"
        elif cause is not None:
            message += f": {type(cause).__name__}: {cause}"
        self.result.error = message
        self._record_nodes(finished_only=True)
        return PlatoError(message, self.result)

    def _spawn(self, target, *args) -> None:
        threading.Thread(target=target, args=args, daemon=True, name=f"plato-{target.__name__}").start()

    # -- stream followers (worker threads) ------------------------------------------------------

    def _follow_plan(self, state) -> None:
        meta, error, first = None, None, True
        try:
            for chunk in state.text_iter("plan"):
                if not chunk:
                    continue
                if first:
                    self.events.put(_Event("plan_token", self.clock.now()))
                    first = False
                for node in self.parser.feed(chunk):
                    self.events.put(_Event("node_parsed", self.clock.now(), node=node))
            for node in self.parser.close():
                self.events.put(_Event("node_parsed", self.clock.now(), node=node))
            error = programs.stream_error(state, "plan")  # SGLang only prints a worker thread's exception
            meta = state.get_meta_info("plan")
        except BaseException as exc:  # surfaced to the scheduler, never swallowed
            error = exc
        self.events.put(_Event("plan_done", self.clock.now(), text=self.parser.text, meta=meta, error=error))

    def _follow_node(self, node_id: int, state) -> None:
        try:
            out = programs.follow(state, "result", self.clock)
        except BaseException as exc:  # surfaced to the scheduler, never swallowed
            self.events.put(_Event("node_done", self.clock.now(), node_id=node_id, error=exc))
            return
        self.events.put(_Event("node_done", out.finished_at, node_id=node_id, text=out.text, meta=out.meta, started=out.first_token_at))

    # -- scheduler (calling thread) -------------------------------------------------------------

    def _handle(self, event: _Event) -> None:
        if event.kind == "plan_token":
            self.result.plan_first_token_at = event.at
        elif event.kind == "node_parsed":
            node = event.node
            if len(self.plan_nodes) >= self.options.max_nodes:  # only an unconstrained plan gets here
                self.result.repairs.append(f"dropped plan line {node.id} ({node.description!r}): more than max_nodes={self.options.max_nodes}")
                return
            self.plan_nodes.append(node)
            self.records[node.id] = NodeRecord(id=node.id, description=node.description, deps=node.deps, parsed_at=event.at)
        elif event.kind == "plan_done":
            self.plan_done = True
            self.result.plan = event.text or ""
            self.result.plan_done_at = event.at
            self.result.repairs = [*self.parser.repairs, *self.result.repairs]
            plan_call = self.result.calls[0]
            plan_call.finished_at = event.at
            plan_call.record_meta(event.meta)
            if event.error is not None:
                raise self._fail("the plan request failed", event.error)
        elif event.kind == "node_done":
            record = self.records[event.node_id]
            if event.error is not None:
                raise self._fail(f"node {record.id} ({record.description!r}) failed", event.error)
            record.started_at, record.finished_at = event.started, event.at
            record.result = event.text or ""
            record.record_meta(event.meta)
            self.finish_order.append(record.id)
            if self.options.context == "global" and not self._all_dispatched():
                self.context = self._grown_context(record)

    def _dispatch_ready(self) -> None:
        if not self.options.pipeline and not self.plan_done:
            return
        ready = ready_nodes(self.plan_nodes, set(self.finish_order), self.dispatched)
        if not ready:
            return
        now = self.clock.now()
        if self.options.context == "global":
            self.context.text()  # sync, so fork(n > 1) sends the shared prefix once before the branches
            branches = self.states.fork(self.context, len(ready))
            contexts = [tuple(self.finish_order)] * len(ready)
        else:
            branches, contexts = [], []
            for node in ready:
                state = self.states.fork(self.base)[0]
                for dep in node.deps:
                    programs.append_result(state, self.records[dep].description, self.records[dep].result)
                branches.append(state)
                contexts.append(node.deps)
        for node, branch, context_ids in zip(ready, branches, contexts):
            record = self.records[node.id]
            record.dispatched_at, record.context_ids = now, tuple(context_ids)
            self.dispatched.add(node.id)
            programs.answer_node(branch, node.description, max_tokens=self.options.node_max_tokens, ignore_eos=self.options.ignore_eos)
            self._spawn(self._follow_node, node.id, branch)

    def _grown_context(self, finished: NodeRecord | None):
        """A live fork of the context with ``finished`` appended, its prefix prefilled right away."""
        source = self.base if finished is None else self.context
        state = self.states.fork(source)[0]
        if finished is not None:
            programs.append_result(state, finished.description, finished.result)
        if self.runtime:
            state += sgl.gen("prefill", max_tokens=0)
            self._prefills.append((Call(kind="context", started_at=self.clock.now()), state))
        return state

    def _collect_prefills(self) -> None:
        for call, state in self._prefills:
            call.record_meta(state.get_meta_info("prefill"))
            self.result.calls.append(call)
        self._prefills.clear()

    # -- the answer -----------------------------------------------------------------------------

    def _record_nodes(self, finished_only: bool = False) -> None:
        """Put the nodes (in plan order), the answer composed from them and the DAG metrics in the Result."""
        records = [self.records[n.id] for n in self.plan_nodes]
        self.result.nodes = records
        self.result.answer = prompts.compose_answer((r.description, r.result) for r in records if r.finished or not finished_only)
        self.result.critical_path = critical_path(self.plan_nodes)
        self.result.parallel_degree = parallel_degree(self.plan_nodes)

    def _fallback(self) -> None:
        """No usable node in the plan: answer plainly and say why, rather than answer nothing."""
        self.result.fallback = "the plan had no usable sub-task line; answered with a single plain request"
        try:
            self.result.answer, call = plain_answer(self.question, self.backend, self.options, self.clock, kind="fallback")
        except PlatoError as exc:
            raise self._fail("the fallback answer failed", exc) from exc
        self.result.calls.append(call)


def run_plato(question: str, backend: Any, options: Options) -> Result:
    """Answer ``question`` with Plato on ``backend`` (a RuntimeEndpoint, or any SGLang backend)."""
    return PlatoRun(question, backend, options).run()
