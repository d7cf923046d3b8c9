"""Build the judge calibration set from real answers: ``python scripts/build_calibration.py [GSM8K_JSONL]``.

Picks the sources (``plato_sgl.evaluation.calibration.select_sources``) from AR's answers in the committed
Vicuna-80 run (benchmarks/vicuna80-cpu/ar.jsonl) and the first GSM8K test problems (default
/work/shared/data/gsm8k_test.jsonl, the GSM8K test split, MIT), then writes
plato_sgl/data/judge_calibration_sources.jsonl and the pairs built from them,
plato_sgl/data/judge_calibration.jsonl. Deterministic: running it again writes the same bytes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from plato_sgl.evaluation.calibration import PAIRS_FILE, SOURCES_FILE, build_pairs, pairs_jsonl, select_sources
from plato_sgl.evaluation.records import load_rows

ROOT = Path(__file__).resolve().parent.parent


def main(gsm8k: str = "/work/shared/data/gsm8k_test.jsonl") -> None:
    rows = load_rows(ROOT / "benchmarks" / "vicuna80-cpu")["ar"]
    answers = [
        {
            "question_id": r.question.id,
            "category": r.question.category,
            "question": r.question.text,
            "answer": r.result.answer,
            "truncated": r.result.completion_tokens >= 1024 or not r.result.ok,
        }
        for r in rows.values()
    ]
    problems = [json.loads(line) for line in Path(gsm8k).read_text(encoding="utf-8").splitlines() if line.strip()]
    sources = select_sources(answers, problems)
    data = ROOT / "plato_sgl" / "data"
    (data / SOURCES_FILE).write_text(
        "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in sources), encoding="utf-8"
    )
    (data / PAIRS_FILE).write_text(pairs_jsonl(build_pairs(sources)), encoding="utf-8")
    print(f"{len(sources)} sources, {len(build_pairs(sources))} pairs written to {data}")


if __name__ == "__main__":
    main(*sys.argv[1:])
