"""Where Plato gains and loses against AR in a fair run, by the shape of its plan.

    python benchmarks/fair-cpu/shapes.py benchmarks/wizardlm84-fair-cpu [plato auto]

Shapes: plain (the plan chose one part), flat (parts side by side, critical path 1) and chain
(a part waits for another, critical path 2 or more). Also: the questions AR answers in under 60
tokens, and plans that copy a line of the plan prompt's worked examples. Stdlib only.
"""

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

# The topic lines of the plan prompt's worked examples (plato_sgl/core/prompts.py).
EXAMPLE_TOPICS = (
    "Main causes of congestion",
    "Public transport and cycling",
    "Parking and road pricing",
    "Costs and funding",
    "Tides and the oceans",
    "The tilt of the Earth and seasons",
    "Nights without moonlight",
    "Effects on animals",
    "Long-term effects on climate",
)
SHORT = 60


def load(folder: Path, method: str) -> dict:
    """The last finished row per question (a resumed run may hold a failed try before it)."""
    rows = {}
    for line in (folder / f"{method}.jsonl").read_text().splitlines():
        row = json.loads(line)
        if not row["result"].get("error"):
            rows[row["question_id"]] = row
    return rows


def shape(result: dict) -> str:
    if not result["nodes"]:
        return "plain"
    return "flat" if (result.get("critical_path") or 0) <= 1 else "chain"


def line(name: str, pairs: list) -> str:
    """pairs: (ar row, method row) results; speed-up is total AR time / total method time."""
    ar_time = sum(a["wall_time"] for a, _ in pairs)
    time = sum(m["wall_time"] for _, m in pairs)
    sooner = sum(m["wall_time"] < a["wall_time"] for a, m in pairs)
    return (
        f"| {name} | {len(pairs)} | {ar_time / len(pairs):.1f} s | {time / len(pairs):.1f} s | "
        f"{ar_time / time:.2f}x | {sooner} | {statistics.mean(a['completion_tokens'] for a, _ in pairs):.0f} | "
        f"{statistics.mean(m['completion_tokens'] for _, m in pairs):.0f} |"
    )


def main(folder: Path, methods: list) -> None:
    ar = load(folder, "ar")
    for method in methods:
        rows = {q: r for q, r in load(folder, method).items() if q in ar}
        groups = defaultdict(list)
        for q, row in rows.items():
            groups[shape(row["result"])].append((ar[q]["result"], row["result"]))
        nodes = [n for row in rows.values() for n in row["result"]["nodes"]]
        cut = sum(n.get("finish_reason") == "length" for n in nodes)
        copied = [
            q
            for q, row in rows.items()
            if any(t.lower() in n["description"].lower() for n in row["result"]["nodes"] for t in EXAMPLE_TOPICS)
        ]
        short = [
            (ar[q]["result"], r["result"]) for q, r in rows.items() if ar[q]["result"]["completion_tokens"] < SHORT
        ]
        short_parts = [p for p in short if p[1]["nodes"]]
        print(f"## {method} in {folder} ({len(rows)} questions)\n")
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
        print(f"Plans copying a worked example's topic line: {len(copied)} ({', '.join(sorted(copied, key=int))}).\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:] or ["plato", "auto"])
