"""The report's answer-quality sections: the pairwise judge's win rates and GSM8K correctness."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from plato_sgl.evaluation import metrics
from plato_sgl.evaluation.judge import (
    current_judgements,
    judge_flags,
    judge_label,
    judges_of,
    load_judgements,
    outcomes_of,
    pair_records,
    tallies,
)
from plato_sgl.evaluation.records import BASELINE
from plato_sgl.evaluation.report import plots
from plato_sgl.evaluation.report.tables import Rows, _by_question, _count, _fmt, _table, common_ids, ok_results
from plato_sgl.evaluation.stats import paired_difference_interval
from plato_sgl.evaluation.verdicts import (
    DEFAULT_PROMPT,
    first_position_share,
    first_preferred_share,
    is_correct,
    summarize_pair,
)


def quality_section(rows: Rows, folder: Path) -> list[str]:
    """Net win rates from the judgements cached in ``folder`` (Table 1 and Figure 4 shapes), a table
    and a plot per judge when a folder was judged by several."""
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
    current = current_judgements(folder, pairs, judge, prompt_name)
    per_pair = outcomes_of(current)
    counts = tallies(folder, per_pair)
    if not counts:
        return []
    first, decided = first_position_share(j.verdict for per in current.values() for both in per.values() for j in both)
    lines = [
        f"Judge: `{judge_label(judge, prompt_name)}`. Position bias: it preferred the answer shown first in {first} "
        f"of the {decided} "
        f"judgements that preferred one ({_fmt(first / decided if decided else None, '.0%')}; 50% is none).",
        "",
        f"Judged with `plato-sgl judge {folder} --pairs {','.join(f'{a}:{b}' for a, b in counts)} "
        f"{judge_flags(judge, prompt_name)}` "
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
    if not plots.plots_available():
        return lines
    plots.plot_win_rates(counts, folder / plot)
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
    length ratio beside its outcome."""
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
        "`plato_sgl.evaluation.stats`). Net win, hard rule = (wins - losses) / questions, as above. "
        "Debiased net preference = "
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


def graded(rows: Rows, variant: str) -> dict[str, bool]:
    """Per question with a GSM8K-style '#### number' reference: whether ``variant``'s answer is
    correct (a failed answer is not)."""
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
