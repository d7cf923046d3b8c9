"""Where Plato gains and loses against AR in a fair run, by the shape of its plan.

    .venv/bin/python benchmarks/fair-cpu/shapes.py benchmarks/wizardlm84-fair-cpu [plato auto]

Shapes: plain (the plan chose one part), flat (parts side by side) and chain (a part waits for
another), as the report's "By path" splits them. Also: the questions AR answers in under 60
tokens, and plans that copy a topic line of the plan prompt's worked examples.
"""

import statistics
import sys
from collections import defaultdict
from pathlib import Path

from plato_sgl.core.prompts import _PLAN_EXAMPLES
from plato_sgl.evaluation import metrics
from plato_sgl.evaluation.records import load_rows
from plato_sgl.evaluation.report.tables import common_ids

# A code question's plan rightly has the code example's topics; the other examples' never fit.
EXAMPLE_TOPICS = tuple(
    line.split(". ", 1)[1].split(".[", 1)[0]
    for question, _, lines in _PLAN_EXAMPLES
    if "function" not in question
    for line in lines
)
SHORT = 60


def shape(result) -> str:
    if not result.nodes:
        return "plain"
    return "chain" if metrics.has_dependencies(result) else "flat"


def line(name: str, pairs: list) -> str:
    """pairs: (AR, method) results; speed-up is total AR time / total method time."""
    ordered = [(m, a) for a, m in pairs]  # metrics take (method, baseline) pairs
    return (
        f"| {name} | {len(pairs)} | {statistics.mean(a.wall_time for a, _ in pairs):.1f} s | "
        f"{statistics.mean(m.wall_time for _, m in pairs):.1f} s | {metrics.total_time_speedup(ordered):.2f}x | "
        f"{metrics.answered_sooner(ordered)} | {statistics.mean(a.completion_tokens for a, _ in pairs):.0f} | "
        f"{statistics.mean(m.completion_tokens for _, m in pairs):.0f} |"
    )


def main(folder: Path, methods: list) -> None:
    rows = load_rows(folder)
    for method in methods:
        ids = sorted(common_ids(rows, ["ar", method]), key=int)
        pairs = [(rows["ar"][q].result, rows[method][q].result) for q in ids]
        groups = defaultdict(list)
        for pair in pairs:
            groups[shape(pair[1])].append(pair)
        nodes = [n for _, m in pairs for n in m.nodes]
        cut = sum(n.finish_reason == "length" for n in nodes)
        copied = [
            q
            for q, (_, m) in zip(ids, pairs)
            if any(t.lower() in n.description.lower() for n in m.nodes for t in EXAMPLE_TOPICS)
        ]
        short = [(a, m) for a, m in pairs if a.completion_tokens < SHORT]
        short_parts = [p for p in short if p[1].nodes]
        print(f"## {method} in {folder} ({len(pairs)} questions)\n")
        print(f"| shape | questions | AR latency | {method} latency | speed-up | sooner | AR decoded | decoded |")
        print("|---|---|---|---|---|---|---|---|")
        for name in ("plain", "flat", "chain"):
            if groups[name]:
                print(line(name, groups[name]))
        if short:
            print(line(f"AR under {SHORT} tokens", short))
        if short_parts:
            print(line(f"AR under {SHORT} tokens, parts", short_parts))
        print(f"\nNodes cut at their token cap: {cut} of {len(nodes)}.")
        print(f"Plans copying a worked example's topic line: {len(copied)} ({', '.join(copied)}).\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:] or ["plato", "auto"])
