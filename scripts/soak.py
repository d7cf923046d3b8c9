"""Concurrency soak: one ``plato_sgl.run_batch`` of many questions, many at a time, against one server.

Checks that every question comes back with a Result, that no thread outlives the batch and that the
client's memory stays flat, and prints the figures as a Markdown table. Exits 1 if a Result is
missing or a thread was left behind. A script, not a test: it takes minutes and measures.

    .venv/bin/python scripts/soak.py [--questions 200] [--concurrency 16] [--url URL | --model NAME]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import sys
import threading
import time
from dataclasses import dataclass, field

import psutil

import plato_sgl
from plato_sgl.evaluation.datasets import load_questions
from plato_sgl.serving.local import open_backend

MB = 1024 * 1024
SETTLE_SECONDS = 30.0


@dataclass
class Sample:
    """The client process at one moment: seconds since the batch started, RSS (bytes), threads."""

    at: float
    rss: int
    threads: int


@dataclass
class Sampler:
    """Samples this process every ``interval`` seconds in a thread of its own (not counted)."""

    interval: float = 1.0
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="soak-sampler", daemon=True)
        self._started = time.monotonic()

    def __enter__(self) -> "Sampler":
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(self._take())

    def _take(self) -> Sample:
        own = 1 if self._thread.is_alive() else 0
        return Sample(time.monotonic() - self._started, _rss(), threading.active_count() - own)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples.append(self._take())

    def at_fraction(self, fraction: float) -> Sample:
        """The sample nearest to ``fraction`` of the run's duration."""
        end = self.samples[-1].at
        return min(self.samples, key=lambda s: abs(s.at - fraction * end))


def _rss() -> int:
    return psutil.Process().memory_info().rss


def settled_threads(limit: int, within: float = SETTLE_SECONDS) -> int:
    """Thread count after a garbage collection, waiting up to ``within`` s for it to reach ``limit``."""
    deadline = time.monotonic() + within
    while True:
        gc.collect()
        count = threading.active_count()
        if count <= limit or time.monotonic() > deadline:
            return count
        time.sleep(0.2)


def soak_questions(count: int) -> list[str]:
    """``count`` Vicuna-80 questions, cycling through the packaged set."""
    return [q.text for q in itertools.islice(itertools.cycle(load_questions("vicuna80")), count)]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--url", help="a running SGLang server (default: start one on --model)")
    where.add_argument("--model", default="tiny-random", help="model of the local server (default: %(default)s)")
    parser.add_argument("--method", default="plato")
    parser.add_argument("--max-nodes", type=int, default=10)
    parser.add_argument("--plan-max-tokens", type=int, default=96)
    parser.add_argument("--node-max-tokens", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=64, help="single-request answers (fallback, ar)")
    return parser.parse_args(argv)


def report(
    args: argparse.Namespace, options: dict, results: list, sampler: Sampler, before: Sample, after: Sample, wall: float
) -> str:
    """The figures, as a Markdown table."""
    failed = [r for r in results if not r.ok]
    during = sampler.samples
    trend = " / ".join(f"{sampler.at_fraction(f).rss / MB:.0f}" for f in (0.25, 0.5, 0.75, 1.0))
    rows = [
        ("server", args.url or f"local SGLang server, {args.model}"),
        ("method, options", f"{args.method}, " + ", ".join(f"{k}={v}" for k, v in options.items())),
        ("questions, concurrency", f"{args.questions} (Vicuna-80, cycled), num_threads={args.concurrency}"),
        ("Results", f"{len(results)} ({len(results) - len(failed)} ok, {len(failed)} failed)"),
        ("fallbacks (plan without a usable line)", str(sum(1 for r in results if r.fallback))),
        ("threads before / peak / after", f"{before.threads} / {max(s.threads for s in during)} / {after.threads}"),
        (
            "client RSS before / peak / after (MB)",
            f"{before.rss / MB:.0f} / {max(s.rss for s in during) / MB:.0f} / {after.rss / MB:.0f}",
        ),
        ("client RSS at 25 / 50 / 75 / 100 % of the run (MB)", trend),
        ("wall time", f"{wall:.1f} s"),
        ("questions/s", f"{len(results) / wall:.2f}"),
    ]
    lines = ["| measure | value |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)]
    lines += [f"\nfirst failure: {failed[0].error}"] if failed else []
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    options = dict(
        max_nodes=args.max_nodes,
        plan_max_tokens=args.plan_max_tokens,
        node_max_tokens=args.node_max_tokens,
        max_tokens=args.max_tokens,
    )
    questions = soak_questions(args.questions)
    with open_backend(url=args.url, model=None if args.url else args.model) as backend:
        gc.collect()
        before = Sample(0.0, _rss(), threading.active_count())
        started = time.monotonic()
        with Sampler() as sampler:
            results = plato_sgl.run_batch(
                questions,
                method=args.method,
                backend=backend,
                num_threads=args.concurrency,
                progress_bar=False,
                **options,
            )
        wall = time.monotonic() - started
        after_threads = settled_threads(before.threads)
        after = Sample(wall, _rss(), after_threads)
    print(report(args, options, results, sampler, before, after, wall))
    problems = []
    if len(results) != args.questions:
        problems.append(f"{len(results)} Results for {args.questions} questions")
    if after.threads > before.threads:
        problems.append(
            f"{after.threads - before.threads} thread(s) left behind: {[t.name for t in threading.enumerate()]}"
        )
    for problem in problems:
        print(f"soak: FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
