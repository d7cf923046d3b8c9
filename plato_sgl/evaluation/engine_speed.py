"""What the served engine can do: its prefill rate on a fresh prompt and its aggregate decode rate per batch size.

Plato's parallel nodes gain at most what the engine gains from decoding several sequences at once,
and every prompt token it adds costs what a prefilled token costs; both are measured here, from the
server's own counts (``prompt_tokens``, ``cached_tokens``, ``completion_tokens`` and
``e2e_latency`` of each request's ``meta_info``). Every prompt starts with a random hex string, so
nothing of it is cached.
"""

from __future__ import annotations

import statistics
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import sglang as sgl

from plato_sgl.core.errors import ServerError

# Plain prose for the prompts' bulk: its token count per word is like a question's.
_PROSE = (
    "The committee met on a cold morning to discuss the new library, the state of the roads and the "
    "price of bread. Several members asked for more time, while others wanted a vote before the end "
    "of the month, because the builders had already ordered stone and timber for the spring. "
)


@dataclass(frozen=True)
class Sample:
    """One request's counts, as the server reported them."""

    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    seconds: float  # the server's e2e_latency


@dataclass
class EngineFigures:
    """The engine's rates: prefill (uncached prompt tokens per second) and, per batch size, the
    aggregate decode rate (completion tokens of the batch per second of its longest request)."""

    prefill: float
    decode: dict[int, float]
    settings: dict[str, Any] = field(default_factory=dict)

    def gain(self, batch: int) -> float | None:
        """Aggregate decode rate at ``batch`` over one sequence's: what decoding side by side can gain."""
        one = self.decode.get(1)
        return self.decode[batch] / one if one and batch in self.decode else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "decode": {str(k): v for k, v in self.decode.items()}}


def prefill_rate(samples: Sequence[Sample]) -> float:
    """Median over requests of uncached prompt tokens per second."""
    return statistics.median((s.prompt_tokens - s.cached_tokens) / s.seconds for s in samples)


def batch_decode_rate(batch: Sequence[Sample]) -> float:
    """Tokens a batch sent together decoded, per second of its longest request."""
    return sum(s.completion_tokens for s in batch) / max(s.seconds for s in batch)


def fresh_prompt(tokens: int) -> str:
    """About ``tokens`` tokens of prose behind a random hex string, so no cache holds its start."""
    words = _PROSE.split()
    body = " ".join(words[i % len(words)] for i in range(int(tokens * 0.75)))
    return f"{uuid.uuid4().hex} {body}"


@sgl.function
def _probe(s, prompt: str, max_tokens: int):
    s += prompt
    s += sgl.gen("out", max_tokens=max_tokens, ignore_eos=True, temperature=0.0)


def _send(backend: Any, prompts: Sequence[str], max_tokens: int) -> list[Sample]:
    """Send ``prompts`` together (one thread each) and read each request's counts."""
    states = _probe.run_batch(
        [{"prompt": p, "max_tokens": max_tokens} for p in prompts],
        backend=backend,
        num_threads=len(prompts),
        progress_bar=False,
    )
    samples = []
    for state in states:
        if state.error() is not None:
            raise ServerError(f"an engine probe request failed: {state.error()}")
        meta = state.get_meta_info("out") or {}
        samples.append(
            Sample(
                int(meta["prompt_tokens"]),
                int(meta.get("cached_tokens") or 0),
                int(meta["completion_tokens"]),
                float(meta["e2e_latency"]),
            )
        )
    return samples


def measure(
    backend: Any,
    *,
    batches: Sequence[int] = (1, 2, 4, 8),
    prompt_tokens: int = 480,
    new_tokens: int = 96,
    repeats: int = 2,
) -> EngineFigures:
    """Measure ``backend``'s engine: ``repeats`` fresh prompts of ``prompt_tokens`` prefilled one at a
    time (one token decoded), then for each batch size ``repeats`` batches of short fresh prompts
    decoding ``new_tokens`` each, all of a batch sent together; the median of the repeats."""
    _send(backend, [fresh_prompt(32)], 4)  # the first request pays one-time start-up costs
    prefill = prefill_rate([s for _ in range(repeats) for s in _send(backend, [fresh_prompt(prompt_tokens)], 1)])
    decode = {
        b: statistics.median(
            batch_decode_rate(_send(backend, [fresh_prompt(16) for _ in range(b)], new_tokens)) for _ in range(repeats)
        )
        for b in batches
    }
    return EngineFigures(prefill, decode)


# Instruction sets that decide how fast a CPU multiplies bfloat16 matrices.
_MATRIX_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def cpu_summary(cpuinfo: str | None = None) -> str:
    """This machine's processor, cores and matrix instruction sets, e.g. ``AMD EPYC, 2 cores, avx2 avx512f avx512_bf16``
    (``cpuinfo``: the text of /proc/cpuinfo; read when not given)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                cpuinfo = f.read()
        except OSError:
            return "unknown"
    fields: dict[str, str] = {}
    cores = 0
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        cores += key == "processor"
        fields.setdefault(key, value.strip())
    flags = set(fields.get("flags", "").split())
    found = " ".join(f for f in _MATRIX_FLAGS if f in flags) or "none of " + "/".join(_MATRIX_FLAGS)
    return f"{fields.get('model name', 'unknown')}, {cores} cores, {found}"


def table(rows: Sequence[EngineFigures]) -> str:
    """A Markdown table: one line per measured setting."""
    batches = sorted({b for r in rows for b in r.decode})
    header = [
        "settings",
        "prefill (tok/s)",
        *(f"decode x{b} (tok/s)" for b in batches),
        *(f"gain x{b}" for b in batches if b > 1),
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        label = ", ".join(f"{k} {v}" for k, v in r.settings.items()) or "-"
        cells = [
            label,
            f"{r.prefill:.1f}",
            *(f"{r.decode[b]:.1f}" if b in r.decode else "-" for b in batches),
            *(f"{r.gain(b):.2f}x" if r.gain(b) else "-" for b in batches if b > 1),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
