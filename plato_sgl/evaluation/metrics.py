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

What the user waits for (not in the paper's tables; a throughput gain is not a shorter wait when
the method writes more tokens): end-to-end latency (``wall_time``) per question; latency speed-up
over AR as total time (sum AR / sum method), as the median per-question ratio (method / AR) and as
the number of questions answered sooner; answer length in tokens and words and its median ratio to
AR's answer to the same question; requests that stopped at their token cap; the plan's shape
(node counts, repeated sub-tasks) and its share of the latency.
"""

from __future__ import annotations

import re
from collections import Counter
from statistics import mean
from typing import Callable, Iterable, Mapping, Sequence

from plato_sgl.core.result import NodeRecord, Result

_WORDS = re.compile(r"\w+")

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


def batch_gain(decode: Mapping[int, float], sequences: float) -> float | None:
    """How many times one sequence's decode rate ``sequences`` sequences decode at together, from the
    aggregate rates measured per batch size (``decode``), linear between the measured sizes and flat
    beyond the largest. None without a rate for one sequence."""
    one = decode.get(1)
    if not one:
        return None
    sizes = sorted(decode)
    if sequences <= sizes[0]:
        return decode[sizes[0]] / one
    for low, high in zip(sizes, sizes[1:]):
        if sequences <= high:
            share = (sequences - low) / (high - low)
            return (decode[low] + share * (decode[high] - decode[low])) / one
    return decode[sizes[-1]] / one


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
    if not nodes or any(
        n.parsed_at is None or n.dispatched_at is None or n.finished_at is None for n in nodes.values()
    ):
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


# What the user waits for: latency, answer length, truncation, plan shape.
# Paired figures compare a method with AR on the same question: both arguments map a question id
# to its Result, and only the ids both hold count.

ANSWER_CALLS = ("answer", "fallback")  # single requests whose text is the whole answer (AR, CoT, fallbacks)
PASTA_MAIN_CALL = "main"  # PASTA's main branch: several requests sharing one ``max_tokens`` budget
PLAN_CALLS = ("plan", "skeleton")


def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(results: Iterable[Result]) -> dict[str, float | None]:
    """End-to-end latency (``wall_time``: question sent to answer complete) per question: mean, median, p90."""
    times = [r.wall_time for r in results]
    return {"mean": mean(times) if times else None, "median": percentile(times, 50), "p90": percentile(times, 90)}


def paired(results: Mapping[str, Result], baseline: Mapping[str, Result]) -> list[tuple[Result, Result]]:
    """(method, baseline) Results of the questions both hold, in question-id order."""
    return [(results[qid], baseline[qid]) for qid in sorted(set(results) & set(baseline))]


def total_time_speedup(pairs: Sequence[tuple[Result, Result]]) -> float | None:
    """Latency speed-up over the baseline as total time: sum of baseline wall times / sum of the method's."""
    spent = sum(r.wall_time for r, _ in pairs)
    return sum(b.wall_time for _, b in pairs) / spent if pairs and spent > 0 else None


def median_ratio(pairs: Sequence[tuple[Result, Result]], measure: Callable[[Result], float]) -> float | None:
    """Median over questions of measure(method) / measure(baseline); questions where the baseline's is 0 are skipped."""
    ratios = [measure(r) / measure(b) for r, b in pairs if measure(b) > 0]
    return percentile(ratios, 50)


def median_latency_ratio(pairs: Sequence[tuple[Result, Result]]) -> float | None:
    """Median per-question latency ratio method / baseline (above 1: the user waits longer)."""
    return median_ratio(pairs, lambda r: r.wall_time)


def answered_sooner(pairs: Sequence[tuple[Result, Result]]) -> int:
    """How many questions the method answered in less wall time than the baseline."""
    return sum(1 for r, b in pairs if r.wall_time < b.wall_time)


def answer_tokens(result: Result) -> int:
    """Completion tokens of the requests whose text makes the answer: the nodes (Plato's sub-tasks, SoT's
    point expansions, PASTA's async spans), PASTA's main branch and single answers (AR, CoT, a fallback).
    Not the plan or skeleton: it steers the answer (SoT's points are echoed in it, but were decoded as
    the skeleton). So this counts what was decoded for the answer's text, not a re-tokenisation of it."""
    calls = (c for c in result.calls if c.kind in ANSWER_CALLS or c.kind == PASTA_MAIN_CALL)
    return sum(n.completion_tokens for n in result.nodes) + sum(c.completion_tokens for c in calls)


def first_answer_token(result: Result) -> float | None:
    """Seconds until the answer's first text could be shown to a reader, as ``plato_sgl.stream``
    releases it: a single answer's first token; a sectioned answer's first section's first token
    (the plan's first node, SoT's first point); PASTA's answer, spliced together at the end, at
    the end. None when the run did not record it (results saved before streaming existed)."""
    if result.method == "pasta":
        return result.wall_time
    plain = [c for c in result.calls if c.kind in ANSWER_CALLS]
    if plain:
        return plain[-1].first_token_at
    first = min(result.nodes, key=lambda n: n.id, default=None)
    return first.started_at if first is not None else None


def answer_words(result: Result) -> int:
    """Whitespace-separated words of the final answer text."""
    return len(result.answer.split())


def plan_tokens(result: Result) -> int | None:
    """Completion tokens of the plan (Plato) or skeleton (SoT); None for methods without one."""
    plans = [c for c in result.calls if c.kind in PLAN_CALLS]
    return sum(c.completion_tokens for c in plans) if plans else None


def uncached_tokens(result: Result) -> int:
    """Prompt tokens the server had to compute for the question (prompt minus cached, over every
    request): on a CPU a prefilled token costs a good part of a decoded one."""
    return result.prompt_tokens - result.cached_tokens


def truncation(result: Result) -> dict[str, tuple[int, int]]:
    """Requests that stopped at their token cap, as (truncated, requests) per kind: ``"node"`` (cap
    ``node_max_tokens``) and ``"answer"`` (single answers and fallbacks, and PASTA's main branch counted
    as one request over its shared budget, cap ``max_tokens``), caps read from ``Result.options``.

    A request that recorded the server's finish reason is truncated when that reason is
    ``"length"``. Older results have none: such a request counts as truncated when its completion
    tokens reach its cap (a request that ended naturally on exactly its last allowed token is counted
    too; with ``ignore_eos`` every node reaches its cap by design). A cap missing from the options
    counts nothing as truncated."""
    node_cap, answer_cap = result.options.get("node_max_tokens"), result.options.get("max_tokens")

    def capped(request, cap: int | None, tokens: int | None = None) -> bool:
        if request.finish_reason is not None:
            return request.finish_reason == "length"
        tokens = request.completion_tokens if tokens is None else tokens
        return cap is not None and cap > 0 and tokens >= cap

    answers = [c for c in result.calls if c.kind in ANSWER_CALLS]
    main = [c for c in result.calls if c.kind == PASTA_MAIN_CALL]
    cut_answers = sum(1 for c in answers if capped(c, answer_cap))
    if main:  # one request over the shared budget: cut if its last piece was
        cut_answers += capped(main[-1], answer_cap, sum(c.completion_tokens for c in main))
    return {
        "node": (sum(1 for n in result.nodes if capped(n, node_cap)), len(result.nodes)),
        "answer": (cut_answers, len(answers) + bool(main)),
    }


def truncation_totals(results: Iterable[Result]) -> dict[str, tuple[int, int]]:
    """``truncation`` summed over ``results``."""
    totals = {"node": (0, 0), "answer": (0, 0)}
    for r in results:
        for kind, (cut, n) in truncation(r).items():
            totals[kind] = (totals[kind][0] + cut, totals[kind][1] + n)
    return totals


def node_count_distribution(results: Iterable[Result]) -> dict[int, int]:
    """How many results had each number of nodes (sorted by node count; results without nodes left out)."""
    counts = Counter(len(r.nodes) for r in results if r.nodes)
    return dict(sorted(counts.items()))


def normalise_description(text: str) -> str:
    """A sub-task description for comparison: case-folded, whitespace collapsed, trailing punctuation dropped."""
    return " ".join(text.split()).casefold().rstrip(".,;:!?。 ").strip()


def duplicate_subtasks(result: Result) -> int:
    """Nodes whose (normalised) description repeats an earlier node's of the same plan."""
    seen: set[str] = set()
    duplicates = 0
    for n in sorted(result.nodes, key=lambda n: n.id):
        key = normalise_description(n.description)
        duplicates += key in seen
        seen.add(key)
    return duplicates


def sections(result: Result) -> list[str]:
    """The parts an answer was written in: its nodes' texts (Plato, SoT, PASTA's async spans), else
    its paragraphs (a single answer), so every method's self-repetition is measured alike."""
    written = [n.result for n in sorted(result.nodes, key=lambda n: n.id) if n.result.strip()]
    return written or [p for p in result.answer.split("\n\n") if p.strip()]


def _shingles(text: str, size: int = 3) -> set[tuple[str, ...]]:
    words = _WORDS.findall(text.lower())
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def section_overlap(result: Result) -> float | None:
    """The share of an answer's word 3-grams that also stand in another of its sections (0: no
    section repeats another; 1: every section repeats the others), over all its sections; None
    for an answer of fewer than two sections. Deterministic, unlike a judge, which cannot see
    duplication."""
    shingled = [_shingles(text) for text in sections(result)]
    shingled = [s for s in shingled if s]
    if len(shingled) < 2:
        return None
    counts = Counter(g for s in shingled for g in s)
    return sum(counts[g] > 1 for s in shingled for g in s) / sum(len(s) for s in shingled)


def plan_latency_share(result: Result) -> float | None:
    """Share of the user's wait spent until the plan was complete: plan_done_at / wall_time."""
    if result.plan_done_at is None or result.wall_time <= 0:
        return None
    return result.plan_done_at / result.wall_time


def route_group(result: Result) -> str:
    """The path a question took, in words a table can group by: "parts side by side" (no part
    waits for another), "parts with dependencies", "single request", or "plain: " and the kind of
    reason a method answered plainly (its route reason up to its first colon, e.g. "plain: a math
    word problem")."""
    if result.route == "plain":
        return "plain: " + (result.route_reason or "no reason given").split(":")[0]
    if not result.nodes:
        return "single request"
    return "parts with dependencies" if has_dependencies(result) else "parts side by side"


def has_dependencies(result: Result) -> bool:
    """Whether some part of ``result``'s plan waits for another part's result."""
    return any(n.deps for n in result.nodes)
