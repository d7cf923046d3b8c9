"""The judge calibration set: built deterministically from the committed sources (pure), scored on
fixed verdicts (pure), and ``plato-sgl calibrate`` judging it through the judge runner on the tiny
server (mechanics only: a random model's verdicts are random)."""

from __future__ import annotations

import re


def test_calibrate_judges_both_orders_and_the_report_shows_the_scores(tiny_server, tmp_path, capsys):
    """``plato-sgl calibrate`` on the tiny server (one pair of two kinds): every pair judged in both
    orders by the judge runner, scored, written, and cached; a results folder's calibration/
    subfolder appears in its report."""
    from plato_sgl.cli import main
    from plato_sgl.evaluation.judge import load_judgements

    out = tmp_path / "run" / "calibration"
    args = [
        "calibrate",
        "--judge-url",
        tiny_server.url,
        "--chat-template",
        "chatml",
        "--out",
        str(out),
        "--kinds",
        "empty,wrong_answer",
        "--first",
        "1",
        "--num-threads",
        "4",
    ]
    code = main(args)
    printed = capsys.readouterr().out
    judgements = list(load_judgements(out).values())
    assert sorted((j.question_id, j.order) for j in judgements) == sorted(
        (q, o) for q in ("empty:vicuna80-5", "wrong_answer:gsm8k-1") for o in ("ab", "ba")
    )
    assert all(j.probabilities is not None for j in judgements)
    text = (out / "calibration.md").read_text()
    for kind in ("empty", "wrong_answer"):
        assert f"| {kind} | 1 |" in text and f"| {kind} | 1 |" in printed
    passes = "passes the calibration set" in text
    assert passes != ("FAILS the calibration set" in text) and code == (0 if passes else 2)
    before = (out / "judgements.jsonl").read_bytes()
    assert main(args) == code and (out / "judgements.jsonl").read_bytes() == before  # cached: nothing asked again

    verdict_only = main(args + ["--judge-prompt", "pair-v2-verdict"])  # the same model asked for its verdict alone
    judgements = list(load_judgements(out).values())
    assert sorted(j.prompt for j in judgements) == ["pair-v2"] * 4 + ["pair-v2-verdict"] * 4
    assert all(re.fullmatch(r"\[\[[ABC]\]\]", j.text) for j in judgements if j.prompt == "pair-v2-verdict")
    text = (out / "calibration.md").read_text()
    assert len(re.findall(r"^\*\*Judge `", text, re.M)) == 2 and verdict_only in (0, 2)
    assert re.search(r"^\*\*Judge `[^`]+, pair-v2-verdict` (passes|FAILS)", text, re.M)
    assert "--judge-prompt pair-v2-verdict` (or `--judge-url URL`)" in text

    from plato_sgl.core.result import Result
    from plato_sgl.evaluation.datasets import Question
    from plato_sgl.evaluation.records import Row

    question = Question("1", "Why is the sky blue?", "knowledge")
    (tmp_path / "run" / "ar.jsonl").write_text(
        Row(question, "ar", Result(question.text, "ar", answer="Scattering.")).to_json() + "\n"
    )
    assert main(["report", str(tmp_path / "run")]) == 0
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Judge calibration" in report and "| empty | 1 |" in report
