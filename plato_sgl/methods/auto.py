"""``auto``: Plato when it would answer sooner, one plain request when it would not.

Plato pays for its plan and wins by decoding parts side by side; when an answer has one part, or
its parts form a chain, there is nothing to decode side by side and a plain answer is sooner. The
decision uses cheap signals only, with no extra model and no extra model request:

1. the question: a math word problem is a chain of steps (the paper's GSM8K plans are chains), and
   a program is one piece of code (parts decoded side by side each wrote the whole program again),
   so either gets a plain answer before any plan is asked for;
2. with ``auto_max_load`` set, the server's load (one ``/v1/loads`` per worker): a server with
   more requests per worker than that already decodes a full batch, so Plato's side-by-side nodes
   gain little while its plan still costs time, and the question gets a plain answer.
   It is read before anything is sent (no plan token is spent when the server is already busy)
   and once more at the plan's first tokens, this question's own requests left out
   (:class:`LoadRoute`): questions that arrive together, as a burst of users or a benchmark's
   batch does, see each other only then;
3. the plan's size decision (``Parts: k``, the plan's first tokens): one part is a plain answer,
   more than ``CHAIN_MAX_PARTS`` parts is Plato's path at once;
4. the plan's first lines: a short plan whose second part needs the first is a chain.

Nodes are held back until the decision is made (at the size decision, or at the plan's second
line for a short plan), so a plain answer never throws a node's decoding away, and a plan too long
to be a chain starts its first node as soon as Plato would. A plain decision aborts the rest of
the plan request, which would otherwise decode beside the plain answer. The Result records the path taken and why (``route``,
``route_reason``). The plain answer is ``ar``'s request within the answer budget
(``Options.plain_budget``), the budget Plato's nodes share.
"""

from __future__ import annotations

from typing import Any, Callable

from plato_sgl.core.options import Options
from plato_sgl.core.plan import PlanNode
from plato_sgl.core.question_kind import is_math_problem, is_programming_task
from plato_sgl.core.result import Result
from plato_sgl.core.scheduler import Progress
from plato_sgl.engine.backend import is_sglang_runtime
from plato_sgl.engine.http import queued_requests
from plato_sgl.methods import plato
from plato_sgl.methods.autoregressive import run_single
from plato_sgl.methods.plato import PlatoRun, single_part_route

# A short plan whose second part depends on its first is treated as a chain up to this size.
CHAIN_MAX_PARTS = 3


def question_route(question: str) -> str | None:
    """Why ``question`` should get a plain answer before any plan is asked for, or None.

    A math word problem (a number, and a question for a quantity or a value) is solved step by
    step, each step needing the one before: a chain, where Plato cannot be sooner. A programming
    task asks for one piece of code: its parts are not independent, and nodes decoded side by side
    each write the whole program (a code block is one unit of a node's grammar).
    """
    if is_math_problem(question):
        return "a math word problem: its steps form a chain"
    if is_programming_task(question):
        return "a programming task: one piece of code, not independent parts"
    return None


def load_route(load: float | None, max_load: float | None) -> str | None:
    """Why to answer plainly because the server is busy, or None (plan as usual).

    ``load``: requests per worker running or waiting on the server just now (None: not known);
    ``max_load``: ``Options.auto_max_load`` (None: the load is not considered). Plain above it.
    """
    if load is None or max_load is None or load <= max_load:
        return None
    return f"the server is busy: {load:g} requests per worker running or waiting (auto_max_load {max_load:g})"


def server_queue(backend: Any) -> float | None:
    """Requests per worker running or waiting on ``backend``'s server now, other than this
    question's own (those its endpoint has in flight), or None where it cannot be read cheaply (not
    SGLang's runtime, an older server, a failed read)."""

    url = getattr(getattr(backend, "endpoint", backend), "base_url", None)
    if url is None or not is_sglang_runtime(backend):
        return None
    return queued_requests(url, timeout=2.0, besides=len(getattr(backend, "in_flight", ())))


class LoadRoute:
    """``auto``'s route with the load signal: at the plan's first tokens, the server's load once
    more (``read()``, e.g. :func:`server_queue`); above ``max_load``, a plain answer, else
    :func:`plan_route` as usual. The load is read once: the first call decides on it."""

    def __init__(self, read: Callable[[], float | None], max_load: float):
        self.read = read
        self.max_load = max_load
        self.checked = False

    def __call__(self, size: int | None, nodes: list[PlanNode], done: bool) -> str | None:
        if not self.checked:
            self.checked = True
            reason = load_route(self.read(), self.max_load)
            if reason:
                return reason
        return plan_route(size, nodes, done)


def plan_route(size: int | None, nodes: list[PlanNode], done: bool) -> str | None:
    """The decision from the plan so far: None (read more), "" (Plato) or why to answer plainly.

    ``size``: the plan's size decision (None if it had none); ``nodes``: the plan lines so far;
    ``done``: the plan has ended.
    """
    verdict = single_part_route(size, nodes, done)
    if verdict:
        return verdict
    if size is not None and size > CHAIN_MAX_PARTS:
        return ""  # the chain check below cannot apply: don't hold the first node for line 2
    if done and len(nodes) <= 1:
        return "the plan had one usable part: nothing to decode in parallel"
    if len(nodes) < 2:
        return None if not done else ""
    first, second = nodes[0], nodes[1]
    parts = size or len(nodes)
    if first.id in second.deps and parts <= CHAIN_MAX_PARTS:
        return f"a chain: part 2 of a {parts}-part plan needs part 1"
    return ""


def run_auto(
    question: str, backend: Any, options: Options, on_progress: Callable[[Progress], None] | None = None
) -> Result:
    """Answer ``question`` with Plato, or with one plain request when Plato would not be sooner."""
    reason = question_route(question)
    if reason is None and options.auto_max_load is not None:
        reason = load_route(server_queue(backend), options.auto_max_load)
    if reason is None:
        route = (
            plan_route
            if options.auto_max_load is None
            else LoadRoute(lambda: server_queue(backend), options.auto_max_load)
        )
        return PlatoRun(question, backend, options, method="auto", on_progress=on_progress, route=route).run()
    if on_progress is not None:
        on_progress(Progress("route", 0.0, text=f"plain: {reason}"))
    result = run_single("auto", question, backend, options.plain_budget(), on_progress=on_progress)
    result.route, result.route_reason = "plain", reason
    return result


openings = plato.openings
layout = plato.layout
