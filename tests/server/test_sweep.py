"""The load sweep (issue 19): levels, the interleaved schedule of batches, the per-level figures and
the crossover (pure, on fixed rows), the report's section and plot; and, on the tiny server, a
short sweep through the CLI, resumed, whose report has the section."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from plato_sgl.evaluation import sweep
from plato_sgl.evaluation.records import load_rows


@pytest.mark.server
def test_a_short_sweep_on_the_tiny_server_then_resumed(tiny_server, tmp_path):
    out = tmp_path / "sweep"
    command = [
        sys.executable,
        "-m",
        "plato_sgl.cli",
        "bench",
        "--url",
        tiny_server.url,
        "--methods",
        "ar,plato,auto-load",
        "--auto-max-load",
        "0",
        "--first",
        "2",
        "--concurrency",
        "1,2",
        "--out",
        str(out),
        "--max-tokens",
        "12",
        "--node-max-tokens",
        "6",
        "--max-nodes",
        "2",
        "--plan-max-tokens",
        "80",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "12 answers saved" in done.stdout  # 2 questions x 3 methods x 2 levels
    for level in (1, 2):
        rows = load_rows(sweep.level_folder(out, level))
        assert sorted(rows) == ["ar", "auto-load", "plato"] and all(
            sorted(by_q) == ["1", "2"] for by_q in rows.values()
        )
        batches = {row.batch.id for by_q in rows.values() for row in by_q.values()}
        assert all(row.batch.size == level for by_q in rows.values() for row in by_q.values())
        assert len(batches) == 6 // level  # level 1: one batch per question and method; level 2: one per method
        assert all(r.result.options["auto_max_load"] == 0 and r.result.route for r in rows["auto-load"].values())
        assert json.loads((sweep.level_folder(out, level) / "environment.jsonl").read_text())["concurrency"] == level
    assert json.loads((out / "environment.jsonl").read_text())["concurrency"] == [1, 2]
    report = (out / "report.md").read_text()
    assert "## Under load (concurrency sweep)" in report and "| 2 | plato | 2 |" in report
    assert "stops being sooner" in report or "sooner than ar at" in report  # the finding is there, whatever it is

    again = subprocess.run(command + ["--resume"], capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and "0 answers saved" in again.stdout, again.stdout + again.stderr
