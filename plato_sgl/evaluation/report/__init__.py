"""``plato-sgl report DIR``: a benchmark folder's ``report.md`` and PNG plots, every method compared with a baseline.

Sections: the means against the baseline, the targets, what the user waits for, the paths questions
took, the paper's efficiency tables (and the load sweep of a sweep folder), one question up close,
answer quality, judge calibration and correctness. The baseline is ``ar`` unless ``--baseline`` names another; speed-ups compare each
method with it on the questions both answered without error.
"""

from __future__ import annotations

from pathlib import Path

from plato_sgl.evaluation import sweep
from plato_sgl.evaluation.calibration import calibration_lines
from plato_sgl.evaluation.records import BASELINE, load_rows
from plato_sgl.evaluation.report import plots
from plato_sgl.evaluation.report.quality import correctness_section, pair_summaries, quality_section
from plato_sgl.evaluation.report.tables import (
    ablation_table,
    category_speedups,
    category_table,
    engine_lines,
    environment_lines,
    headline_table,
    load_lines,
    load_table,
    overall_table,
    pick_example,
    route_lines,
    user_section,
)
from plato_sgl.evaluation.report.targets import quality_targets, speed_targets

__all__ = ["BASELINE_FILE", "load_lines", "load_table", "pair_summaries", "write_report"]

BASELINE_FILE = "report-baseline.txt"  # the baseline a folder's report was last asked for
SCHEDULING_NOTE = (
    "Scheduling efficiency = ideal / measured node-phase makespan (first plan line parsed to last node done), "
    "the ideal having each node decode, for its measured decoding time, from the moment its plan line was "
    "parsed and its dependencies were done; 1.00: nothing on the critical path waited for dispatch or a first "
    "token (`plato_sgl.evaluation.metrics.scheduling_efficiency`)."
)


def load_section(folder: Path, with_plots: bool, baseline: str = BASELINE) -> list[str]:
    """The load sweep's section for a folder holding ``concurrency-N`` level folders ([] otherwise),
    with ``load.png`` when ``with_plots``."""
    levels = {level: load_rows(path) for level, path in sweep.level_folders(folder).items()}
    levels = {level: rows for level, rows in levels.items() if rows}
    if not levels:
        return []
    series = sweep.latency_series(sweep.sweep_figures(levels, baseline))
    if with_plots and series:
        plots.plot_load(series, folder / "load.png")
    return load_lines(levels, "load.png" if with_plots and series else None, baseline)


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
    with_plots = plots.plots_available()
    speed_table, quality_table = speed_targets(rows, baseline), quality_targets(rows, folder, baseline)
    sections = [
        "# plato-sgl benchmark report",
        *environment_lines(folder),
        f"- baseline: `{baseline}` (every method is compared with it; `plato-sgl report DIR --baseline M` changes it)",
        "",
        *([] if with_plots else [plots.NO_PLOTS_NOTE, ""]),
        "## Against a plain answer",
        f"Means over the questions each method and `{baseline}` both answered. Uncached prompt tokens = prompt "
        "tokens the server computed for the question (prompt minus cached, every request); plan tokens = the "
        "plan's or skeleton's decoded tokens; answer tokens = those of the answer's text. Speed-up = total "
        f"`{baseline}` time / total method time.",
        "",
        headline_table(rows, baseline),
        "",
        *engine_lines(folder, rows),
        *(["## Targets: speed and length", speed_table, ""] if speed_table else []),
        *(["## Targets: quality", quality_table, ""] if quality_table else []),
        *user_section(rows, baseline),
        *route_lines(rows, baseline),
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
        sections += load_section(folder, with_plots, baseline)
    speedups = category_speedups(rows, baseline=baseline)
    if speedups:
        if with_plots:
            plots.plot_category_speedups(speedups, folder / "speedup_by_category.png", baseline)
        sections += [
            "## Speed-up per category",
            f"Latency speed-up (total {baseline} time / total method time):",
            "",
            category_table(speedups),
            "",
            *(["![latency speed-up per category](speedup_by_category.png)", ""] if with_plots else []),
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
        if with_plots:
            plots.plot_timeline(example.result, folder / "timeline.png", ar_done=ar_done, baseline=baseline)
            plots.plot_dag(example.result, folder / "dag.png")
            sections += ["![timeline](timeline.png)", "", "![plan DAG](dag.png)"]
        sections += [""]
    sections += (
        quality_section(rows, folder) + calibration_lines(folder / "calibration") + correctness_section(rows, baseline)
    )
    path = folder / "report.md"
    path.write_text("\n".join(sections), encoding="utf-8")
    return path
