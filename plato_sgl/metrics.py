"""The paper's efficiency metrics, as pure functions over saved Results (no server needed).

Definitions (Plato paper §5.1, §5.4, §5.5):
- throughput: total generated tokens / total wall time over a set of questions;
- speed-up: a method's throughput / AR's throughput, both from the same run;
- parallel degree: nodes / longest dependency chain (SoT: number of points), averaged;
- inference efficiency: throughput / parallel degree;
- extra prefill tokens: prompt - cached tokens over the node-side requests (nodes and the context
  prefills that serve them; the plan and single answers are not "extra");
- scheduling efficiency: the makespan an ideal scheduler would reach with the same measured node
  durations and the same plan-streaming times, divided by the measured node-phase makespan.
"""

from __future__ import annotations

from statistics import mean
from typing import Iterable, Sequence

from plato_sgl.result import Result

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


def scheduling_efficiency(result: Result) -> float | None:
    """Ideal node-phase makespan / measured makespan (1.0: the scheduler added no waiting).

    Ideal: every node starts as soon as its line is parsed and its dependencies' ideal finishes
    are past, and takes its own measured duration (dispatch to finish). Both makespans run from
    the first parsed line to the last finish.
    """
    nodes = {n.id: n for n in result.nodes}
    if not nodes or any(n.parsed_at is None or n.dispatched_at is None or n.finished_at is None for n in nodes.values()):
        return None
    ideal_finish: dict[int, float] = {}
    for node in sorted(nodes.values(), key=lambda n: n.id):  # deps always point to smaller ids
        ready = max([node.parsed_at, *(ideal_finish[d] for d in node.deps if d in ideal_finish)])
        ideal_finish[node.id] = ready + (node.finished_at - node.dispatched_at)
    start = min(n.parsed_at for n in nodes.values())
    measured = max(n.finished_at for n in nodes.values()) - start
    ideal = max(ideal_finish.values()) - start
    return ideal / measured if measured > 0 else None


def mean_of(values: Iterable[float | None]) -> float | None:
    """Mean of the values that exist (None where none does)."""
    present = [v for v in values if v is not None]
    return mean(present) if present else None
