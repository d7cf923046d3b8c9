"""Question sets: Vicuna-80, WizardLM's test set and GSM8K's test split (shipped), or any JSONL/CSV with a question field."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, Iterable

BUILTIN = {
    "vicuna80": "vicuna80.jsonl",
    "wizardlm": "wizardlm218.jsonl",
    "gsm8k": "gsm8k_test.jsonl",
}  # GSM8K: ids are 1..1319 in file order

# What each built-in set is for: defaults are tuned on Vicuna-80 only, so WizardLM tells whether a
# figure holds on questions nobody tuned for.
ROLES = {
    "vicuna80": "the tuning set: defaults are chosen on it",
    "wizardlm": "held out: nothing is tuned on it",
    "gsm8k": "correctness: math word problems with reference answers",
}


def role(source: str | os.PathLike) -> str:
    """What a question set is for (a file of your own: not a set the defaults were tuned on)."""
    return ROLES.get(str(source), "a file of your own: the defaults were not tuned on it")


# Known layouts, tried in order when no field is named: (question field, category field, id field).
_LAYOUTS = (
    ("turns", "category", "question_id"),  # Vicuna-80 (FastChat)
    ("Instruction", "Skill", "idx"),  # WizardLM test set
    ("question", "category", "id"),  # GSM8K and most question files
)


@dataclass(frozen=True)
class Question:
    """One question; ``reference`` is the dataset's answer when it has one (GSM8K)."""

    id: str
    text: str
    category: str | None = None
    reference: str | None = None


def load_questions(
    source: str | os.PathLike = "vicuna80",
    *,
    question_field: str | None = None,
    category_field: str | None = None,
    first: int | None = None,
    category: str | None = None,
    per_category: int | None = None,
) -> list[Question]:
    """Load questions from a built-in name or a .jsonl/.json/.csv file, optionally filtered.

    ``per_category``: only the first N questions of each category (a small subset that still
    covers every kind of question), applied before ``first``.
    """
    rows = _read_rows(source)
    if not rows:
        raise ValueError(f"no questions in {source}")
    layout = _layout(rows[0], question_field, category_field, source)
    questions = [_question(row, i, layout, source) for i, row in enumerate(rows, start=1)]
    if category is not None:
        questions = [q for q in questions if q.category == category]
        if not questions:
            raise ValueError(f"no question of category {category!r} in {source}")
    if per_category is not None:
        if per_category < 1:
            raise ValueError(f"per_category must be a positive number of questions, got {per_category}")
        seen: dict[str | None, int] = {}
        kept = []
        for q in questions:
            seen[q.category] = seen.get(q.category, 0) + 1
            if seen[q.category] <= per_category:
                kept.append(q)
        questions = kept
    if first is not None:
        if first < 1:
            raise ValueError(f"first must be a positive number of questions, got {first}")
        questions = questions[:first]
    return questions


def _read_rows(source: str | os.PathLike) -> list[dict[str, Any]]:
    if str(source) in BUILTIN:
        text = files("plato_sgl.data").joinpath(BUILTIN[str(source)]).read_text(encoding="utf-8")
        return _jsonl(text.splitlines(), source)
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"no dataset {str(source)!r}: not a built-in name ({', '.join(BUILTIN)}) nor a file")
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data = json.loads(text)
        if not isinstance(data, list):
            raise ValueError(f"{path}: a .json dataset must be a list of objects")
        return data
    return _jsonl(text.splitlines(), path)


def _jsonl(lines: Iterable[str], source: object) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{source}, line {number}: not valid JSON ({exc.msg})") from None
    return rows


def _layout(row: dict[str, Any], question_field: str | None, category_field: str | None, source: object) -> tuple:
    if question_field is not None:
        if question_field not in row:
            raise ValueError(f"{source}: no field {question_field!r}; fields are: {', '.join(row)}")
        return (question_field, category_field, None)
    for q_field, c_field, id_field in _LAYOUTS:
        if q_field in row:
            return (q_field, category_field or c_field, id_field)
    raise ValueError(f"{source}: no question field found among {', '.join(row)}; name it with question_field")


def _question(row: dict[str, Any], number: int, layout: tuple, source: object) -> Question:
    q_field, c_field, id_field = layout
    text = row.get(q_field)
    if isinstance(text, list):  # Vicuna's "turns": the first turn is the question
        text = text[0] if text else ""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{source}, row {number}: empty question in field {q_field!r}")
    category = row.get(c_field) if c_field else None
    reference = row.get("answer") if isinstance(row.get("answer"), str) else None
    qid = row.get(id_field) if id_field and row.get(id_field) is not None else number
    return Question(id=str(qid), text=text, category=None if category is None else str(category), reference=reference)
