"""The engine measurement: its arithmetic without a server, then ``plato-sgl engine`` on the real tiny server."""

from __future__ import annotations

import json
import subprocess
import sys

from plato_sgl.engine import EngineFigures, Sample, _send, batch_decode_rate, fresh_prompt, measure, prefill_rate, table


def test_rates_come_from_the_server_counts():
    # uncached tokens over the server's own latency; the median of the requests
    assert prefill_rate([Sample(500, 20, 1, 4.0), Sample(500, 0, 1, 5.0), Sample(500, 0, 1, 2.0)]) == 120.0
    # a batch's tokens over its longest request
    assert batch_decode_rate([Sample(16, 0, 96, 8.0), Sample(16, 0, 96, 12.0)]) == 16.0
    figures = EngineFigures(100.0, {1: 10.0, 4: 15.0}, {"dtype": "bfloat16"})
    assert figures.gain(4) == 1.5 and figures.gain(8) is None
    assert figures.to_dict()["decode"] == {"1": 10.0, "4": 15.0}
    rendered = table([figures])
    assert "| dtype bfloat16 | 100.0 | 10.0 | 15.0 | 1.50x |" in rendered


def test_fresh_prompts_share_no_start():
    a, b = fresh_prompt(64), fresh_prompt(64)
    assert a.split()[0] != b.split()[0] and a.split()[1:] == b.split()[1:]


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


def test_the_cpu_summary_names_the_processor_and_its_matrix_instructions():
    from plato_sgl.engine import cpu_summary

    info = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 fma avx512f avx512_bf16\n\nprocessor\t: 1\nmodel name\t: AMD EPYC\n"
    assert cpu_summary(info) == "AMD EPYC, 2 cores, avx2 avx512f avx512_bf16"
    assert (
        cpu_summary("processor\t: 0\nflags\t: fpu sse2\n")
        == "unknown, 1 cores, none of avx2/avx512f/avx512_bf16/amx_bf16"
    )
