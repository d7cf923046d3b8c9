"""Run records and their files: a variant, a saved answer (Row), a folder's rows, its environment record.

A run folder holds ``<variant>.jsonl`` (one row per answered question, append-only: a retried
question adds a row and the last row wins), ``environment.jsonl`` (one record per invocation) and,
once answers are judged, ``judgements.jsonl``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from plato_sgl.core.result import Result
from plato_sgl.evaluation.datasets import Question

BASELINE = "ar"  # the method every other is measured against, unless a report names another
ENVIRONMENT_FILE = "environment.jsonl"
JUDGEMENTS_FILE = "judgements.jsonl"
ENGINE_FILE = "engine.jsonl"  # the server's rates, measured beside the run (``plato-sgl engine --url``)


@dataclass(frozen=True)
class Variant:
    """A method with fixed options, saved under ``name`` (e.g. the ablation's plan-first Plato)."""

    name: str
    method: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchInfo:
    """Which batch of a sweep a saved answer belonged to: ``id`` (unique in its level folder),
    ``size`` (questions sent together: the load it was measured under) and ``offset`` (seconds from
    the batch's start to its question's start)."""

    id: str
    size: int
    offset: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "size": self.size, "offset": self.offset}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "BatchInfo":
        return cls(str(data["id"]), int(data["size"]), float(data.get("offset", 0.0)))


@dataclass
class Row:
    """One saved answer: which question, which variant, and the full Result; in a load sweep also
    the batch it was sent in (``batch``; None for rows of an ordinary run, and rows saved before sweeps)."""

    question: Question
    variant: str
    result: Result
    batch: BatchInfo | None = None

    def to_json(self) -> str:
        q = self.question
        data = {
            "question_id": q.id,
            "category": q.category,
            "question": q.text,
            "reference": q.reference,
            "variant": self.variant,
            "result": self.result.to_dict(),
        }
        if self.batch is not None:
            data["batch"] = self.batch.to_dict()
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> "Row":
        data = json.loads(line)
        question = Question(
            id=str(data["question_id"]),
            text=data["question"],
            category=data.get("category"),
            reference=data.get("reference"),
        )
        batch = BatchInfo.from_dict(data["batch"]) if data.get("batch") else None
        return cls(question, data["variant"], Result.from_dict(data["result"]), batch)


def load_rows(folder: str | Path) -> dict[str, dict[str, Row]]:
    """Saved rows by variant, then question id (the last row of a question wins)."""
    rows: dict[str, dict[str, Row]] = {}
    for path in sorted(Path(folder).glob("*.jsonl")):
        if path.name in (ENVIRONMENT_FILE, JUDGEMENTS_FILE, ENGINE_FILE):
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = Row.from_json(line)
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                # an interrupted write leaves at most a torn last line: skip it, the question reruns
                if number == len(lines):
                    continue
                raise ValueError(f"{path}, line {number}: not a saved result ({exc})") from None
            rows.setdefault(row.variant, {})[row.question.id] = row
    return rows


def drop_torn_tail(path: Path) -> None:
    """Cut an incomplete last line (a write interrupted by a kill) so appends start on a new line."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def write_environment(
    folder: Path, environment: Mapping[str, Any] | None, variants: Sequence[Variant], **fields: Any
) -> None:
    """Append one invocation's record to ``folder``'s environment file: what it ran on, which
    variants, and ``fields`` (questions, to_run, resumed, ...)."""
    record = {
        **(environment or {}),
        "started": fields.pop("started", None) or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "questions": fields.pop("questions"),
        "variants": [v.__dict__ for v in variants],
        **fields,
    }
    with (folder / ENVIRONMENT_FILE).open("a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
