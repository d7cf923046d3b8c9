"""The engine measurement: its arithmetic without a server, then ``plato-sgl engine`` on the real tiny server."""

from __future__ import annotations

import json
import subprocess
import sys

from plato_sgl.evaluation.engine_speed import (
    _send,
    fresh_prompt,
    measure,
)


def test_the_engine_is_measured_on_uncached_prompts(backend):
    samples = _send(backend, [fresh_prompt(200), fresh_prompt(200)], 4)
    assert all(s.cached_tokens == 0 and s.prompt_tokens > 100 and s.completion_tokens == 4 for s in samples)
    figures = measure(backend, batches=(1, 2), prompt_tokens=64, new_tokens=8, repeats=1)
    assert figures.prefill > 0 and set(figures.decode) == {1, 2} and all(v > 0 for v in figures.decode.values())


def test_the_engine_command_prints_and_appends_its_figures(tiny_server, tmp_path):
    out = tmp_path / "engine.jsonl"
    command = [
        sys.executable,
        "-m",
        "plato_sgl.cli",
        "engine",
        "--url",
        tiny_server.url,
        "--batches",
        "1,2",
        "--new-tokens",
        "4",
        "--prompt-tokens",
        "32",
        "--repeats",
        "1",
        "--label",
        "machine=test",
        "--out",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "| settings | prefill (tok/s) | decode x1 (tok/s) | decode x2 (tok/s) | gain x2 |" in done.stdout
    [record] = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["settings"]["machine"] == "test" and record["settings"]["attention_backend"] == "torch_native"
    assert set(record["decode"]) == {"1", "2"}
    bad = subprocess.run(
        [*command[:3], "engine", "--url", tiny_server.url, "--label", "nokey"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "KEY=VALUE" in bad.stderr
