"""The paper's efficiency metrics, as pure functions over saved Results (no server needed).

Definitions (Plato paper §5.1, §5.4, §5.5):
- throughput: total generated tokens / total wall time over a set of questions;
- speed-up: a method's throughput / AR's throughput, both from the same run;
- parallel degree: nodes / longest dependency chain (SoT: number of points), averaged;
- inference efficiency: throughput / parallel degree;
- extra prefill tokens: prompt - cached tokens over the node-side requests (nodes and the context
  prefills that serve them; the plan and single answers are not "extra");
- scheduling efficiency: the node phase's makespan if every node had been decoding from the moment
  it could start (its plan line parsed, its dependencies done), taking its measured decoding time,
  divided by the measured makespan (see ``scheduling_efficiency``).
"""

from __future__ import annotations

from statistics import mean
from typing import Iterable, Sequence

from plato_sgl.result import NodeRecord, Result

NODE_SIDE_CALLS = ("context",)


def throughput(results: Iterable[Result]) -> float:
    """Generated tokens per second over all ``results`` (sum of tokens / sum of wall times)."""
    results = list(results)
    seconds = sum(r.wall_time for r in results)
    return sum(r.completion_tokens for r in results) / seconds if seconds > 0 else 0.0


def speedup(results: Iterable[Result], baseline: Iterable[Result]) -> float:
    """Throughput of ``results`` relative to ``baseline`` (AR) measured in the same run."""
    base = throughput(baseline)
    return throughput(results) / base if base > 0 else 0.0


def mean_parallel_degree(results: Iterable[Result]) -> float:
    """Average parallel degree per question; 1.0 for methods without nodes (one sequential answer)."""
    values = [r.parallel_degree if r.nodes else 1.0 for r in results]
    return mean(values) if values else 0.0


def inference_efficiency(results: Sequence[Result]) -> float:
    """Throughput per unit of parallel degree (Table 3's TP / PD): how well the system runs the
    parallelism it is given, independent of how much parallelism the plans offer."""
    degree = mean_parallel_degree(results)
    return throughput(results) / degree if degree > 0 else 0.0


def extra_prefill_tokens(result: Result) -> int:
    """Prompt tokens computed (not reused from the cache) by the node-side requests."""
    requests = [*result.nodes, *(c for c in result.calls if c.kind in NODE_SIDE_CALLS)]
    return sum(max(0, r.prompt_tokens - r.cached_tokens) for r in requests)


def prefill_time_share(result: Result) -> float | None:
    """Share of node request time spent before the first output token (queueing + prefill).

    An upper bound of the prefill overhead: SGLang does not report prefill time per request.
    """
    spans = [(n.dispatched_at, n.started_at, n.finished_at) for n in result.nodes]
    spans = [s for s in spans if None not in s]
    total = sum(f - d for d, _, f in spans)
    return sum(s - d for d, s, _ in spans) / total if total > 0 else None


def planning_latency(result: Result) -> float | None:
    """Seconds until the plan was fully decoded."""
    return result.plan_done_at


def first_dispatch(result: Result) -> float | None:
    """Seconds until the first node was dispatched."""
    times = [n.dispatched_at for n in result.nodes if n.dispatched_at is not None]
    return min(times) if times else None


def node_decode_time(node: NodeRecord) -> float:
    """Seconds ``node`` spent decoding: first output token to finish (measured in its real batch).
    Without a first-token time (a backend that does not stream), dispatch to finish."""
    start = node.started_at if node.started_at is not None else node.dispatched_at
    return node.finished_at - start


def scheduling_efficiency(result: Result) -> float | None:
    """How close the node phase came to its bound: ideal makespan / measured makespan, in (0, 1].

    Ideal: each node starts decoding the moment it could, ``max(parsed_at, ideal finish of every
    dependency)``, and takes its measured decoding time (first token to finish, so a node that
    decoded in a batch keeps its batched, slower time: batching is neither credited nor charged
    twice). The ideal end is the latest ideal finish. Both makespans are the node phase: from the
    first parsed plan line (nothing can be dispatched before it; the plan's prefill and first line
    are the same in both) to the last node's finish.

    Everything between "could start" and "first token" counts against the schedule: dispatch
    waiting for the whole plan (pipelining off), dispatch lag, the context sync before a fork,
    queueing behind other requests and the node's own prefill, but only where it lies on the
    critical path. So 1.0 needs every critical node decoding as soon as it was ready; no real run
    reaches it, since prefill is never free. (The ideal once used dispatch-to-finish times; then any
    scheduler that dispatches ready nodes at once scored 1.00 by construction.)
    None when a node lacks its parse, dispatch or finish time (no nodes, errors, fallbacks).
    """
    nodes = {n.id: n for n in result.nodes}
    if not nodes or any(n.parsed_at is None or n.dispatched_at is None or n.finished_at is None for n in nodes.values()):
        return None
    ideal_finish: dict[int, float] = {}
    for node in sorted(nodes.values(), key=lambda n: n.id):  # dependencies point to smaller ids (plan.py)
        ready = max([node.parsed_at, *(ideal_finish[d] for d in node.deps if d in ideal_finish)])
        ideal_finish[node.id] = ready + node_decode_time(node)
    start = min(n.parsed_at for n in nodes.values())
    measured = max(n.finished_at for n in nodes.values()) - start
    ideal = max(ideal_finish.values()) - start
    if measured <= 0:
        return None
    return min(1.0, ideal / measured)  # above 1 only through clock noise between threads


def mean_of(values: Iterable[float | None]) -> float | None:
    """Mean of the values that exist (None where none does)."""
    present = [v for v in values if v is not None]
    return mean(present) if present else None
