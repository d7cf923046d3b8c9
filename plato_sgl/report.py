"""``plato-sgl report DIR``: Markdown tables and PNG plots from a benchmark folder.

First what the user waits for (latency per question and its speed-up over AR, answer length,
truncated requests, plan shape; ``user_section``), then tables that follow the paper: overall
efficiency per method (Table 3 columns plus throughput speed-up and overheads), speed-up per
category (Table 2), the system ablation (Table 4). Plots: speed-up per category, a timeline of one
question (plan streaming, node dispatch/prefill/decode spans, when its answer and AR's answer to the
same question were complete) and its plan's DAG. Speed-ups compare each method with AR on the
questions both answered without error. AR is the variant named ``ar`` unless ``baseline`` names
another (``--baseline``), e.g. a plain answer with other sampling options, such as one fixed by an
issue while the package's defaults moved on.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Sequence

from plato_sgl import metrics, sweep
from plato_sgl.bench import ENVIRONMENT_FILE, Row, load_rows
from plato_sgl.evaluation import DEFAULT_PROMPT
from plato_sgl.result import Result

BASELINE = "ar"
BASELINE_FILE = "report-baseline.txt"  # the baseline a folder's report was last asked for
SCHEDULING_NOTE = (
    "Scheduling efficiency = ideal / measured node-phase makespan (first plan line parsed to last node done), "
    "the ideal having each node decode, for its measured decoding time, from the moment its plan line was "
    "parsed and its dependencies were done; 1.00: nothing on the critical path waited for dispatch or a first "
    "token (`plato_sgl.metrics.scheduling_efficiency`)."
)
Rows = dict[str, dict[str, Row]]
NO_PLOTS_NOTE = (
    "Plots need the `report` extra (`pip install 'plato-sgl[report]'`: matplotlib, networkx); this report has none."
)


def plots_available() -> bool:
    """Whether the plotting extra is installed; without it reports are Markdown tables only."""
    return all(importlib.util.find_spec(name) is not None for name in ("matplotlib", "networkx"))


def ok_results(rows: Rows, variant: str, ids: set[str] | None = None) -> list[Result]:
    """The error-free results of ``variant`` (on the question ``ids`` only, when given)."""
    return [r.result for qid, r in sorted(rows.get(variant, {}).items()) if r.result.ok and (ids is None or qid in ids)]


def common_ids(rows: Rows, variants: Sequence[str]) -> set[str]:
    """Questions answered without error by every one of ``variants``."""
    sets = [{qid for qid, r in rows.get(v, {}).items() if r.result.ok} for v in variants]
    return set.intersection(*sets) if sets else set()


def _fmt(value: float | None, spec: str = ".2f", suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def _table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def overall_table(rows: Rows, baseline: str = BASELINE) -> str:
    """One line per variant: throughput, speed-up, parallel degree, efficiency and overheads."""
    body = []
    for variant in rows:
        results = ok_results(rows, variant)
        errors = len(rows[variant]) - len(results)
        ids = common_ids(rows, [variant, baseline]) if baseline in rows else set()
        speed = metrics.speedup(ok_results(rows, variant, ids), ok_results(rows, baseline, ids)) if ids else None
        body.append(
            [
                variant,
                str(len(results)) + (f" ({errors} failed)" if errors else ""),
                _fmt(metrics.throughput(results)),
                _fmt(speed, ".2f", "x"),
                _fmt(metrics.mean_parallel_degree(results)),
                _fmt(metrics.inference_efficiency(results)),
                _fmt(metrics.mean_of(metrics.extra_prefill_tokens(r) for r in results), ".0f"),
                _fmt(metrics.mean_of(metrics.prefill_time_share(r) for r in results), ".1%"),
                _fmt(metrics.mean_of(metrics.planning_latency(r) for r in results), ".1f", " s"),
                _fmt(metrics.mean_of(metrics.first_dispatch(r) for r in results), ".1f", " s"),
                _fmt(metrics.mean_of(metrics.scheduling_efficiency(r) for r in results)),
            ]
        )
    header = [
        "method",
        "questions",
        "throughput (tok/s)",
        f"throughput speed-up vs {baseline}",
        "parallel degree",
        "inference efficiency",
        "extra prefill (tok/q)",
        "node time to first token",
        "plan latency",
        "first dispatch",
        "scheduling efficiency",
    ]
    return _table(header, body)


def _by_question(rows: Rows, variant: str) -> dict[str, Result]:
    return {qid: r.result for qid, r in rows.get(variant, {}).items() if r.result.ok}


def _count(part: int, whole: int) -> str:
    return f"{part} of {whole}" + (f" ({part / whole:.0%})" if whole else "")


def headline_table(rows: Rows, baseline: str = BASELINE) -> str:
    """Per method, on the questions it and ``baseline`` both answered, the means of what a user
    feels and what it costs the server: latency, the first answer token, uncached prompt tokens,
    and decoded tokens split into plan and answer; then latency against the baseline."""
    base = _by_question(rows, baseline)
    body = []
    for variant in rows:
        by_q = _by_question(rows, variant)
        ids = set(by_q) & set(base) if base else set(by_q)
        results = [by_q[q] for q in sorted(ids)]
        if not results:
            continue
        pairs = metrics.paired({q: by_q[q] for q in ids}, base) if base and variant != baseline else []
        mean = metrics.mean_of
        body.append(
            [
                variant,
                str(len(results)),
                _fmt(mean(r.wall_time for r in results), ".1f", " s"),
                _fmt(mean(metrics.first_answer_token(r) for r in results), ".1f", " s"),
                _fmt(mean(metrics.uncached_tokens(r) for r in results), ".0f"),
                _fmt(mean(metrics.plan_tokens(r) or 0 for r in results), ".0f"),
                _fmt(mean(metrics.answer_tokens(r) for r in results), ".0f"),
                _fmt(metrics.total_time_speedup(pairs), ".2f", "x") if pairs else "-",
                _count(metrics.answered_sooner(pairs), len(pairs)) if pairs else "-",
            ]
        )
    header = [
        "method",
        "questions",
        "latency (mean)",
        "first answer token (mean)",
        "uncached prompt tokens (mean)",
        "plan tokens (mean)",
        "answer tokens (mean)",
        f"latency speed-up vs {baseline}",
        f"sooner than {baseline}",
    ]
    return _table(header, body)


def user_section(rows: Rows, baseline: str = BASELINE) -> list[str]:
    """What the user waits for: latency, latency speed-up over AR, answer length, truncation and the
    plans' shape; per method, on its error-free answers (ratios on the questions it and AR both answered)."""
    base = _by_question(rows, baseline)
    latency, length, plans = [], [], []
    for variant in rows:
        by_q = _by_question(rows, variant)
        results = list(by_q.values())
        if not results:
            continue
        pairs = metrics.paired(by_q, base) if variant != baseline else []
        lat = metrics.latency_summary(results)
        sooner = _count(metrics.answered_sooner(pairs), len(pairs)) if pairs else "-"
        latency.append(
            [
                variant,
                str(len(results)),
                _fmt(lat["mean"], ".1f", " s"),
                _fmt(lat["median"], ".1f", " s"),
                _fmt(lat["p90"], ".1f", " s"),
                _fmt(metrics.total_time_speedup(pairs), ".2f", "x"),
                _fmt(metrics.median_latency_ratio(pairs), ".2f"),
                sooner,
                _fmt(metrics.mean_of(metrics.first_answer_token(r) for r in results), ".1f", " s"),
            ]
        )
        cut = metrics.truncation_totals(results)
        length.append(
            [
                variant,
                _fmt(metrics.mean_of(metrics.answer_tokens(r) for r in results), ".0f"),
                _fmt(metrics.mean_of(r.completion_tokens for r in results), ".0f"),
                _fmt(metrics.mean_of(metrics.answer_words(r) for r in results), ".0f"),
                _fmt(metrics.median_ratio(pairs, metrics.answer_tokens), ".2f"),
                _fmt(metrics.median_ratio(pairs, metrics.answer_words), ".2f"),
                _count(*cut["answer"]) if cut["answer"][1] else "-",
                _count(*cut["node"]) if cut["node"][1] else "-",
                _fmt(metrics.mean_of(metrics.section_overlap(r) for r in results), ".1%"),
            ]
        )
        with_nodes = [r for r in results if r.nodes]
        if with_nodes:
            counts = metrics.node_count_distribution(with_nodes)
            nodes = sum(len(r.nodes) for r in with_nodes)
            plans.append(
                [
                    variant,
                    str(len(with_nodes)),
                    ", ".join(f"{k}: {v}" for k, v in counts.items()),
                    _count(sum(metrics.duplicate_subtasks(r) for r in with_nodes), nodes),
                    _fmt(metrics.mean_of(metrics.plan_tokens(r) for r in with_nodes), ".0f"),
                    _fmt(metrics.mean_of(metrics.planning_latency(r) for r in with_nodes), ".1f", " s"),
                    _fmt(metrics.mean_of(metrics.plan_latency_share(r) for r in with_nodes), ".0%"),
                ]
            )
    latency_header = [
        "method",
        "questions",
        "mean latency",
        "median",
        "p90",
        f"latency speed-up vs {baseline}",
        f"median latency ratio to {baseline}",
        f"answered sooner than {baseline}",
        "first answer token (mean)",
    ]
    length_header = [
        "method",
        "answer tokens (mean)",
        "decoded tokens (mean)",
        "words (mean)",
        f"token ratio to {baseline}",
        f"word ratio to {baseline}",
        "truncated answers",
        "truncated nodes",
        "repeated across sections",
    ]
    if not base:  # nothing to compare with (e.g. the ablation): drop the columns against the baseline
        keep_latency, keep_length = [0, 1, 2, 3, 4, 8], [0, 1, 2, 3, 6, 7, 8]
        latency_header, latency = (
            [latency_header[k] for k in keep_latency],
            [[row[k] for k in keep_latency] for row in latency],
        )
        length_header, length = (
            [length_header[k] for k in keep_length],
            [[row[k] for k in keep_length] for row in length],
        )
    lines = [
        "## What the user waits for",
        "Latency = a question's wall time, from sending it to the complete answer. First answer token = when the "
        "answer's first text could be shown, streamed in reading order (`plato_sgl.metrics.first_answer_token`)."
        + (
            f" Speed-up = total {baseline} time / total method time; ratio = median over questions of method / "
            f"{baseline} latency (above 1: slower); both on the questions the method and {baseline} answered."
            if base
            else ""
        ),
        "",
        _table(latency_header, latency),
        "",
        "Answer tokens = completion tokens of the requests whose text is the answer (nodes; single answers and "
        "fallbacks; PASTA's main branch), not the plan or skeleton; decoded tokens adds those (what throughput "
        "counts). Words = whitespace-separated words of the answer."
        + (f" Length ratio = median over questions of method / {baseline}." if base else "")
        + " Truncated = stopped at the token cap: completion tokens reached `max_tokens` (answers) or "
        "`node_max_tokens` (nodes); no finish reason is stored, so one that ended on exactly its last allowed "
        "token counts too. Repeated across sections = the share of an answer's word 3-grams that also stand in "
        "another of its sections (nodes, or a single answer's paragraphs; `plato_sgl.metrics.section_overlap`), "
        "mean over answers of two sections or more.",
        "",
        _table(length_header, length),
        "",
    ]
    if plans:
        lines += [
            "Plans: nodes per plan (node count: plans), sub-tasks repeating an earlier one of the same plan "
            "(case, whitespace and trailing punctuation ignored), the plan's (skeleton's) tokens and "
            "latency, and its share of the question's latency (plan done / wall time, mean).",
            "",
            _table(
                [
                    "method",
                    "plans",
                    "nodes per plan",
                    "repeated sub-tasks",
                    "plan tokens (mean)",
                    "plan latency (mean)",
                    "plan share of latency",
                ],
                plans,
            ),
            "",
        ]
    return lines


def category_speedups(rows: Rows, kind: str = "latency", baseline: str = BASELINE) -> dict[str, dict[str, float]]:
    """Speed-up over AR per category and variant, on questions both answered: ``kind`` "latency"
    (total AR time / total method time, what the user waits for) or "throughput" (the paper's)."""
    table: dict[str, dict[str, float]] = {}
    for variant in rows:
        if variant == baseline:
            continue
        ids = common_ids(rows, [variant, baseline])
        categories = {rows[variant][qid].question.category or "all" for qid in ids}
        for category in sorted(categories):
            in_cat = sorted(qid for qid in ids if (rows[variant][qid].question.category or "all") == category)
            mine, base = ok_results(rows, variant, set(in_cat)), ok_results(rows, baseline, set(in_cat))
            if kind == "latency":
                value = metrics.total_time_speedup(
                    [(rows[variant][q].result, rows[baseline][q].result) for q in in_cat]
                )
            else:
                value = metrics.speedup(mine, base)
            table.setdefault(category, {})[variant] = value or 0.0
    return table


def category_table(speedups: dict[str, dict[str, float]]) -> str:
    variants = sorted({v for per in speedups.values() for v in per})
    body = [[category, *(_fmt(per.get(v), ".2f", "x") for v in variants)] for category, per in sorted(speedups.items())]
    return _table(["category", *variants], body)


def targets_table(rows: Rows, baseline: str = BASELINE) -> str | None:
    """Issue 16's targets, measured in this run: Plato's latency speed-up, auto's in its worst
    category, Plato's answer length against AR's, truncated nodes, Plato's throughput speed-up.
    None when the run has no plato or no ar."""
    if "plato" not in rows or baseline not in rows:
        return None
    base, plato = _by_question(rows, baseline), _by_question(rows, "plato")
    pairs = metrics.paired(plato, base)
    cut, nodes = metrics.truncation_totals(plato.values())["node"]
    ids = common_ids(rows, ["plato", baseline])
    found = [
        (
            f"Plato latency speed-up over {baseline} (total time)",
            metrics.total_time_speedup(pairs),
            lambda v: v >= 1.3,
            ">= 1.3x",
            ".2f",
            "x",
        ),
        (
            f"Plato answer length / {baseline} answer length (tokens, median)",
            metrics.median_ratio(pairs, metrics.answer_tokens),
            lambda v: 0.7 <= v <= 1.5,
            "0.7 to 1.5",
            ".2f",
            "",
        ),
        ("truncated node requests", cut / nodes if nodes else None, lambda v: v <= 0.05, "<= 5%", ".1%", ""),
        (
            f"Plato throughput speed-up over {baseline}",
            metrics.speedup(ok_results(rows, "plato", ids), ok_results(rows, baseline, ids)) if ids else None,
            lambda v: v >= 1.5,
            ">= 1.5x",
            ".2f",
            "x",
        ),
    ]
    if "auto" in rows:
        per_category = {c: v["auto"] for c, v in category_speedups(rows, baseline=baseline).items() if "auto" in v}
        worst = min(per_category, key=per_category.get, default=None)
        found.insert(
            1,
            (
                f"auto latency speed-up over {baseline}, worst category ({worst})",
                per_category.get(worst),
                lambda v: v >= 1.0,
                ">= 1.0x in every category",
                ".2f",
                "x",
            ),
        )
    body = [
        [name, target, _fmt(value, spec, suffix), "-" if value is None else ("met" if ok(value) else "missed")]
        for name, value, ok, target, spec, suffix in found
    ]
    return _table(["figure", "target", "measured", ""], body)


def has_dependencies(result: Result) -> bool:
    return any(n.deps for n in result.nodes)


def ablation_table(rows: Rows) -> str | None:
    """Table 4: latency with and without pipelining, extra prefill with and without the global context;
    the latter also on plans with dependencies only, since a plan without any costs the dependency-only
    context next to nothing (a split the paper's Table 4 does not need: its plans mostly had some)."""
    parts = [
        ("pipelining: latency (s)", "plato-plan-first", lambda r: r.wall_time, False),
        ("global context: extra prefill (tokens)", "plato-deps-context", metrics.extra_prefill_tokens, False),
        ("global context, plans with dependencies", "plato-deps-context", metrics.extra_prefill_tokens, True),
    ]
    body = []
    for label, before, measure, deps_only in parts:
        ids = common_ids(rows, ["plato", before])
        if deps_only:
            ids = {qid for qid in ids if all(has_dependencies(rows[v][qid].result) for v in ("plato", before))}
        if not ids:
            continue
        old = metrics.mean_of(measure(r) for r in ok_results(rows, before, ids))
        new = metrics.mean_of(measure(r) for r in ok_results(rows, "plato", ids))
        reduction = 1 - new / old if old else None
        body.append([label, str(len(ids)), _fmt(old, ".1f"), _fmt(new, ".1f"), _fmt(reduction, ".0%")])
    if not body:
        return None
    return _table(["optimization", "questions", "before", "after", "reduction"], body)


def pick_example(rows: Rows, variant: str = "plato") -> Row | None:
    """The question whose plan has the highest parallel degree (ties: most nodes), for the plots."""
    candidates = [r for r in rows.get(variant, {}).values() if r.result.ok and r.result.nodes]
    return max(candidates, key=lambda r: (r.result.parallel_degree, len(r.result.nodes)), default=None)


def plot_category_speedups(speedups: dict[str, dict[str, float]], path: Path, baseline: str = BASELINE) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    categories = sorted(speedups)
    variants = sorted({v for per in speedups.values() for v in per})
    width = 0.8 / max(1, len(variants))
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(categories)), 4))
    for i, variant in enumerate(variants):
        xs = [c + i * width for c in range(len(categories))]
        ax.bar(xs, [speedups[c].get(variant, 0) for c in categories], width, label=variant)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(
        [c + width * (len(variants) - 1) / 2 for c in range(len(categories))], categories, rotation=30, ha="right"
    )
    ax.set_ylabel(f"latency speed-up vs {baseline}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_timeline(result: Result, path: Path, ar_done: float | None = None, baseline: str = BASELINE) -> None:
    """Gantt chart: the plan stream, then per node its wait for the first token and its decoding;
    ``ar_done``: when AR's answer to the same question was complete (a vertical line), if known."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nodes = result.nodes
    fig, ax = plt.subplots(figsize=(9, max(3.0, 1 + 0.45 * (len(nodes) + 1))))
    plan_start = result.plan_first_token_at or 0.0
    ax.barh(0, (result.plan_done_at or 0) - plan_start, left=plan_start, color="#999999")
    for n in nodes:
        ax.plot([n.parsed_at], [0], marker="|", color="black", markersize=12)
    for row, n in enumerate(nodes, start=1):
        if None in (n.dispatched_at, n.started_at, n.finished_at):
            continue
        ax.barh(row, n.started_at - n.dispatched_at, left=n.dispatched_at, color="#f4b183")
        ax.barh(row, n.finished_at - n.started_at, left=n.started_at, color="#2e75b6")
        for dep in n.deps:
            ax.annotate(
                "",
                xy=(n.dispatched_at, row),
                xytext=(result.node(dep).finished_at, nodes.index(result.node(dep)) + 1),
                arrowprops=dict(arrowstyle="->", color="#555555", lw=0.7),
            )
    ax.set_yticks(range(len(nodes) + 1), ["plan"] + [f"{n.id}. {n.description[:28]}" for n in nodes])
    ax.invert_yaxis()
    done = result.wall_time
    ax.axvline(
        done, color="black", linestyle=":", linewidth=1.2, label=f"{result.method} answer complete ({done:.0f} s)"
    )
    if ar_done is not None:
        ax.axvline(
            ar_done,
            color="#c00000",
            linestyle="--",
            linewidth=1.2,
            label=f"{baseline} answer complete ({ar_done:.0f} s)",
        )
    ax.set_xlim(left=0)  # the user waits from the moment the question is sent
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=8, frameon=False)
    ax.set_xlabel("seconds since the question was sent")
    ax.set_title(
        "plan stream (grey, ticks: lines complete), node wait for first token (orange), decoding (blue)", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")  # the legend is below the axes
    plt.close(fig)


def plot_dag(result: Result, path: Path) -> None:
    """The plan's dependency graph, one column per depth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    graph = nx.DiGraph()
    depth: dict[int, int] = {}
    for n in result.nodes:
        depth[n.id] = 1 + max((depth[d] for d in n.deps if d in depth), default=0)
        graph.add_node(n.id, layer=depth[n.id])
        graph.add_edges_from((d, n.id) for d in n.deps)
    positions = nx.multipartite_layout(graph, subset_key="layer")
    fig, ax = plt.subplots(figsize=(2.5 + 2 * max(depth.values(), default=1), max(3.0, 1 + 0.7 * len(result.nodes))))
    nx.draw_networkx(graph, positions, ax=ax, node_color="#2e75b6", font_color="white", node_size=500, arrows=True)
    for n in result.nodes:
        x, y = positions[n.id]
        ax.annotate(
            n.description[:34], (x, y), xytext=(0, -14), textcoords="offset points", ha="center", va="top", fontsize=7
        )
    ax.set_title(f"critical path {result.critical_path}, parallel degree {result.parallel_degree:.2f}", fontsize=9)
    ax.margins(0.15)
    ax.axis("off")
    fig.savefig(path, dpi=120, bbox_inches="tight")  # labels may reach past the axes
    plt.close(fig)


def load_table(figures: Sequence[sweep.LevelFigures], baseline: str = BASELINE) -> str:
    """The load sweep's table: one line per level and variant (pure: figures in, Markdown out)."""
    body = []
    for f in figures:
        sooner = "-" if f.sooner is None else _count(*f.sooner)
        questions = (
            str(f.questions)
            + (f" ({f.failed} failed)" if f.failed else "")
            + (f", {f.below_level} in a smaller batch" if f.below_level else "")
        )
        body.append(
            [
                str(f.level),
                f.variant,
                questions,
                _fmt(f.throughput, ".1f"),
                _fmt(f.latency_mean, ".1f", " s"),
                _fmt(f.latency_p90, ".1f", " s"),
                _fmt(f.first_token_mean, ".1f", " s"),
                _fmt(f.speedup, ".2f", "x"),
                sooner,
            ]
        )
    return _table(
        [
            "concurrency",
            "method",
            "questions",
            "aggregate throughput (tok/s)",
            "mean latency",
            "p90 latency",
            "first answer token (mean)",
            f"latency speed-up vs {baseline}",
            f"answered sooner than {baseline}",
        ],
        body,
    )


def load_lines(levels: dict[int, Rows], plot: str | None = None, baseline: str = BASELINE) -> list[str]:
    """The load sweep's section (pure: rows of each level in, Markdown lines out): the per-level table,
    where Plato (and auto) stop being sooner than AR, computed from it, and the plot's link if any."""
    figures = sweep.sweep_figures(levels, baseline)
    if not figures:
        return []
    findings = [
        sweep.crossover(figures, method).sentence(baseline)
        for method in ("plato", "auto")
        if any(f.variant == method for f in figures)
    ]
    lines = [
        "## Under load (concurrency sweep)",
        "At concurrency N a batch is N questions of one method sent together; batches of every level and method "
        "were interleaved through the run. Aggregate throughput = completion tokens of a level's answers / the "
        "wall time of its batches (first question sent to last answer complete, summed over batches). Latency "
        f"and first answer token as above, per question; speed-up = total {baseline} time / total method time on the "
        "questions both answered at that level (`plato_sgl.sweep`).",
        "",
        load_table(figures, baseline),
        "",
    ]
    lines += [f"**{text}**" for text in findings] + ([""] if findings else [])
    if plot:
        lines += [f"![latency against load]({plot})", ""]
    return lines


def plot_load(series: dict[str, list[tuple[int, float, float | None]]], path: Path) -> None:
    """Mean latency (solid) and p90 (dashed) against concurrency, one colour per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for variant, points in sorted(series.items()):
        levels = [p[0] for p in points]
        (line,) = ax.plot(levels, [p[1] for p in points], marker="o", label=f"{variant} (mean)")
        p90 = [(level, p[2]) for level, p in zip(levels, points) if p[2] is not None]
        if p90:
            ax.plot(
                [level for level, _ in p90],
                [v for _, v in p90],
                linestyle="--",
                color=line.get_color(),
                alpha=0.7,
                label=f"{variant} (p90)",
            )
    levels = sorted({p[0] for points in series.values() for p in points})
    ax.set_xscale("log", base=2)
    ax.set_xticks(levels, [str(level) for level in levels])
    ax.set_xlabel("concurrency (questions of one method sent together)")
    ax.set_ylabel("latency per question (s)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def load_section(folder: Path, plots: bool, baseline: str = BASELINE) -> list[str]:
    """The load sweep's section for a folder holding ``concurrency-N`` level folders ([] otherwise),
    with ``load.png`` when ``plots``."""
    levels = {level: load_rows(path) for level, path in sweep.level_folders(folder).items()}
    levels = {level: rows for level, rows in levels.items() if rows}
    if not levels:
        return []
    series = sweep.latency_series(sweep.sweep_figures(levels, baseline))
    if plots and series:
        plot_load(series, folder / "load.png")
    return load_lines(levels, "load.png" if plots and series else None, baseline)


def environment_lines(folder: Path) -> list[str]:
    """The environment of the first invocation; where a later one (``--resume``) recorded another
    value for what was measured (model, versions, options...), every value, so mixed runs show."""
    path = folder / ENVIRONMENT_FILE
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    first = records[0]
    lines = []
    for key in (
        "model",
        "chat_template",
        "url",
        "workers",
        "device",
        "cpu",
        "sglang",
        "plato_sgl",
        "concurrency",
        "max_inflight",
        "dataset",
        "question_set",
        "cache",
        "options",
        "command",
    ):
        values = [first.get(key)]
        for record in records[1:] if key not in ("url", "command") else ():  # a new port and --resume every time
            if record.get(key) not in values:
                values.append(record.get(key))
        shown = " / ".join(f"`{v}`" for v in values if v is not None)
        if shown:
            lines.append(f"- {key}: {shown}" + (" (differs between invocations)" if len(values) > 1 else ""))
    return lines + [f"- invocations: {len(records)} (first started {first.get('started')})"]


def quality_section(rows: Rows, folder: Path) -> list[str]:
    """Net win rates from the judgements cached in ``folder`` (Table 1 and Figure 4 shapes), a table
    and a plot per judge when a folder was judged by several."""
    from plato_sgl.judge import judges_of, load_judgements

    judgements = load_judgements(folder)
    judges = judges_of(judgements.values())
    pairs = sorted({tuple(j.pair.split(":", 1)) for j in judgements.values()})
    lines = []
    for n, (judge, prompt_name) in enumerate(judges):
        plot = "win_rates.png" if len(judges) == 1 else f"win_rates_{n + 1}.png"
        lines += judge_lines(folder, judge, pairs, plot, prompt_name)
    if lines:
        lines = [
            "## Answer quality (pairwise judge, both answer orders)",
            "FastChat pair-v2 prompt (a judge named with `pair-v2-verdict`: the same prompt asking for the verdict "
            "alone, no explanation). A win (loss) needs the same preference in both orders; any "
            "disagreement, e.g. position bias, counts as a tie. Net win rate = (wins - losses) / questions.",
            "",
            *lines,
        ]
    return lines


def judge_lines(
    folder: Path, judge: str, pairs: Sequence[tuple[str, str]], plot: str, prompt_name: str = DEFAULT_PROMPT
) -> list[str]:
    """One judge's (model and prompt format) win/tie/loss table, net win rates per category and
    plot (saved as ``plot``)."""
    from plato_sgl.evaluation import first_position_share
    from plato_sgl.judge import current_judgements, judge_flags, judge_label, outcomes_of, tallies

    current = current_judgements(folder, pairs, judge, prompt_name)
    per_pair = outcomes_of(current)
    counts = tallies(folder, per_pair)
    if not counts:
        return []
    first, decided = first_position_share(j.verdict for per in current.values() for both in per.values() for j in both)
    lines = [
        f"Judge: `{judge_label(judge, prompt_name)}`. Position bias: it preferred the answer shown first in {first} of the {decided} "
        f"judgements that preferred one ({_fmt(first / decided if decided else None, '.0%')}; 50% is none).",
        "",
        f"Judged with `plato-sgl judge {folder} --pairs {','.join(f'{a}:{b}' for a, b in counts)} {judge_flags(judge, prompt_name)}` "
        "(or `--judge-url URL` of a server serving it); judgements cached in judgements.jsonl.",
        "",
    ]
    body = []
    for pair, by_category in counts.items():
        t, errors = by_category["all"], sum(1 for o in per_pair[pair].values() if o == "error")
        body.append(
            [
                f"{pair[0]} vs {pair[1]}",
                str(t.wins),
                str(t.ties),
                str(t.losses),
                str(errors),
                _fmt(t.net_win_rate, ".0%"),
            ]
        )
    lines += [_table(["pair", "wins", "ties", "losses", "no verdict", "net win rate"], body), ""]
    lines += debiased_lines(folder, judge, list(counts), prompt_name)
    categories = sorted({c for by_category in counts.values() for c in by_category} - {"all"})
    if categories:
        header = ["category", *(f"{a} vs {b}" for a, b in counts)]
        body = [
            [c, *(_fmt(by.get(c).net_win_rate, ".0%") if by.get(c) else "-" for by in counts.values())]
            for c in categories
        ]
        lines += ["Net win rate per category:", "", _table(header, body), ""]
    if not plots_available():
        return lines
    plot_win_rates(counts, folder / plot)
    return lines + [f"![wins, ties and losses per pair]({plot})", ""]


def _ci(value: float | None, interval: tuple[float, float] | None, spec: str = "+.0%") -> str:
    """A value with its interval: "+12% [+3%, +20%]"."""
    if value is None:
        return "-"
    return f"{value:{spec}}" + (f" [{interval[0]:{spec}}, {interval[1]:{spec}}]" if interval else "")


def pair_summaries(
    folder: Path, judge: str, pairs: Sequence[tuple[str, str]], prompt_name: str = DEFAULT_PROMPT
) -> dict:
    """``evaluation.summarize_pair`` of each pair ``judge`` judged in ``folder`` with ``prompt_name``,
    with its records: {pair: (summary, records)}."""
    from plato_sgl.evaluation import summarize_pair
    from plato_sgl.judge import pair_records

    result = {}
    for pair, records in pair_records(folder, pairs, judge, prompt_name).items():
        result[pair] = (
            summarize_pair(
                [r.outcome for r in records],
                [r.preference for r in records],
                [r.position for r in records],
                [r.length_ratio for r in records],
            ),
            records,
        )
    return result


def debiased_lines(
    folder: Path, judge: str, pairs: Sequence[tuple[str, str]], prompt_name: str = DEFAULT_PROMPT
) -> list[str]:
    """The position-debiased and length-controlled net preferences of each pair with 95% bootstrap
    intervals over questions, the judge's position preference before debiasing, and each question's
    length ratio beside its outcome (issue 17)."""
    summaries = pair_summaries(folder, judge, pairs, prompt_name)
    if not summaries:
        return []
    body = []
    for (a, b), (s, _) in summaries.items():
        body.append(
            [
                f"{a} vs {b}",
                str(s.questions),
                _ci(s.net, s.net_interval),
                _ci(s.debiased, s.debiased_interval)
                + ("" if s.debiased is not None else f" ({s.debiased_questions} with probabilities)"),
                _ci(s.debiased_net, s.debiased_net_interval),
                _ci(s.length_controlled, s.length_controlled_interval) + f" ({s.length_controlled_of})",
                _fmt(s.median_length_ratio, ".2f"),
                _ci(s.position, s.position_interval, "+.2f"),
            ]
        )
    lines = [
        "Position-debiased and length-controlled (95% bootstrap intervals over questions, 2000 resamples, "
        "`plato_sgl.stats`). Net win, hard rule = (wins - losses) / questions, as above. Debiased net preference = "
        "mean over questions of ((P_ab(A) - P_ab(B)) + (P_ba(B) - P_ba(A))) / 2, the judge's verdict probabilities "
        "in both orders averaged, so a preference for a position cancels (`evaluation.debiased_preference`). "
        "Debiased net win = (wins - losses) / questions with each question won or lost by the sign of its "
        "debiased preference (a judge with nearly flat probabilities gives small preferences that still order "
        "the answers; the calibration counts them the same way). "
        "Length-controlled = the logistic fit of that preference (of the hard outcome where probabilities are "
        "missing) on the log word ratio, read at equal length (AlpacaEval 2's idea). Word ratio = the first "
        "method's words / the second's (median). Position preference = mean P(answer shown first) - P(shown "
        "second) before debiasing (0: none); the debiased preference has none by construction.",
        "",
        _table(
            [
                "pair",
                "questions",
                "net win, hard rule",
                "debiased net preference",
                "debiased net win",
                "length-controlled",
                "word ratio",
                "position preference",
            ],
            body,
        ),
        "",
    ]
    lines += position_bias_lines(folder, judge, list(summaries), prompt_name)
    for (a, b), (_, records) in summaries.items():
        rows = [
            [r.question_id, r.category or "-", f"{r.length_ratio:.2f}", r.outcome, _fmt(r.preference, "+.2f")]
            for r in records
        ]
        lines += [
            f"<details><summary>{a} vs {b}: each question's length ratio and outcome</summary>",
            "",
            _table(["question", "category", f"words {a} / {b}", "hard rule", "debiased preference"], rows),
            "",
            "</details>",
            "",
        ]
    return lines


def position_bias_lines(
    folder: Path, judge: str, pairs: Sequence[tuple[str, str]], prompt_name: str = DEFAULT_PROMPT
) -> list[str]:
    """The judge's position bias in probabilities, before and after removing its mean position
    preference from every judgement (``evaluation.first_preferred_share``); nothing without probabilities."""
    from plato_sgl.evaluation import first_preferred_share
    from plato_sgl.judge import current_judgements

    probs = [
        j.probabilities
        for per in current_judgements(folder, pairs, judge, prompt_name).values()
        for both in per.values()
        for j in both
        if j.probabilities is not None
    ]
    if not probs:
        return []
    mean = sum(p["A"] - p["B"] for p in probs) / len(probs)
    (before, n), (after, m) = first_preferred_share(probs), first_preferred_share(probs, mean)
    return [
        f"Position bias in probabilities: before debiasing, the answer shown first was the likelier winner in "
        f"{_count(before, n)} of the judgements with a preference; with the judge's mean position preference "
        f"({mean:+.2f}) taken out of every judgement, in {_count(after, m)}; 50% means none is left. The debiased "
        "preference averages both orders of each question, so it carries none by construction.",
        "",
    ]


def plot_win_rates(counts: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{a} vs {b}" for a, b in counts]
    fig, ax = plt.subplots(figsize=(7, 1 + 0.6 * len(labels)))
    left = [0.0] * len(labels)
    for name, color in (("wins", "#2e75b6"), ("ties", "#bfbfbf"), ("losses", "#c00000")):
        shares = [getattr(by["all"], name) / max(1, by["all"].questions) for by in counts.values()]
        ax.barh(labels, shares, left=left, color=color, label=name)
        left = [start + s for start, s in zip(left, shares)]
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of questions")
    ax.legend(loc="lower right", fontsize=8)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def graded(rows: Rows, variant: str) -> dict[str, bool]:
    """Per question with a GSM8K-style '#### number' reference: whether ``variant``'s answer is
    correct (a failed answer is not)."""
    from plato_sgl.evaluation import is_correct

    return {
        qid: r.result.ok and is_correct(r.result.answer, r.question.reference)
        for qid, r in rows.get(variant, {}).items()
        if r.question.reference and "####" in r.question.reference
    }


def correctness_gap(
    rows: Rows, variant: str, baseline: str = BASELINE
) -> tuple[float, tuple[float, float] | None, int] | None:
    """(correctness of ``variant`` - correctness of AR, its 95% paired bootstrap interval, questions),
    on the graded questions both were run on; None when there are none."""
    from plato_sgl.stats import paired_difference_interval

    mine, base = graded(rows, variant), graded(rows, baseline)
    ids = sorted(set(mine) & set(base))
    if not ids:
        return None
    values, reference = [float(mine[q]) for q in ids], [float(base[q]) for q in ids]
    return (sum(values) - sum(reference)) / len(ids), paired_difference_interval(values, reference), len(ids)


def correctness_section(rows: Rows, baseline: str = BASELINE) -> list[str]:
    """GSM8K-style correctness for datasets whose questions carry a '#### number' reference: per
    method (the paper's Table 5 shape) with its difference from AR, then the latency and throughput
    speed-ups over AR on the same questions (Table 6 shape)."""
    correctness, speed = [], []
    for variant in rows:
        grades = graded(rows, variant)
        if not grades:
            continue
        right = sum(grades.values())
        gap = correctness_gap(rows, variant, baseline) if variant != baseline and baseline in rows else None
        correctness.append(
            [
                variant,
                str(len(grades)),
                str(right),
                _fmt(right / len(grades), ".1%"),
                "-"
                if gap is None
                else _ci(gap[0] * 100, (gap[1][0] * 100, gap[1][1] * 100) if gap[1] else None, "+.1f"),
            ]
        )
        if variant != baseline and baseline in rows:
            pairs = metrics.paired(_by_question(rows, variant), _by_question(rows, baseline))
            ids = common_ids(rows, [variant, baseline])
            speed.append(
                [
                    variant,
                    str(len(pairs)),
                    _fmt(metrics.total_time_speedup(pairs), ".2f", "x"),
                    _fmt(metrics.median_latency_ratio(pairs), ".2f"),
                    _fmt(
                        metrics.speedup(ok_results(rows, variant, ids), ok_results(rows, baseline, ids))
                        if ids
                        else None,
                        ".2f",
                        "x",
                    ),
                    _fmt(metrics.median_ratio(pairs, metrics.answer_tokens), ".2f"),
                ]
            )
    if not correctness:
        return []
    lines = [
        "## GSM8K correctness (Table 5 shape)",
        "Correct = the answer's final number equals the reference's `####` number (`evaluation.final_number`: an "
        'explicit final answer, "the answer is N", `#### N` or `\\boxed{N}`, wins over the last number); a failed '
        f"answer counts as wrong. Difference = method - {baseline} in percentage points on the questions both ran, "
        "with its 95% paired bootstrap interval over questions.",
        "",
        _table(["method", "questions", "correct", "correctness", f"vs {baseline} (points)"], correctness),
        "",
    ]
    if speed:
        lines += [
            f"## GSM8K speed-up over {baseline} (Table 6 shape)",
            f"On the questions the method and {baseline} both answered: latency speed-up = total {baseline} time / "
            f"total method time; latency ratio = median of method / {baseline} latency; throughput speed-up = the "
            f"paper's; token ratio = median answer tokens method / {baseline}.",
            "",
            _table(
                [
                    "method",
                    "questions",
                    "latency speed-up",
                    "median latency ratio",
                    "throughput speed-up",
                    "answer token ratio",
                ],
                speed,
            ),
            "",
        ]
    return lines


def targets17_table(rows: Rows, folder: Path, baseline: str = BASELINE) -> str | None:
    """Issue 17's targets, as far as this run measures them: Plato's debiased net preference, and its
    debiased net win, over SoT (>= +30%) and over AR (>= 0) per judge, GSM8K correctness of Plato
    (>= AR - 2 points) and of auto (>= AR - 1 point); each with its 95% interval, and by how much a
    missed one missed. None when the run measures none of them."""
    from plato_sgl.judge import judge_label, judges_of, load_judgements

    found = []  # (figure, target text, value, interval, bar, unit scale, unit)
    for judge, prompt_name in judges_of(load_judgements(folder).values()):
        summaries = pair_summaries(folder, judge, [("plato", "sot"), ("plato", baseline)], prompt_name)
        for (a, b), bar in ((("plato", "sot"), 0.30), (("plato", baseline), 0.0)):
            if (a, b) in summaries:
                s = summaries[(a, b)][0]
                for figure, value, interval in (
                    ("debiased net preference", s.debiased, s.debiased_interval),
                    ("debiased net win", s.debiased_net, s.debiased_net_interval),
                ):
                    found.append(
                        (
                            f"{a} vs {b}: {figure}, judge `{judge_label(judge, prompt_name)}` ({s.questions} questions)",
                            f">= {bar:+.0%}",
                            value,
                            interval,
                            bar,
                            100,
                            "%",
                        )
                    )
    for variant, bar in (("plato", -0.02), ("auto", -0.01)):
        gap = correctness_gap(rows, variant, baseline) if variant in rows and baseline in rows else None
        if gap is not None:
            found.append(
                (
                    f"GSM8K correctness, {variant} - {baseline} ({gap[2]} questions)",
                    f">= {bar * 100:+.0f} points",
                    gap[0],
                    gap[1],
                    bar,
                    100,
                    " points",
                )
            )
    if not found:
        return None
    body = []
    for name, target, value, interval, bar, scale, unit in found:
        if value is None:
            body.append([name, target, "- (no verdict probabilities: run `plato-sgl judge` again)", "-"])
            continue
        shown = f"{value * scale:+.1f}{unit}" + (
            f" [{interval[0] * scale:+.1f}, {interval[1] * scale:+.1f}]" if interval else ""
        )
        status = (
            "met"
            if value >= bar - 1e-12
            else f"missed by {(bar - value) * scale:.1f}{' points' if unit == '%' else unit}"
        )
        body.append([name, target, shown, status])
    return _table(["figure", "target", "measured [95% interval]", ""], body)


def write_report(folder: str | Path, baseline: str | None = None) -> Path:
    """Write ``report.md`` and its PNGs into ``folder``, comparing every method with ``baseline``;
    returns the report's path.

    A baseline given is remembered in the folder, and a report written without one (after a
    ``bench --resume`` or a ``judge``) uses the folder's remembered baseline, else ``ar``: a report
    never switches baseline behind its reader's back.
    """
    folder = Path(folder)
    remembered = folder / BASELINE_FILE
    given = baseline is not None
    if not given:
        baseline = remembered.read_text().strip() if remembered.exists() else BASELINE
    rows = load_rows(folder)
    sweep_levels = sweep.level_folders(folder) if not rows else {}
    if sweep_levels:  # a load sweep: the sections below describe its lowest level, the load section every level
        lowest = next(iter(sweep_levels.values()))
        rows = load_rows(lowest)
    if not rows:
        raise ValueError(f"{folder} holds no benchmark results (*.jsonl)")
    if baseline != BASELINE and baseline not in rows:
        raise ValueError(f"baseline {baseline!r} is not a method of {folder}; its methods: {', '.join(rows)}")
    if given:
        remembered.write_text(baseline + "\n")
    plots = plots_available()
    targets = targets_table(rows, baseline)
    sections = [
        "# plato-sgl benchmark report",
        *environment_lines(folder),
        f"- baseline: `{baseline}` (every method is compared with it; `plato-sgl report DIR --baseline M` changes it)",
        "",
        *([] if plots else [NO_PLOTS_NOTE, ""]),
        "## Against a plain answer",
        f"Means over the questions each method and `{baseline}` both answered. Uncached prompt tokens = prompt "
        "tokens the server computed for the question (prompt minus cached, every request); plan tokens = the "
        "plan's or skeleton's decoded tokens; answer tokens = those of the answer's text. Speed-up = total "
        f"`{baseline}` time / total method time.",
        "",
        headline_table(rows, baseline),
        "",
        *(["## Targets (issue 16)", targets, ""] if targets else []),
        *(["## Targets (issue 17)", targets17, ""] if (targets17 := targets17_table(rows, folder, baseline)) else []),
        *user_section(rows, baseline),
        "## Throughput and the paper's efficiency metrics",
        overall_table(rows, baseline),
        "",
        SCHEDULING_NOTE,
        "",
    ]
    if sweep_levels:
        sections[1:1] = [
            f'- load sweep: the sections other than "Under load" are those of its lowest level, `{lowest.name}`'
        ]
        sections += load_section(folder, plots, baseline)
    speedups = category_speedups(rows, baseline=baseline)
    if speedups:
        if plots:
            plot_category_speedups(speedups, folder / "speedup_by_category.png", baseline)
        sections += [
            "## Speed-up per category",
            f"Latency speed-up (total {baseline} time / total method time):",
            "",
            category_table(speedups),
            "",
            *(["![latency speed-up per category](speedup_by_category.png)", ""] if plots else []),
            "Throughput speed-up (the paper's Table 2):",
            "",
            category_table(category_speedups(rows, "throughput", baseline)),
            "",
        ]
    ablation = ablation_table(rows)
    if ablation:
        sections += ["## Ablation (Table 4)", ablation, ""]
    example = pick_example(rows)
    if example is not None:
        reference = rows.get(baseline, {}).get(example.question.id)
        ar_done = reference.result.wall_time if reference is not None and reference.result.ok else None
        category = f" ({example.question.category})" if example.question.category else ""  # GSM8K has none
        sections += [
            f"## One question up close: {example.question.id}{category}",
            f"> {example.question.text}",
            "",
            "```",
            example.result.plan.rstrip(),
            "```",
        ]
        if plots:
            plot_timeline(example.result, folder / "timeline.png", ar_done=ar_done, baseline=baseline)
            plot_dag(example.result, folder / "dag.png")
            sections += ["![timeline](timeline.png)", "", "![plan DAG](dag.png)"]
        sections += [""]
    from plato_sgl.calibration import calibration_lines

    sections += (
        quality_section(rows, folder) + calibration_lines(folder / "calibration") + correctness_section(rows, baseline)
    )
    path = folder / "report.md"
    path.write_text("\n".join(sections), encoding="utf-8")
    return path
