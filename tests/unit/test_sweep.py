"""The load sweep's pure parts: levels, the interleaved schedule, per-level figures, the crossover, the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from plato_sgl.core.result import Call, NodeRecord, Result
from plato_sgl.evaluation import sweep
from plato_sgl.evaluation.bench import run_bench, variants_for
from plato_sgl.evaluation.datasets import Question
from plato_sgl.evaluation.records import BatchInfo, Row, load_rows
from plato_sgl.evaluation.report import load_lines, load_table, plots, write_report

QUESTIONS = [Question(id=str(i), text=f"question {i}", category="generic") for i in range(1, 9)]


def answer(
    method: str, seconds: float, tokens: int = 100, first_token: float = 1.0, error: str | None = None
) -> Result:
    """A saved answer: Plato's with two nodes (its first node's first token at ``first_token``), else one plain call."""
    if method == "plato":
        nodes = [
            NodeRecord(
                id=1,
                description="a",
                parsed_at=0.5,
                dispatched_at=0.5,
                started_at=first_token,
                finished_at=seconds,
                completion_tokens=tokens // 2,
            ),
            NodeRecord(
                id=2,
                description="b",
                parsed_at=0.6,
                dispatched_at=0.6,
                started_at=first_token + 0.1,
                finished_at=seconds,
                completion_tokens=tokens // 2,
            ),
        ]
        return Result(question="q", method=method, nodes=nodes, wall_time=seconds, error=error)
    return Result(
        question="q",
        method=method,
        calls=[Call(kind="answer", completion_tokens=tokens, first_token_at=first_token)],
        wall_time=seconds,
        error=error,
    )


def rows_at(
    level: int, latencies: dict[str, list[float]], first_token: dict[str, float] | None = None
) -> dict[str, dict[str, Row]]:
    """Rows of one level: each variant answers questions 1..n in batches of ``level``, question i in
    ``latencies[variant][i-1]`` seconds, every question of a batch started at its start (offset 0)."""
    rows: dict[str, dict[str, Row]] = {}
    for variant, times in latencies.items():
        for i, seconds in enumerate(times):
            q = QUESTIONS[i]
            batch = BatchInfo(f"{variant}-{i // level}", level, 0.0)
            rows.setdefault(variant, {})[q.id] = Row(
                q, variant, answer(variant, seconds, first_token=(first_token or {}).get(variant, 1.0)), batch
            )
    return rows


def test_levels_are_parsed_checked_and_sorted():
    assert sweep.parse_levels("8,1, 2,4") == [1, 2, 4, 8]
    assert sweep.parse_levels(4) == [4] and sweep.parse_levels([2, 1]) == [1, 2]
    for bad, message in (("1,x", "whole number"), ("0", "at least 1"), ("2,2", "twice"), ("", "whole number")):
        with pytest.raises(ValueError, match=message):
            sweep.parse_levels(bad)


def test_the_schedule_interleaves_levels_keeps_whole_batches_and_reruns_only_what_is_missing():
    variants = variants_for(["ar", "plato"])
    questions = QUESTIONS[:5]  # level 4 keeps one whole batch (questions 1-4); 5 would be a batch of 1
    batches = sweep.schedule(questions, [1, 4], variants)
    shown = [(b.level, b.variant.name, [q.id for q in b.questions]) for b in batches]
    assert shown == [
        (1, "ar", ["1"]),
        (1, "plato", ["1"]),
        (4, "plato", ["1", "2", "3", "4"]),
        (4, "ar", ["1", "2", "3", "4"]),  # level 4 comes before level 1 is done...
        (1, "ar", ["2"]),
        (1, "plato", ["2"]),  # ...and the variants' order rotates each round
        (1, "plato", ["3"]),
        (1, "ar", ["3"]),
        (1, "ar", ["4"]),
        (1, "plato", ["4"]),
        (1, "plato", ["5"]),
        (1, "ar", ["5"]),
    ]
    # resumed: question 2 of level 4's plato failed, ar's batch is complete; level 1 is done
    saved = {
        4: rows_at(4, {"ar": [1, 1, 1, 1], "plato": [1, 1, 1, 1]}),
        1: rows_at(1, {"ar": [1] * 5, "plato": [1] * 5}),
    }
    failed = saved[4]["plato"]["2"]
    saved[4]["plato"]["2"] = Row(failed.question, "plato", answer("plato", 1.0, error="server died"), failed.batch)
    again = sweep.schedule(questions, [1, 4], variants, saved)
    assert [(b.level, b.variant.name, [q.id for q in b.questions]) for b in again] == [(4, "plato", ["2"])]


def test_aggregate_throughput_is_all_tokens_over_the_batches_wall_time():
    rows = rows_at(2, {"ar": [2.0, 4.0, 3.0, 1.0]})["ar"]  # batches: {1: 2 s, 2: 4 s} -> 4 s, {3: 3 s, 4: 1 s} -> 3 s
    assert sweep.batch_wall_times(list(rows.values())) == {"ar-0": 4.0, "ar-1": 3.0}
    assert sweep.aggregate_throughput(list(rows.values())) == pytest.approx(400 / 7)
    # a question that started later in its batch ends later: offset + wall time
    late = Row(QUESTIONS[0], "ar", answer("ar", 2.0), BatchInfo("x", 2, 3.0))
    assert sweep.batch_wall_times([late, Row(QUESTIONS[1], "ar", answer("ar", 4.0), BatchInfo("x", 2, 0.0))]) == {
        "x": 5.0
    }
    assert sweep.aggregate_throughput([Row(QUESTIONS[0], "ar", answer("ar", 2.0))]) is None  # not written by a sweep


def sweep_levels() -> dict[int, dict[str, dict[str, Row]]]:
    """Plato 2x sooner alone, even at 2, slower at 4 and 8; AR slows down less under load."""
    return {
        1: rows_at(1, {"ar": [8.0] * 4, "plato": [4.0] * 4}, {"ar": 1.0, "plato": 2.0}),
        2: rows_at(2, {"ar": [9.0] * 4, "plato": [9.0] * 4}),
        4: rows_at(4, {"ar": [10.0] * 4, "plato": [12.0, 12.0, 12.0, 14.0]}),
        8: rows_at(8, {"ar": [12.0] * 8, "plato": [20.0] * 8}),
    }


def test_level_figures_and_the_crossover_are_computed_from_the_rows():
    figures = sweep.sweep_figures(sweep_levels())
    by = {(f.level, f.variant): f for f in figures}
    one = by[(1, "plato")]
    assert (one.questions, one.latency_mean, one.speedup, one.sooner, one.first_token_mean) == (
        4,
        4.0,
        2.0,
        (4, 4),
        2.0,
    )
    assert one.throughput == pytest.approx(400 / 16)  # 4 batches of 4 s, 100 tokens each
    assert by[(4, "plato")].latency_p90 == pytest.approx(13.4) and by[(4, "plato")].throughput == pytest.approx(
        400 / 14
    )
    assert by[(8, "ar")].throughput == pytest.approx(800 / 12) and by[(1, "ar")].speedup is None
    found = sweep.crossover(figures, "plato")
    assert (found.levels, found.sooner_at, found.stops_at) == ((1, 2, 4, 8), (1,), 2)  # even at 2 is not sooner
    assert found.sentence() == "plato stops being sooner than ar at concurrency 2 (sooner at 1)."
    assert sweep.latency_series(figures)["plato"] == [
        (1, 4.0, 4.0),
        (2, 9.0, 9.0),
        (4, 12.5, pytest.approx(13.4)),
        (8, 20.0, 20.0),
    ]


def test_the_crossover_says_when_there_is_none():
    def figure(level, speedup):
        return sweep.LevelFigures(level, "plato", 4, 0, None, 1.0, 1.0, None, speedup, None, 0)

    always = sweep.crossover([figure(1, 1.5), figure(2, 1.2)], "plato")
    assert (
        always.stops_at is None
        and "sooner than ar at every concurrency measured (1, 2): no crossover" in always.sentence()
    )
    never = sweep.crossover([figure(1, 0.9), figure(2, 0.8)], "plato")
    assert (
        never.stops_at is None
        and never.sentence() == "plato was not sooner than ar at any concurrency measured (1, 2)."
    )
    back = sweep.crossover([figure(1, 1.5), figure(2, 0.9), figure(4, 1.1)], "plato")
    assert back.stops_at == 2 and "sooner again at 4" in back.sentence()
    assert "not both measured" in sweep.crossover([], "auto").sentence()


def test_the_load_section_is_a_table_and_a_computed_finding():
    figures = sweep.sweep_figures(sweep_levels())
    table = load_table(figures)
    assert "| 1 | plato | 4 | 25.0 | 4.0 s | 4.0 s | 2.0 s | 2.00x | 4 of 4 (100%) |" in table
    assert "| 8 | ar | 8 | 66.7 | 12.0 s | 12.0 s | 1.0 s | - | - |" in table
    lines = load_lines(sweep_levels(), "load.png")
    assert "**plato stops being sooner than ar at concurrency 2 (sooner at 1).**" in lines
    assert "![latency against load](load.png)" in lines
    assert not any("png" in line for line in load_lines(sweep_levels(), None))


def _save_levels(folder: Path, levels: dict[int, dict[str, dict[str, Row]]]) -> None:
    for level, rows in levels.items():
        target = sweep.level_folder(folder, level)
        target.mkdir(parents=True)
        for variant, by_question in rows.items():
            (target / f"{variant}.jsonl").write_text("".join(r.to_json() + "\n" for r in by_question.values()))


def test_a_sweep_folder_reports_its_lowest_level_and_the_load_section_with_its_plot(tmp_path, monkeypatch):
    _save_levels(tmp_path, sweep_levels())
    assert load_rows(sweep.level_folder(tmp_path, 4))["plato"]["1"].batch == BatchInfo("plato-0", 4, 0.0)  # round trip
    report = write_report(tmp_path).read_text()
    assert "lowest level, `concurrency-1`" in report and "| plato | 4 | 4.0 s |" in report  # level 1's latency table
    assert "## Under load (concurrency sweep)" in report and "![latency against load](load.png)" in report
    assert (tmp_path / "load.png").read_bytes()[:4] == b"\x89PNG"

    (tmp_path / "load.png").unlink()
    monkeypatch.setattr(plots, "plots_available", lambda: False)
    text = write_report(tmp_path).read_text()
    assert plots.NO_PLOTS_NOTE in text and "| 4 | plato | 4 | 28.6 |" in text and "load.png" not in text
    assert not (tmp_path / "load.png").exists()


def test_auto_load_is_auto_with_the_load_threshold_beside_plain_auto():
    variants = {
        v.name: v for v in variants_for(["ar", "auto", "auto-load"], options={"auto_max_load": 2, "max_nodes": 4})
    }
    assert variants["auto-load"].method == "auto" and variants["auto-load"].options == {
        "auto_max_load": 2,
        "max_nodes": 4,
    }
    assert variants["auto"].options == {"max_nodes": 4} and variants["ar"].options == {"max_nodes": 4}
    with pytest.raises(ValueError, match="--auto-max-load"):
        variants_for(["auto-load"])


def test_ordinary_and_sweep_folders_are_not_mixed(tmp_path):
    variants = variants_for(["ar"])
    (tmp_path / "ar.jsonl").write_text(Row(QUESTIONS[0], "ar", answer("ar", 1.0)).to_json() + "\n")
    with pytest.raises(ValueError, match="ordinary run"):
        run_bench(QUESTIONS[:2], variants, None, tmp_path, concurrency=[1, 2], resume=True)
    other = tmp_path / "sweep"
    _save_levels(other, {1: rows_at(1, {"ar": [1.0]})})
    with pytest.raises(ValueError, match="holds a load sweep"):
        run_bench(QUESTIONS[:2], variants, None, other, concurrency=2, resume=True)
    with pytest.raises(ValueError, match="--resume"):
        run_bench(QUESTIONS[:2], variants, None, other, concurrency=[1, 2])
