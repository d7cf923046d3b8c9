"""Benchmark bookkeeping: saved rows, resume, torn lines, datasets, the report; and, on real servers,
a bench killed mid-run and a bench whose server dies mid-run, both resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plato_sgl.evaluation.records import load_rows
from plato_sgl.serving.local import LocalServer


def _bench(url: str, out: Path, *extra: str) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "plato_sgl.cli",
        "bench",
        "--url",
        url,
        "--methods",
        "ar,plato",
        "--first",
        "4",
        "--out",
        str(out),
        "--max-tokens",
        "24",
        "--node-max-tokens",
        "8",
        "--max-nodes",
        "3",
        "--plan-max-tokens",
        "120",
        *extra,
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_a_saved_answer(bench: subprocess.Popen, out: Path) -> None:
    """Return once the running ``bench`` has saved its first answer (the first question's ``ar``)."""
    deadline = time.monotonic() + 300
    while not (out / "ar.jsonl").exists() or not (out / "ar.jsonl").read_text().count("\n"):
        assert bench.poll() is None and time.monotonic() < deadline, "the bench ended before the fault"
        time.sleep(0.2)


def _saved_ids(out: Path, variant: str) -> list[str]:
    """The question ids of every row saved for ``variant``, retries included, sorted."""
    return sorted(json.loads(line)["question_id"] for line in (out / f"{variant}.jsonl").read_text().splitlines())


@pytest.mark.server
def test_a_killed_bench_resumes_without_losing_or_repeating_answers(tiny_server, tmp_path):
    out = tmp_path / "run"
    first = _bench(tiny_server.url, out)
    _wait_for_a_saved_answer(first, out)
    first.kill()  # SIGKILL: no chance to clean up, as with a crash or a lost machine
    first.wait()
    saved = load_rows(out)
    assert 1 <= sum(len(v) for v in saved.values()) < 8

    refused = _bench(tiny_server.url, out)
    assert refused.wait() == 1 and "--resume" in refused.stdout.read()

    resumed = _bench(tiny_server.url, out, "--resume")
    output = resumed.communicate(timeout=600)[0]
    assert resumed.returncode == 0, output
    for variant in ("ar", "plato"):
        ids = _saved_ids(out, variant)
        assert ids == ["1", "2", "3", "4"], (variant, ids)  # each exactly once: nothing lost, nothing repeated
    environment = (out / "environment.jsonl").read_text().splitlines()
    assert [json.loads(e)["resumed"] for e in environment] == [False, True]
    assert (out / "report.md").exists()


@pytest.mark.server
def test_a_bench_whose_server_dies_records_the_failures_and_resume_reruns_only_them(tiny_server, tmp_path):
    out = tmp_path / "run"
    with LocalServer("tiny-random") as doomed:
        first = _bench(doomed.url, out)
        _wait_for_a_saved_answer(first, out)
        os.killpg(os.getpgid(doomed.process.pid), signal.SIGKILL)
        output = first.communicate(timeout=600)[0]
    saved = load_rows(out)
    failed = {(variant, q) for variant, rows in saved.items() for q, row in rows.items() if not row.result.ok}
    assert sum(len(rows) for rows in saved.values()) == 8  # it kept going: every answer is recorded...
    assert 1 <= len(failed) < 8  # ...those before the death as answers, the others with their error
    assert all(saved[variant][q].result.error for variant, q in failed)
    assert first.returncode == 1 and f"8 answers saved in {out} ({len(failed)} failed)" in output, output

    resumed = _bench(tiny_server.url, out, "--resume")  # on another server, as after a restart
    output = resumed.communicate(timeout=600)[0]
    assert resumed.returncode == 0, output
    for variant in ("ar", "plato"):
        retried = [q for v, q in failed if v == variant]
        assert _saved_ids(out, variant) == sorted(["1", "2", "3", "4", *retried]), variant  # only the failed ran again
    assert all(row.result.ok for rows in load_rows(out).values() for row in rows.values())
    assert json.loads((out / "environment.jsonl").read_text().splitlines()[-1])["to_run"] == len(failed)
