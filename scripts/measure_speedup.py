"""Plato vs one plain answer on the same server, one question at a time (issue 3, item 10).

Runs AR and Plato interleaved on the first N Vicuna-80 questions, so both see the same server and
the same load, and prints total generated tokens / total time for each and their ratio (the
paper's throughput speed-up, §5.1). Results go to runs/speedup-<model>.jsonl as they finish.

    .venv/bin/python scripts/measure_speedup.py --model qwen2.5-coder-0.5b -n 10
    .venv/bin/python scripts/measure_speedup.py --url http://127.0.0.1:30000 -n 10
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import plato_sgl
from plato_sgl.datasets import load_questions
from plato_sgl.serving import open_backend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--model")
    where.add_argument("--url")
    parser.add_argument("-n", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("runs"))
    args = parser.parse_args()

    questions = load_questions("vicuna80", first=args.n)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"speedup-{Path(args.model or 'url').name}.jsonl"
    totals = {"ar": [0, 0.0], "plato": [0, 0.0]}
    with open_backend(model=args.model, url=args.url) as backend, out.open("w") as f:
        for q in questions:
            for method in ("ar", "plato"):
                result = plato_sgl.run(q.text, method=method, backend=backend, max_tokens=512, node_max_tokens=256)
                totals[method][0] += result.completion_tokens
                totals[method][1] += result.wall_time
                f.write(json.dumps({"id": q.id, "category": q.category, **result.to_dict()}) + "\n")
                f.flush()
                print(f"q{q.id:>3} {method:<6} {result.completion_tokens:>5} tok {result.wall_time:7.1f} s "
                      f"{result.throughput:6.1f} tok/s  nodes={len(result.nodes)} pd={result.parallel_degree:.2f}")
    ar_tp = totals["ar"][0] / totals["ar"][1]
    plato_tp = totals["plato"][0] / totals["plato"][1]
    print(f"\nAR:    {totals['ar'][0]} tokens in {totals['ar'][1]:.1f} s = {ar_tp:.2f} tok/s")
    print(f"Plato: {totals['plato'][0]} tokens in {totals['plato'][1]:.1f} s = {plato_tp:.2f} tok/s")
    print(f"throughput speed-up (Plato / AR): {plato_tp / ar_tp:.2f}x")


if __name__ == "__main__":
    main()
