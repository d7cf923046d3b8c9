"""The report's answer-quality parts on fixed saved runs (no server): GSM8K correctness and speed-ups
(Table 5 and 6 shapes), the position-debiased and length-controlled win rates from cached
judgements with probabilities, and the quality targets, met or missed by how much."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

import pytest

from plato_sgl.cli import main
from plato_sgl.core.result import Result
from plato_sgl.evaluation.datasets import Question
from plato_sgl.evaluation.judge import Judgement, cache_key
from plato_sgl.evaluation.records import JUDGEMENTS_FILE, Row
from plato_sgl.evaluation.verdicts import debiased_preference

GSM8K = [Question(str(i), f"Problem {i}: how many?", None, f"Step.\n#### {i * 10}") for i in range(1, 11)]


def save(folder: Path, variant: str, answers: dict[Question, tuple[str, float]]) -> None:
    with (folder / f"{variant}.jsonl").open("a", encoding="utf-8") as f:
        for q, (answer, wall) in answers.items():
            f.write(Row(q, variant, Result(q.text, variant, answer=answer, wall_time=wall)).to_json() + "\n")


def gsm8k_run(folder: Path) -> Path:
    """AR right on 9 of 10 in 10 s each; Plato right on 6 (2 s each); auto on 9 (5 s); SoT on 8 (4 s)."""
    folder.mkdir()
    right = lambda q: f"So the answer is {int(q.id) * 10}."  # noqa: E731
    wrong = lambda q: f"The answer is {int(q.id) * 10 + 1}. Check: {int(q.id) * 10}"  # noqa: E731  (a restated number after it)
    for variant, wrong_ids, wall in (
        ("ar", {"1"}, 10.0),
        ("plato", {"1", "2", "3", "4"}, 2.0),
        ("auto", {"2"}, 5.0),
        ("sot", {"1", "2"}, 4.0),
    ):
        save(folder, variant, {q: (wrong(q) if q.id in wrong_ids else right(q), wall) for q in GSM8K})
    return folder


def test_gsm8k_report_has_correctness_and_speed_ups_and_quality_targets(tmp_path):
    folder = gsm8k_run(tmp_path / "gsm8k")
    assert main(["report", str(folder)]) == 0
    report = (folder / "report.md").read_text()
    assert "## GSM8K correctness (Table 5 shape)" in report
    assert re.search(r"^\| ar \| 10 \| 9 \| 90\.0% \| - \|$", report, re.M)
    assert re.search(r"^\| plato \| 10 \| 6 \| 60\.0% \| -30\.0 \[-60\.0, -10\.0\] \|$", report, re.M) or re.search(
        r"^\| plato \| 10 \| 6 \| 60\.0% \| -30\.0 \[", report, re.M
    )
    assert re.search(r"^\| auto \| 10 \| 9 \| 90\.0% \| \+0\.0 \[", report, re.M)
    assert "## GSM8K speed-up over ar (Table 6 shape)" in report
    assert re.search(r"^\| plato \| 10 \| 5\.00x \| 0\.20 \|", report, re.M)
    assert re.search(r"^\| auto \| 10 \| 2\.00x \| 0\.50 \|", report, re.M)
    targets = report.split("## Targets: quality")[1].split("##")[0]
    assert re.search(
        r"GSM8K correctness, plato - ar \(10 questions\) \| >= -2 points \| -30\.0 points \[.*\] \| missed by 28\.0 points \|",
        targets,
    )
    assert re.search(
        r"GSM8K correctness, auto - ar \(10 questions\) \| >= -1 points \| \+0\.0 points \[.*\] \| met \|", targets
    )
    assert "debiased" not in targets  # nothing judged here


VICUNA = [Question(str(i), f"Question {i}?", "generic" if i <= 3 else "writing") for i in range(1, 7)]


def probs(a: float, b: float) -> dict[str, float]:
    return {"A": a, "B": b, "tie": round(1 - a - b, 10)}


def judged_run(folder: Path) -> tuple[Path, dict]:
    """Plato, AR and SoT answers to 6 questions and one judge's verdicts with probabilities: the
    judge favours the answer shown first by 0.4 and prefers Plato over SoT by 0.2, over AR by -0.1."""
    folder.mkdir()
    lengths = {"plato": 40, "ar": 20, "sot": 10}  # question i: plato 40 + 10 i words
    answers = {
        m: {q: (" ".join([m] * (n + (10 * int(q.id) if m == "plato" else 0))), 1.0) for q in VICUNA}
        for m, n in lengths.items()
    }
    for m in answers:
        save(folder, m, answers[m])
    expected = {}
    with (folder / JUDGEMENTS_FILE).open("w", encoding="utf-8") as f:
        for other, content in (("sot", 0.2), ("ar", -0.1)):
            for q in VICUNA:
                a, b = answers["plato"][q][0], answers[other][q][0]
                # order ab: plato first: P(A) - P(B) = content + 0.4; order ba: P(A) - P(B) = -content + 0.4
                ab, ba = (
                    probs(0.5 + (content + 0.4) / 2 - 0.05, 0.5 - (content + 0.4) / 2 - 0.05),
                    probs(0.5 + (0.4 - content) / 2 - 0.05, 0.5 - (0.4 - content) / 2 - 0.05),
                )
                expected[(other, q.id)] = debiased_preference(ab, ba)
                for order, (x, y), p in (("ab", (a, b), ab), ("ba", (b, a), ba)):
                    verdict = "A"  # the first shown always wins the hard verdict: every pair a tie
                    j = Judgement(
                        cache_key(q.text, x, y, "judge-x", "pair-v2"),
                        q.id,
                        f"plato:{other}",
                        order,
                        "judge-x",
                        verdict,
                        "Because.[[A]]",
                        p,
                    )
                    f.write(json.dumps(asdict(j)) + "\n")
    return folder, expected


def test_debiased_and_length_controlled_win_rates_with_intervals(tmp_path):
    folder, expected = judged_run(tmp_path / "vicuna")
    assert expected[("sot", "1")] == pytest.approx(0.2) and expected[("ar", "1")] == pytest.approx(-0.1)
    assert main(["report", str(folder)]) == 0
    report = (folder / "report.md").read_text()
    # hard rule: all ties; debiased: the content preference, with an interval of zero width (every question alike)
    # the preference does not depend on length here, so controlling for it leaves it (the ridge aside)
    assert re.search(
        r"^\| plato vs sot \| 6 \| \+0% \[\+0%, \+0%\] \| \+20% \[\+20%, \+20%\] \| \+100% \[\+100%, \+100%\] \| \+20% \[\+20%, \+20%\] \(debiased\) \| 6\.91 \| \+0\.40 \[\+0\.40, \+0\.40\] \|$",
        report,
        re.M,
    ), report
    assert re.search(
        r"^\| plato vs ar \| 6 \| \+0% \[\+0%, \+0%\] \| -10% \[-10%, -10%\] \| -100% \[-100%, -100%\] \| -10% \[-10%, -10%\] \(debiased\) \| 3\.62 \| \+0\.40 ",
        report,
        re.M,
    )
    assert "<summary>plato vs sot: each question's length ratio and outcome</summary>" in report
    # every judgement favours the first shown (+0.4 against contents of +-0.2 and +-0.1); less the mean (+0.4), half do
    assert (
        "the answer shown first was the likelier winner in 24 of 24 (100%) of the judgements with a preference; "
        "with the judge's mean position preference (+0.40) taken out of every judgement, in 12 of 24 (50%)"
    ) in report
    assert re.search(r"^\| 1 \| generic \| 4\.64 \| tie \| \+0\.20 \|$", report, re.M)  # 51 / 11 words
    targets = report.split("## Targets: quality")[1].split("\n## ")[0]
    assert re.search(
        r"plato vs sot: debiased net preference, judge `judge-x` \(6 questions\) \| >= \+30% \| \+20\.0% \[\+20\.0, \+20\.0\] \| missed by 10\.0 points \|",
        targets,
    )
    assert re.search(
        r"plato vs ar: debiased net preference, judge `judge-x` \(6 questions\) \| >= \+0% \| -10\.0% \[-10\.0, -10\.0\] \| missed by 10\.0 points \|",
        targets,
    )
    # by the sign of each question's preference: Plato wins every SoT question and loses every AR one
    assert re.search(
        r"plato vs sot: debiased net win, judge `judge-x` \(6 questions\) \| >= \+30% \| \+100\.0% \[\+100\.0, \+100\.0\] \| met \|",
        targets,
    )
    assert re.search(
        r"plato vs ar: debiased net win, judge `judge-x` \(6 questions\) \| >= \+0% \| -100\.0% \[-100\.0, -100\.0\] \| missed by 100\.0 points \|",
        targets,
    )


def test_judgements_without_probabilities_are_reported_without_a_debiased_figure(tmp_path):
    folder, _ = judged_run(tmp_path / "vicuna")
    path = folder / JUDGEMENTS_FILE
    old = []
    for line in path.read_text().splitlines():  # as written before probabilities were read
        record = json.loads(line)
        del record["probabilities"]
        old.append(json.dumps(record))
    path.write_text("\n".join(old) + "\n")
    assert main(["report", str(folder)]) == 0
    report = (folder / "report.md").read_text()
    assert re.search(
        r"^\| plato vs sot \| 6 \| \+0% \[\+0%, \+0%\] \| - \(0 with probabilities\) \| - \| \+0% \[\+0%, \+0%\] \(hard rule\) \| 6\.91 \| - \|$",
        report,
        re.M,
    )
    assert "no verdict probabilities: run `plato-sgl judge` again" in report


def test_lengths_in_one_ratio_give_no_length_controlled_figure():
    from plato_sgl.evaluation.verdicts import summarize_pair

    s = summarize_pair(["win", "tie", "win"], [0.5, 0.1, 0.4], [0.0, 0.0, 0.0], [2.0, 2.0, 2.0], resamples=50)
    assert s.length_controlled is None and s.length_controlled_interval is None and s.debiased == pytest.approx(1 / 3)
