"""The report's target tables: the run's figures against the speed and length targets and the quality targets."""

from __future__ import annotations

from pathlib import Path

from plato_sgl.evaluation import metrics
from plato_sgl.evaluation.judge import judge_label, judges_of, load_judgements
from plato_sgl.evaluation.records import BASELINE
from plato_sgl.evaluation.report.quality import correctness_gap, pair_summaries
from plato_sgl.evaluation.report.tables import (
    Rows,
    _by_question,
    _fmt,
    _table,
    category_speedups,
)


def speed_targets(rows: Rows, baseline: str = BASELINE) -> str | None:
    """The speed, length and prompt targets, met or missed in this run, all against ``baseline`` on
    the questions both answered: Plato's latency speed-up and the share of questions it answers
    sooner; auto's speed-up on the whole set and in its worst category; the uncached prompt tokens
    Plato adds per node; Plato's decoded tokens (plan and answer) against the baseline's; the share
    of node requests cut at their token cap. None when the run has no plato or no baseline."""
    if "plato" not in rows or baseline not in rows:
        return None
    base, plato = _by_question(rows, baseline), _by_question(rows, "plato")
    pairs = metrics.paired(plato, base)
    cut, nodes = metrics.truncation_totals(plato.values())["node"]
    sooner = metrics.answered_sooner(pairs) / len(pairs) if pairs else None
    extra = [(metrics.uncached_tokens(r) - metrics.uncached_tokens(b)) / max(1, len(r.nodes)) for r, b in pairs]
    found = [
        (
            f"Plato latency speed-up over {baseline} (total time)",
            metrics.total_time_speedup(pairs),
            lambda v: v >= 1.3,
            ">= 1.3x",
            ".2f",
            "x",
        ),
        (f"questions Plato answers sooner than {baseline}", sooner, lambda v: v >= 0.6, ">= 60%", ".0%", ""),
        (
            f"Plato uncached prompt tokens beyond {baseline}'s, per node (mean)",
            sum(extra) / len(extra) if extra else None,
            lambda v: v <= 20,
            "<= 20",
            ".1f",
            "",
        ),
        (
            f"Plato decoded tokens / {baseline} decoded tokens (plan and answer, median)",
            metrics.median_ratio(pairs, lambda r: r.completion_tokens),
            lambda v: 0.8 <= v <= 1.2,
            "0.8 to 1.2",
            ".2f",
            "",
        ),
        ("truncated node requests", cut / nodes if nodes else None, lambda v: v <= 0.05, "<= 5%", ".1%", ""),
    ]
    if "auto" in rows:
        auto_pairs = metrics.paired(_by_question(rows, "auto"), base)
        per_category = {c: v["auto"] for c, v in category_speedups(rows, baseline=baseline).items() if "auto" in v}
        worst = min(per_category, key=per_category.get, default=None)
        found[2:2] = [
            (
                f"auto latency speed-up over {baseline}, whole set",
                metrics.total_time_speedup(auto_pairs),
                lambda v: v >= 1.0,
                ">= 1.0x",
                ".2f",
                "x",
            ),
            (
                f"auto latency speed-up over {baseline}, worst category ({worst})",
                per_category.get(worst),
                lambda v: v >= 1.0,
                ">= 1.0x in every category",
                ".2f",
                "x",
            ),
        ]
    body = [
        [name, target, _fmt(value, spec, suffix), "-" if value is None else ("met" if ok(value) else "missed")]
        for name, value, ok, target, spec, suffix in found
    ]
    return _table(["figure", "target", "measured", ""], body)


def quality_targets(rows: Rows, folder: Path, baseline: str = BASELINE) -> str | None:
    """The quality targets, as far as this run measures them: per judge cached in ``folder``, Plato's
    debiased net preference and debiased net win over SoT and over ``baseline``; the GSM8K
    correctness of Plato and of auto against the baseline's. Each with its 95% interval and, when
    missed, by how much. None when the run measures none of them."""
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
                            f"{a} vs {b}: {figure}, judge `{judge_label(judge, prompt_name)}` "
                            f"({s.questions} questions)",
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
