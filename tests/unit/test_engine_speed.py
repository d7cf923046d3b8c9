"""The engine measurement's arithmetic, without a server."""

from __future__ import annotations

from plato_sgl.evaluation.engine_speed import (
    EngineFigures,
    Sample,
    batch_decode_rate,
    fresh_prompt,
    prefill_rate,
    table,
)


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


def test_the_cpu_summary_names_the_processor_and_its_matrix_instructions():
    from plato_sgl.evaluation.engine_speed import cpu_summary

    info = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 fma avx512f avx512_bf16\n\nprocessor\t: 1\nmodel name\t: AMD EPYC\n"
    assert cpu_summary(info) == "AMD EPYC, 2 cores, avx2 avx512f avx512_bf16"
    assert (
        cpu_summary("processor\t: 0\nflags\t: fpu sse2\n")
        == "unknown, 1 cores, none of avx2/avx512f/avx512_bf16/amx_bf16"
    )
