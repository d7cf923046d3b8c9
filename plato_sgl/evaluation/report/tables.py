"""The report's Markdown tables of a benchmark folder's rows: speed, length, plans, categories, ablation, load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from plato_sgl.core.result import Result
from plato_sgl.evaluation import metrics, sweep
from plato_sgl.evaluation.records import BASELINE, ENGINE_FILE, ENVIRONMENT_FILE, Row

Rows = dict[str, dict[str, Row]]


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


def engine_lines(folder: Path, rows: Rows) -> list[str]:
    """The ceiling the engine sets on Plato's speed-up: how much faster the server decodes Plato's
    mean number of parallel sequences than one, from the folder's ``engine.jsonl`` (its last
    record, measured on the run's server); [] without that file or without Plato."""
    path = folder / ENGINE_FILE
    plato = ok_results(rows, "plato")
    if not path.exists() or not plato:
        return []
    record = json.loads(path.read_text(encoding="utf-8").strip().splitlines()[-1])
    decode = {int(k): v for k, v in record["decode"].items()}
    degree = metrics.mean_parallel_degree(plato)
    gain = metrics.batch_gain(decode, degree)
    return [
        f"Engine ceiling: Plato's mean parallel degree is {degree:.2f}; this server decodes that many sequences "
        f"{_fmt(gain, '.2f', 'x')} as fast as one (`{ENGINE_FILE}`: prefill {record['prefill']:.0f} tok/s, "
        f"decode {decode.get(1, 0):.1f} tok/s for one sequence, "
        + ", ".join(f"{v / decode[1]:.2f}x at {k}" for k, v in sorted(decode.items()) if k > 1 and decode.get(1))
        + "). Plato's speed-up from decoding side by side cannot exceed it.",
        "",
    ]


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
        "answer's first text could be shown, streamed in reading order "
        "(`plato_sgl.evaluation.metrics.first_answer_token`)."
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
        "another of its sections (nodes, or a single answer's paragraphs; "
        "`plato_sgl.evaluation.metrics.section_overlap`), "
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


def route_lines(rows: Rows, baseline: str = BASELINE) -> list[str]:
    """Where each routing method's time goes: per path its questions took (``metrics.route_group``),
    latency and decoded tokens beside ``baseline``'s on the same questions. [] without routes."""
    base = _by_question(rows, baseline)
    body = []
    for variant in rows:
        by_q = _by_question(rows, variant)
        if variant == baseline or not any(r.route for r in by_q.values()):
            continue
        groups: dict[str, list[str]] = {}
        for qid in sorted(set(by_q) & set(base)):
            groups.setdefault(metrics.route_group(by_q[qid]), []).append(qid)
        for group, ids in sorted(groups.items(), key=lambda item: -len(item[1])):
            pairs = [(by_q[q], base[q]) for q in ids]
            mean = metrics.mean_of
            body.append(
                [
                    variant,
                    group,
                    str(len(ids)),
                    _fmt(mean(b.wall_time for _, b in pairs), ".1f", " s"),
                    _fmt(mean(r.wall_time for r, _ in pairs), ".1f", " s"),
                    _fmt(metrics.total_time_speedup(pairs), ".2f", "x"),
                    str(metrics.answered_sooner(pairs)),
                    _fmt(mean(b.completion_tokens for _, b in pairs), ".0f"),
                    _fmt(mean(r.completion_tokens for r, _ in pairs), ".0f"),
                    _fmt(mean(r.parallel_degree for r, _ in pairs if r.nodes), ".2f"),
                ]
            )
    if not body:
        return []
    header = [
        "method",
        "path",
        "questions",
        f"{baseline} latency (mean)",
        "latency (mean)",
        f"speed-up vs {baseline}",
        f"sooner than {baseline}",
        f"{baseline} decoded tokens (mean)",
        "decoded tokens (mean)",
        "parallel degree",
    ]
    return [
        "## By path",
        f"The path each question took (parts decoded side by side, or a plain answer and why), against `{baseline}` "
        "on the same questions: where a method gains and where it loses.",
        "",
        _table(header, body),
        "",
    ]


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
            ids = {qid for qid in ids if all(metrics.has_dependencies(rows[v][qid].result) for v in ("plato", before))}
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
        "questions both answered at that level (`plato_sgl.evaluation.sweep`).",
        "",
        load_table(figures, baseline),
        "",
    ]
    lines += [f"**{text}**" for text in findings] + ([""] if findings else [])
    if plot:
        lines += [f"![latency against load]({plot})", ""]
    return lines


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
