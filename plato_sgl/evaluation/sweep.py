"""A load sweep: the same questions answered at several concurrency levels in one run.

``plato-sgl bench --concurrency 1,2,4,8`` answers every question with every variant at each level.
At level N a *batch* is N questions of one variant sent together (N users of one method at once),
so a level's latency is measured under N of that method's questions, and its aggregate throughput
is the tokens its batches decoded over their wall time. Batches of different levels and variants are
interleaved through the run (:func:`schedule`), so no level runs in one block while the machine is
in another state (another process busy, the cache warmer or colder).

Layout: one ordinary run folder per level, ``DIR/concurrency-N/`` (``<variant>.jsonl`` rows,
``environment.jsonl``), so ``--resume``, ``plato-sgl report DIR/concurrency-N`` and ``plato-sgl judge``
work on a level as on any run; ``DIR/environment.jsonl`` records the sweep itself. Each row saved by
a sweep carries its batch (:class:`BatchInfo`: id, size, and when its question started after the
batch did), from which the batch's wall time is recovered (:func:`batch_wall_times`). A level keeps
only whole batches of N questions: with Q questions it answers the first ``Q - Q mod N`` (so choose Q
a multiple of every level, e.g. 8 or 16 for 1,2,4,8).

Everything here is pure (no server): the schedule, the per-level figures, the crossover.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from plato_sgl.evaluation import metrics
from plato_sgl.evaluation.datasets import Question
from plato_sgl.evaluation.records import BASELINE, Row, Variant

LEVEL_PREFIX = "concurrency-"


def parse_levels(text: str | int | Sequence[int]) -> list[int]:
    """Concurrency levels from ``"1,2,4,8"`` (or an int, or a list): positive, distinct, ascending.
    Raises ValueError naming the bad item."""
    if isinstance(text, bool):
        raise ValueError(f"concurrency must be a positive integer or a list of them, got {text!r}")
    items: Sequence[Any] = [text] if isinstance(text, int) else text.split(",") if isinstance(text, str) else text
    levels = []
    for item in items:
        try:
            level = int(str(item).strip())
        except ValueError:
            raise ValueError(f"a concurrency level must be a whole number, got {item!r}") from None
        if level < 1:
            raise ValueError(f"a concurrency level must be at least 1, got {level}")
        levels.append(level)
    if not levels:
        raise ValueError("no concurrency level given")
    if len(set(levels)) != len(levels):
        raise ValueError(f"a concurrency level is listed twice: {text}")
    return sorted(levels)


def level_folder(out: str | Path, level: int) -> Path:
    """The run folder of one level of a sweep in ``out``."""
    return Path(out) / f"{LEVEL_PREFIX}{level}"


def level_folders(out: str | Path) -> dict[int, Path]:
    """The level folders a sweep wrote into ``out``, by level (empty for an ordinary run folder)."""
    found = {}
    for path in Path(out).glob(f"{LEVEL_PREFIX}*"):
        suffix = path.name[len(LEVEL_PREFIX) :]
        if path.is_dir() and suffix.isdigit():
            found[int(suffix)] = path
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class Batch:
    """Questions of one variant to send together at one level."""

    level: int
    variant: Variant
    questions: tuple[Question, ...]
    number: int  # the batch's place in its level's chunks of the question list


def schedule(
    questions: Sequence[Question],
    levels: Sequence[int],
    variants: Sequence[Variant],
    saved: Mapping[int, Mapping[str, Mapping[str, Row]]] | None = None,
) -> list[Batch]:
    """Every batch of a sweep still to run, interleaved.

    Level N splits the questions into consecutive chunks of N (a short last chunk is left out: it
    would be measured under less load); each chunk is a batch per variant. A batch holds the
    chunk's questions that ``saved[N]`` (rows by variant and question id) lacks or holds as failed,
    so a resumed sweep reruns only those (a smaller batch: its answers are measured under that
    smaller load, and their rows say so). Order: rounds, each taking from every level the batches of
    its next chunk, the level that has done the smallest share of its chunks first (ties: the lower
    level), variants in the given order rotated by one each round. So every level runs spread over
    the whole sweep, and no variant is always first after another level's batches.
    """
    saved = saved or {}
    queues: dict[int, list[list[Batch]]] = {}
    for level in levels:
        chunks = [tuple(questions[i : i + level]) for i in range(0, len(questions) - len(questions) % level, level)]
        per_chunk = []
        for number, chunk in enumerate(chunks):
            rows = saved.get(level, {})
            batches = []
            for variant in variants:
                todo = tuple(q for q in chunk if not _answered(rows, variant.name, q.id))
                if todo:
                    batches.append(Batch(level, variant, todo, number))
            per_chunk.append(batches)
        queues[level] = per_chunk
    order: list[Batch] = []
    done = {level: 0 for level in levels}
    turn = 0
    while any(done[level] < len(queues[level]) for level in levels):
        open_levels = [level for level in levels if done[level] < len(queues[level])]
        level = min(open_levels, key=lambda n: (done[n] / len(queues[n]), n))
        batches = queues[level][done[level]]
        if batches:
            shift = turn % len(batches)
            order += batches[shift:] + batches[:shift]
            turn += 1
        done[level] += 1
    return order


def _answered(rows: Mapping[str, Mapping[str, Row]], variant: str, qid: str) -> bool:
    row = rows.get(variant, {}).get(qid)
    return row is not None and row.result.ok


# ------------------------------------------------------------------ per-level figures (pure)


def batch_wall_times(rows: Sequence[Row]) -> dict[str, float]:
    """Wall time of each batch, by batch id: from the batch's start to its last answer's end
    (``offset + wall_time``, the latest over its rows). Rows without a batch are left out."""
    ends: dict[str, float] = {}
    for row in rows:
        if row.batch is not None:
            end = row.batch.offset + row.result.wall_time
            ends[row.batch.id] = max(ends.get(row.batch.id, 0.0), end)
    return ends


def aggregate_throughput(rows: Sequence[Row]) -> float | None:
    """Tokens decoded per second by a level's batches together: every completion token of its rows
    (failed answers too: the server decoded them) / the sum of its batches' wall times. None
    without batch information (rows not written by a sweep)."""
    walls = batch_wall_times(rows)
    seconds = sum(walls.values())
    if seconds <= 0:
        return None
    return sum(r.result.completion_tokens for r in rows if r.batch is not None) / seconds


@dataclass(frozen=True)
class LevelFigures:
    """One variant at one concurrency level."""

    level: int
    variant: str
    questions: int  # answered without error
    failed: int
    throughput: float | None  # aggregate, tokens/s (see aggregate_throughput)
    latency_mean: float | None
    latency_p90: float | None
    first_token_mean: float | None  # time to the answer's first text (metrics.first_answer_token)
    speedup: float | None  # total-time latency speed-up over ar on the questions both answered
    sooner: tuple[int, int] | None  # (answered sooner than ar, questions compared)
    below_level: int  # answers measured in a smaller batch than the level (a resumed sweep)


def level_figures(level: int, rows: Mapping[str, Mapping[str, Row]], baseline: str = BASELINE) -> list[LevelFigures]:
    """Figures of every variant at one level, from its rows (by variant, then question id)."""
    base = {qid: r.result for qid, r in rows.get(baseline, {}).items() if r.result.ok}
    figures = []
    for variant, by_question in rows.items():
        everything = list(by_question.values())
        ok = {qid: r.result for qid, r in by_question.items() if r.result.ok}
        results = list(ok.values())
        latency = metrics.latency_summary(results)
        pairs = metrics.paired(ok, base) if variant != baseline and base else []
        figures.append(
            LevelFigures(
                level=level,
                variant=variant,
                questions=len(results),
                failed=len(everything) - len(results),
                throughput=aggregate_throughput(everything),
                latency_mean=latency["mean"],
                latency_p90=latency["p90"],
                first_token_mean=metrics.mean_of(metrics.first_answer_token(r) for r in results),
                speedup=metrics.total_time_speedup(pairs) if pairs else None,
                sooner=(metrics.answered_sooner(pairs), len(pairs)) if pairs else None,
                below_level=sum(1 for r in everything if r.batch is not None and r.batch.size < level),
            )
        )
    return figures


def sweep_figures(
    levels: Mapping[int, Mapping[str, Mapping[str, Row]]], baseline: str = BASELINE
) -> list[LevelFigures]:
    """:func:`level_figures` of every level, ascending."""
    return [f for level in sorted(levels) for f in level_figures(level, levels[level], baseline)]


@dataclass(frozen=True)
class Crossover:
    """Where ``method`` stops answering sooner than the baseline as the load grows.

    ``sooner_at``: the levels where it was sooner (latency speed-up over the baseline above 1);
    ``stops_at``: the lowest level, above a level where it was sooner, where it was not (None: it
    never stopped within the levels measured, or it was never sooner); ``levels``: every level
    compared."""

    method: str
    levels: tuple[int, ...]
    sooner_at: tuple[int, ...]
    stops_at: int | None

    def sentence(self, baseline: str = BASELINE) -> str:
        """The finding in words, for the report."""
        if not self.levels:
            return f"{self.method} and {baseline} were not both measured at any level."
        measured = ", ".join(map(str, self.levels))
        if not self.sooner_at:
            return f"{self.method} was not sooner than {baseline} at any concurrency measured ({measured})."
        if self.stops_at is None:
            return (
                f"{self.method} was sooner than {baseline} at every concurrency measured ({measured}): "
                f"no crossover within these levels."
            )
        later = [n for n in self.sooner_at if n > self.stops_at]
        again = f" (it was sooner again at {', '.join(map(str, later))}: the levels are close to even)" if later else ""
        return (
            f"{self.method} stops being sooner than {baseline} at concurrency {self.stops_at} "
            f"(sooner at {', '.join(str(n) for n in self.sooner_at if n < self.stops_at)}){again}."
        )


def crossover(figures: Sequence[LevelFigures], method: str = "plato") -> Crossover:
    """Where ``method``'s total-time latency speed-up over the baseline (per level, on the questions
    both answered) first falls to 1 or below after having been above 1."""
    speeds = {f.level: f.speedup for f in figures if f.variant == method and f.speedup is not None}
    levels = tuple(sorted(speeds))
    sooner = tuple(n for n in levels if speeds[n] > 1.0)
    stops = next((n for n in levels if sooner and n > sooner[0] and speeds[n] <= 1.0), None)
    return Crossover(method, levels, sooner, stops)


def latency_series(figures: Sequence[LevelFigures]) -> dict[str, list[tuple[int, float, float | None]]]:
    """Per variant, (level, mean latency, p90 latency) by ascending level: the plot's data."""
    series: dict[str, list[tuple[int, float, float | None]]] = {}
    for f in sorted(figures, key=lambda f: f.level):
        if f.latency_mean is not None:
            series.setdefault(f.variant, []).append((f.level, f.latency_mean, f.latency_p90))
    return series
