"""Plato: stream the plan, dispatch ready nodes as forks of the global-context state.

The plan stream is the scheduler's source: a thread follows its text (``programs.pieces``) and
posts each node the moment its line is parsed (paper section 4.2.1). The runner forks ready nodes
from one live state and follows each branch on a thread of its own.

Cache layout (paper section 4.2.2): one live program state holds the node prompt prefix, i.e.
question, rules and every finished result in finish order. When a node finishes, its result is
appended to a fork of that state; if a known node is still waiting to start, the grown prefix is
prefilled at once (a zero-token ``gen``), so that node finds it cached. Otherwise nothing is sent:
a node that may still come is dispatched from the grown state, and its own request prefills it.
Each result is prefilled once. Ready nodes are forked together, so SGLang batches them.

A plan whose size decision is one part is answered with one plain request (``single_part_route``):
there is nothing to decode side by side. The decision is the plan's first decoded token: its
opening, ``Parts: ``, is in the prompt (``grammar.split_opening``). The rest of the plan request
is then aborted, so its tokens do not decode beside the answer.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import sglang as sgl

from plato_sgl.core import prompts
from plato_sgl.core.errors import PlatoError, PlatoTimeout
from plato_sgl.core.grammar import is_ascii, node_regex, plan_regex, split_opening
from plato_sgl.core.options import Options, node_budget, node_sentence_count
from plato_sgl.core.parser import PlanParser
from plato_sgl.core.plan import PlanNode, critical_path, parallel_degree
from plato_sgl.core.question_kind import asks_for_code
from plato_sgl.core.result import Call, NodeRecord, Result
from plato_sgl.core.scheduler import Progress, Scheduler
from plato_sgl.core.streaming import plato_layout
from plato_sgl.engine import programs
from plato_sgl.engine.backend import go_first, is_sglang_runtime, stop_first
from plato_sgl.engine.warmup import PLACEHOLDER, Opening
from plato_sgl.methods.autoregressive import plain_answer, plain_opening
from plato_sgl.methods.base import MethodRun

# route(size, nodes, plan_done) -> None (not decided yet), "" (go on with Plato) or why to answer plainly.
Route = Callable[[int | None, list[PlanNode], bool], str | None]


class PlatoRun(MethodRun):
    """Answers one question with Plato. Use ``run_plato``; this holds the run's mutable state.

    ``route`` (used by ``auto``) sees the plan as it streams and may send the question to a single
    plain request instead; nodes are held back until it has decided, so nothing decoded is wasted.
    """

    def __init__(
        self,
        question: str,
        backend: Any,
        options: Options,
        *,
        method: str = "plato",
        on_progress: Callable[[Progress], None] | None = None,
        route: Route | None = None,
    ):
        super().__init__(method, question, options)
        self.backend = backend
        self.runtime = is_sglang_runtime(backend)
        self.ascii = is_ascii(question)
        self.parser = PlanParser(tolerant=not self.runtime, max_size=options.max_nodes)
        self.on_progress = on_progress
        self.route = route
        self.plain_reason: str | None = None  # set when ``route`` chose a plain answer
        self.plan_ended = threading.Event()
        self.sentence_grammar = bool(prompt_sentences(options, self.runtime))
        self.scheduler = Scheduler(
            self.clock,
            self.deadline,
            pipeline=options.pipeline,
            max_nodes=options.max_nodes,
            streaming_cap=options.streaming_cap,
            on_event=on_progress,
        )
        self.base = None  # node prompt parts (1)-(2), an ended state: fork it, never append to it
        self.context = None  # live state: base + finished results in finish order
        self.prefilled = False  # whether ``context``'s whole text has been sent to the server
        self._prefills: list[tuple[Call, Any]] = []
        self.states = programs.LiveStates()  # every fork of this run, ended when it returns or fails

    def _run(self) -> None:
        with self.states:
            self._answer()

    def _answer(self) -> None:
        self.result.calls.append(Call(kind="plan", started_at=self.clock.now()))
        self.scheduler.spawn("the plan request", self._follow_plan)
        self.scheduler.act("the node prompt prefix", self._open_context)
        self.scheduler.run(self)
        if self.route is not None:
            self.result.route, self.result.route_reason = (
                ("plain", self.plain_reason) if self.plain_reason else ("plato", None)
            )
        if self.plain_reason:
            self._plain(self.plain_reason, kind="answer")
            self.deadline.call("the plan request", self.plan_ended.wait)  # stopped above: its counts go in the Result
        elif not self.scheduler.records:
            self._plain("the plan had no usable sub-task line; answered with a single plain request", kind="fallback")
        else:
            self._record_nodes()
        self.result.repairs = [*self.parser.repairs, *self.scheduler.repairs, *self.result.repairs]
        self.deadline.call("the context prefills", self._collect_prefills)

    def _failure(self, exc: PlatoError) -> str:
        done, known = len(self.scheduler.finish_order), len(self.scheduler.records)
        self.result.repairs = [*self.parser.repairs, *self.scheduler.repairs]
        if not self.result.plan:
            self.result.plan = self.parser.text
        self._record_nodes(finished_only=True)
        return f"Plato failed: {exc} ({done} of {known} nodes finished)"

    # -- the source: the plan stream (its own thread) ---------------------------------------------

    def _plan_regex(self) -> tuple[str, str | None]:
        """The plan's opening, written into its prompt, and the regex its decoded rest follows."""
        if not self.runtime:
            return "", None
        o = self.options
        return split_opening(
            o.plan_regex or plan_regex(o.max_nodes, description_max=o.description_max, ascii=self.ascii, sized=o.sized)
        )

    def _follow_plan(self) -> None:
        try:
            self._stream_plan()
        finally:
            self.plan_ended.set()

    def _stream_plan(self) -> None:
        opening, regex = self._plan_regex()
        go_first(self.backend, regex)  # every node waits for the plan: admit it first
        state = programs.plan.run(
            question=self.question,
            history=self.options.history,
            opening=opening,
            regex=regex,
            max_tokens=self.options.plan_max_tokens,
            sized=self.options.sized,
            **self.options.sampling(self.question),  # run()'s sampling default, used by its gen
            backend=self.backend,
            stream=True,
        )
        held: list[PlanNode] = []  # nodes parsed while ``route`` has not decided yet
        deciding = self.route is not None
        self.parser.feed(opening)
        for chunk in programs.pieces(state, "plan"):
            if not chunk:
                continue
            if self.result.plan_first_token_at is None:
                self.result.plan_first_token_at = self.clock.now()
            held += self.parser.feed(chunk)
            self.result.plan_size = self.parser.size
            deciding = self._post(held, deciding, done=False)
        if not self.plain_reason:  # else the plan was stopped (stop_first): its last line is cut short, not wrong
            held += self.parser.close()
            self._post(held, deciding, done=True)
        self.result.plan = self.parser.text
        if not self.plain_reason:  # a plan stopped for a plain answer has no error worth a word
            error = programs.stream_error(state, "plan")  # SGLang only prints a worker thread's exception
            if error is not None:
                raise error
        plan_call = self.result.calls[0]
        plan_call.finished_at = self.result.plan_done_at = self.clock.now()
        plan_call.record_meta(state.get_meta_info("plan"))
        plan_call.stopped = bool(self.plain_reason) and plan_call.finish_reason == "abort"
        if not self.plain_reason:
            self.scheduler.source_finished()

    def _post(self, held: list[PlanNode], deciding: bool, done: bool) -> bool:
        """Give ``held`` nodes to the scheduler once ``route`` (if any) has chosen Plato; return
        whether it is still deciding. A plain decision ends the source: the plan is not followed."""
        if self.plain_reason:
            held.clear()
            return False
        if deciding:
            verdict = self.route(self.parser.size, list(self.parser.nodes), done)
            if verdict is None and not done:
                return True
            if verdict:
                self.plain_reason = verdict
                stop_first(self.backend)  # the rest of the plan would only decode beside the plain answer
                held.clear()
                self.scheduler.tell(Progress("route", self.clock.now(), text=f"plain: {verdict}"))
                self.scheduler.source_finished()
                return False
            if self.result.method != "plato":  # for Plato itself, going on with Plato is no news
                self.scheduler.tell(Progress("route", self.clock.now(), text="plato"))
            if self.options.prefix_prefill == "on-parts":  # queued before any node: they find it cached
                self.scheduler.act("the node prompt prefix", self._prefill_prefix)
        if held:
            self.scheduler.add_nodes(list(held))
            held.clear()
        return False

    # -- the runner (the scheduler's action thread) -----------------------------------------------

    def _open_context(self) -> None:
        self.base = programs.node_prefix.run(
            question=self.question,
            sentences=prompt_sentences(self.options, self.runtime),
            history=self.options.history,
            rules_first=self.options.node_prompt == "rules-first",
            **self.options.sampling(self.question),
            backend=self.backend,
            stream=True,  # forks inherit it
        )
        programs.drain(self.base)  # run(stream=True) returns before the body queued its text
        if self.options.context == "global":
            self.context = self.states.fork(self.base)[0]
            if self.options.prefix_prefill == "at-start":
                self._prefill()

    def _prefill_prefix(self) -> None:
        """Prefill the node prompt's prefix, unless a node's request has sent it already."""
        if self.options.context == "global" and not self.prefilled:
            self._prefill()

    def finished(self, record: NodeRecord, waiting: bool) -> None:
        """Append ``record`` to the global context; prefill it only if a known node will use it."""
        if self.options.context != "global":
            return
        self.context = self.states.fork(self.context)[0]
        programs.append_result(self.context, record.description, record.result)
        self.prefilled = False
        if waiting:
            self._prefill()

    def _prefill(self) -> None:
        if self.runtime:
            self.context += sgl.gen("prefill", max_tokens=0)
            self._prefills.append((Call(kind="context", started_at=self.clock.now()), self.context))
        self.prefilled = True

    def dispatch(self, nodes: list[PlanNode], context: tuple[int, ...]) -> None:
        records = self.scheduler.records
        if self.options.context == "global":
            if len(nodes) > 1 and not self.prefilled:
                self._prefill()  # a recorded request, so fork(n)'s own commit of the prefix finds it cached
            self.context.text()  # sync, so fork(n > 1) sends the shared prefix once before the branches
            branches = self.states.fork(self.context, len(nodes))
            contexts = [context] * len(nodes)
        else:
            branches, contexts = [], []
            for node in nodes:
                state = self.states.fork(self.base)[0]
                for dep in node.deps:
                    programs.append_result(state, records[dep].description, records[dep].result)
                branches.append(state)
                contexts.append(node.deps)
        size = self.parser.size
        regex = (
            node_regex(node_sentence_count(self.options, size), ascii=self.ascii, code=asks_for_code(self.question))
            if self.sentence_grammar
            else None
        )
        for node, branch, context_ids in zip(nodes, branches, contexts):
            records[node.id].context_ids = tuple(context_ids)
            programs.answer_node(
                branch,
                node.description,
                max_tokens=node_budget(self.options, size),
                ignore_eos=self.options.ignore_eos,
                regex=regex,
            )
            self.scheduler.spawn(f"node {node.id}", self._follow_node, node.id, branch)

    def _follow_node(self, node_id: int, state) -> None:
        try:
            out = programs.follow(state, "result", self.clock, lambda text: self._tell_text(node_id, text))
        except BaseException as exc:  # surfaced to the scheduler, never swallowed
            self.scheduler.node_failed(node_id, exc)
            return
        self.scheduler.node_done(node_id, out.text, out.meta, out.first_token_at, at=out.finished_at)

    def _tell_text(self, node_id: int | None, text: str) -> None:
        self.scheduler.tell(Progress("text", self.clock.now(), node_id=node_id, text=text))

    def _collect_prefills(self) -> None:
        for call, state in self._prefills:
            call.record_meta(state.get_meta_info("prefill"))
            self.result.calls.append(call)
        self._prefills.clear()

    # -- the answer -------------------------------------------------------------------------------

    def _record_nodes(self, finished_only: bool = False) -> None:
        """Put the nodes (in plan order), the answer composed from them and the DAG metrics in the Result."""
        records = self.scheduler.plan_records()
        self.result.nodes = records
        self.result.answer, repairs = compose(
            records if not finished_only else [r for r in records if r.finished], self.question
        )
        self.result.repairs += repairs
        self.result.critical_path = critical_path(self.scheduler.nodes)
        self.result.parallel_degree = parallel_degree(self.scheduler.nodes)

    def _plain(self, why: str, kind: str) -> None:
        """Answer with one plain request and say why: ``kind`` "answer" (``route`` chose it) or
        "fallback" (no usable node in the plan: better a plain answer than none)."""
        if kind == "fallback":
            self.result.fallback = why
        try:
            options = self.options.plain_budget() if kind == "answer" else self.options
            self.result.answer, call = self.deadline.call(
                kind,
                plain_answer,
                self.question,
                self.backend,
                options,
                self.clock,
                kind=kind,
                on_chunk=lambda text: self._tell_text(None, text),
            )
        except PlatoTimeout:
            raise
        except PlatoError as exc:
            raise PlatoError(f"the {'plain' if kind == 'answer' else kind} answer failed: {exc}") from exc
        self.result.calls.append(call)


def compose(records: list[NodeRecord], question: str) -> tuple[str, list[str]]:
    """The answer from finished nodes' records in plan order, and what it left out: a node whose
    text repeats an earlier node's word for word, and a node's opening restatement of its topic.
    The reading order (``plato_sgl.core.streaming.plato_layout``) leaves out the same."""
    sections, kept, repairs = [], [], []
    for r in records:
        same = prompts.repeated_section(r.result, [k.result for k in kept])
        if same is not None:
            repairs.append(f"node {r.id}: left out of the answer, its text repeats node {kept[same].id}'s")
            continue
        kept.append(r)
        text, dropped = prompts.drop_restatement(r.result, r.description, question)
        if dropped:
            repairs.append(f"node {r.id}: left out its opening restatement of its topic")
        sections.append((r.description, text))
    return prompts.compose_answer(sections), repairs


def single_part_route(size: int | None, nodes: list[PlanNode], done: bool) -> str | None:
    """Plato's own route: a plan that decided on one part has nothing to decode side by side, and
    a lone node, told to write one part of an answer, answers in a sentence or two; such a plan is
    answered with one plain request. None until the size decision (or, unsized, a line) is read."""
    if size is not None and size <= 1:
        return f"the plan's size decision was {size} part: nothing to decode in parallel"
    return None if size is None and not nodes and not done else ""


def run_plato(
    question: str, backend: Any, options: Options, on_progress: Callable[[Progress], None] | None = None
) -> Result:
    """Answer ``question`` with Plato on ``backend`` (a RuntimeEndpoint, or any SGLang backend).
    ``on_progress`` is told of each plan line, dispatch and finished node as they happen."""
    return PlatoRun(question, backend, options, on_progress=on_progress, route=single_part_route).run()


def prompt_sentences(options: Options, runtime: bool) -> int:
    """The sentence bound a node's rules state: the grammar's, where nodes decode under it (0: free text)."""
    return options.node_sentences if runtime and not options.ignore_eos else 0


def openings(options: Options) -> list[Opening]:
    common = {"question": PLACEHOLDER, "history": options.history}
    node = {"sentences": prompt_sentences(options, runtime=True), "rules_first": options.node_prompt == "rules-first"}
    return [
        (programs.plan, {**common, "sized": options.sized, "max_tokens": 0}),
        (programs.node_prefix, {**common, **node}),
        plain_opening(options),
    ]


layout = plato_layout
