"""A calibration set for the judge: pairs in which one answer is known to be worse.

Built from real answers, deterministically (``build_pairs``, a pure function of the committed
sources in ``plato_sgl/data/judge_calibration_sources.jsonl``; ``scripts/build_calibration.py``
picks those sources from the committed Vicuna-80 run and GSM8K and writes both files). Kinds:

- ``truncated``: the answer cut off mid-sentence a little before half of its words;
- ``duplicated``: its sections after the first written twice (the body repeated, twice as long);
- ``off_topic``: the answer to another question of the set;
- ``empty``: no answer at all;
- ``wrong_answer``: a GSM8K reference solution against the same solution whose last calculation
  and final answer are changed to a wrong number.

``plato-sgl calibrate`` judges every pair in both orders with the same runner as ``plato-sgl judge``
(the pairs are saved as two variants, ``better`` and ``worse``, the kind as their category) and
``score`` reports the judge's accuracy on each kind: per order, under the hard rule (right in both
orders) and by the debiased preference. The pass bar is PASS_BAR on every kind.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from plato_sgl.core.result import Result
from plato_sgl.engine.backend import model_name
from plato_sgl.evaluation.datasets import Question
from plato_sgl.evaluation.judge import (
    current_judgements,
    judge_flags,
    judge_label,
    judges_of,
    load_judgements,
    run_judge,
)
from plato_sgl.evaluation.records import Row
from plato_sgl.evaluation.verdicts import DEFAULT_PROMPT, debiased_preference

KINDS = ("truncated", "duplicated", "off_topic", "empty", "wrong_answer")
SOURCES_FILE = "judge_calibration_sources.jsonl"
PAIRS_FILE = "judge_calibration.jsonl"
# A judge passes a kind when it picks the better answer on at least this share of its pairs: by the
# debiased preference (> 0) where the judge gives probabilities, else right in both orders.
PASS_BAR = 0.8
# Sources: the first answer of each category that is whole (under its token cap), 100-250 words
# and in at least 3 sections, up to this many; the first GSM8K problems, as many.
SOURCES_PER_SET = 6
WORDS = (100, 250)
BETTER, WORSE = "better", "worse"


@dataclass(frozen=True)
class CalibrationPair:
    """One question with a better and a known-worse answer."""

    id: str  # "<kind>:<source id>"
    kind: str
    question: str
    better: str
    worse: str


# --- choosing the sources (pure) -----------------------------------------------------------------


def select_sources(
    answers: Iterable[Mapping[str, Any]], gsm8k: Iterable[Mapping[str, Any]], *, per_set: int = SOURCES_PER_SET
) -> list[dict[str, Any]]:
    """The calibration's sources: from ``answers`` (saved rows: ``question_id``, ``category``,
    ``question``, ``answer``, ``truncated``), the first whole answer of each category with 100-250
    words in at least 3 sections, the first ``per_set`` of those by question id; from ``gsm8k``
    (``question``, ``answer`` rows in dataset order) the first ``per_set`` problems."""
    picked: dict[str, dict[str, Any]] = {}
    for row in sorted(answers, key=lambda r: int(r["question_id"])):
        words = len(row["answer"].split())
        if (
            row["category"] in picked
            or row["truncated"]
            or not WORDS[0] <= words <= WORDS[1]
            or len(sections(row["answer"])) < 3
        ):
            continue
        picked[row["category"]] = {
            "set": "vicuna80",
            "id": str(row["question_id"]),
            "category": row["category"],
            "question": row["question"],
            "answer": row["answer"],
        }
    vicuna = sorted(picked.values(), key=lambda r: int(r["id"]))[:per_set]
    problems = [
        {"set": "gsm8k", "id": str(number), "question": row["question"], "solution": row["answer"]}
        for number, row in enumerate(gsm8k, start=1)
        if number <= per_set
    ]
    return vicuna + problems


# --- building the pairs (pure) -------------------------------------------------------------------


def sections(answer: str) -> list[str]:
    """The answer's sections: its paragraphs (blank-line separated), or its lines when it has one paragraph."""
    parts = [p.strip() for p in re.split(r"\n\s*\n", answer) if p.strip()]
    if len(parts) < 2:
        parts = [line.strip() for line in answer.splitlines() if line.strip()]
    return parts


def truncate_mid_sentence(answer: str, share: float = 0.45) -> str:
    """The answer cut after ``share`` of its words, at a word that does not end a sentence (so the
    cut is mid-sentence), with its trailing punctuation removed."""
    words = list(re.finditer(r"\S+", answer))
    index = max(0, int(len(words) * share) - 1)
    while index < len(words) - 1 and re.search(r"[.!?:]\W*$", words[index].group()):
        index += 1
    return answer[: words[index].end()].rstrip(",;:-") if words else answer


def duplicate_sections(answer: str) -> str:
    """The answer with every section after the first written twice: first, body, body again."""
    parts = sections(answer)
    return "\n\n".join([parts[0], *parts[1:], *parts[1:]])


def gsm8k_text(solution: str) -> str:
    """A GSM8K reference solution as an answer: calculator marks ``<<...>>`` removed, ``#### N`` as "The answer is N."."""
    body, _, final = solution.rpartition("####")
    body = re.sub(r"<<[^>]*>>", "", body).rstrip()
    return f"{body}\nThe answer is {final.strip()}."


def wrong_number(value: str) -> str:
    """A wrong final answer, near the right one: N + max(1, N // 4) (so 18 becomes 22)."""
    n = int(value.replace(",", ""))
    return str(n + max(1, abs(n) // 4))


def wrong_solution(solution: str) -> str:
    """``gsm8k_text`` of the solution with its last calculation's result and its final answer changed
    to ``wrong_number``: the arithmetic of the last step is wrong, and so is the answer."""
    body, _, final = solution.rpartition("####")
    right = final.strip()
    wrong = wrong_number(right)
    lines = re.sub(r"<<[^>]*>>", "", body).rstrip().split("\n")
    last = lines[-1]
    at = last.rfind("=")
    if at >= 0:  # "She makes 9 * 2 = $18 every day." -> "... = $22 every day." ("70,000" counts as 70000)
        result = next(
            (
                m
                for m in re.finditer(r"\d{1,3}(?:,\d{3})+|\d+", last[at:])
                if m.group().replace(",", "") == right.replace(",", "")
            ),
            None,
        )
        if result is not None:
            lines[-1] = last[: at + result.start()] + wrong + last[at + result.end() :]
    return "\n".join(lines) + f"\nThe answer is {wrong}."


def build_pairs(sources: Sequence[Mapping[str, Any]]) -> list[CalibrationPair]:
    """Every calibration pair, in a fixed order: the Vicuna answers' four kinds (off-topic takes the
    next source's answer, the last takes the first's), then GSM8K's wrong answers."""
    vicuna = [s for s in sources if s["set"] == "vicuna80"]
    problems = [s for s in sources if s["set"] == "gsm8k"]
    pairs = []
    for kind in ("truncated", "duplicated", "off_topic", "empty"):
        for i, source in enumerate(vicuna):
            answer = source["answer"]
            worse = {
                "truncated": lambda: truncate_mid_sentence(answer),
                "duplicated": lambda: duplicate_sections(answer),
                "off_topic": lambda: vicuna[(i + 1) % len(vicuna)]["answer"],
                "empty": lambda: "",
            }[kind]()
            pairs.append(CalibrationPair(f"{kind}:vicuna80-{source['id']}", kind, source["question"], answer, worse))
    for source in problems:
        pairs.append(
            CalibrationPair(
                f"wrong_answer:gsm8k-{source['id']}",
                "wrong_answer",
                source["question"],
                gsm8k_text(source["solution"]),
                wrong_solution(source["solution"]),
            )
        )
    return pairs


def load_pairs() -> list[CalibrationPair]:
    """The committed calibration set (``plato_sgl/data/judge_calibration.jsonl``)."""
    text = files("plato_sgl.data").joinpath(PAIRS_FILE).read_text(encoding="utf-8")
    return [CalibrationPair(**json.loads(line)) for line in text.splitlines() if line.strip()]


def pairs_jsonl(pairs: Iterable[CalibrationPair]) -> str:
    """The calibration set as the committed file's text."""
    return "".join(json.dumps(asdict(p), ensure_ascii=False) + "\n" for p in pairs)


# --- scoring (pure) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class KindScore:
    """A judge's accuracy on one kind of pair: the better answer chosen when shown first (order ab),
    when shown second (ba), in both orders (the hard rule), and by the debiased preference (> 0)."""

    kind: str
    pairs: int
    first: float  # share of pairs judged right with the better answer shown first
    second: float
    both: float
    debiased: float | None  # None: no probabilities
    mean_preference: float | None

    @property
    def passed(self) -> bool:
        return (self.debiased if self.debiased is not None else self.both) >= PASS_BAR


def score(judged: Iterable[tuple[str, str | None, str | None, float | None]]) -> list[KindScore]:
    """Per kind, in KINDS order: the judge's accuracy over ``judged`` pairs, each (kind, verdict with
    the better answer shown first, verdict with it shown second, debiased preference for the better
    answer or None). A missing verdict counts as wrong."""
    by_kind: dict[str, list[tuple[str | None, str | None, float | None]]] = {}
    for kind, ab, ba, preference in judged:
        by_kind.setdefault(kind, []).append((ab, ba, preference))
    result = []
    for kind in sorted(by_kind, key=lambda k: (KINDS.index(k) if k in KINDS else len(KINDS), k)):
        items = by_kind[kind]
        n = len(items)
        prefs = [p for _, _, p in items]
        complete = all(p is not None for p in prefs)
        result.append(
            KindScore(
                kind,
                n,
                sum(ab == "A" for ab, _, _ in items) / n,
                sum(ba == "B" for _, ba, _ in items) / n,
                sum(ab == "A" and ba == "B" for ab, ba, _ in items) / n,
                sum(p > 0 for p in prefs) / n if complete else None,
                sum(prefs) / n if complete else None,
            )
        )
    return result


def verdict_lines(scores: Sequence[KindScore], judge: str) -> list[str]:
    """The calibration's Markdown: a table per kind, and plainly whether the judge passes."""

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    header = "| kind | pairs | better shown first | better shown second | both orders | debiased | mean debiased preference | passes |"
    lines = [header, "|" + "---|" * 8]
    for s in scores:
        lines.append(
            f"| {s.kind} | {s.pairs} | {pct(s.first)} | {pct(s.second)} | {pct(s.both)} | {pct(s.debiased)} | "
            f"{'-' if s.mean_preference is None else f'{s.mean_preference:+.2f}'} | {'yes' if s.passed else 'no'} |"
        )
    failed = [s for s in scores if not s.passed]
    measure = "debiased preference" if all(s.debiased is not None for s in scores) else "both-orders rule"
    if not scores:
        verdict = f"Judge `{judge}`: no calibration judgement yet."
    elif failed:
        verdict = (
            f"**Judge `{judge}` FAILS the calibration set**: below the bar ({PASS_BAR:.0%} of pairs right by the "
            f"{measure}) on "
            + ", ".join(f"{s.kind} ({pct(s.debiased if s.debiased is not None else s.both)})" for s in failed)
            + ". Its verdicts on such differences are not to be trusted."
        )
    else:
        verdict = f"**Judge `{judge}` passes the calibration set**: at least {PASS_BAR:.0%} of pairs right by the {measure} on every kind."
    return [verdict, "", *lines]


# --- running (the judge runner of plato_sgl.evaluation.judge) -------------------------------------------------


def write_pairs_as_rows(pairs: Sequence[CalibrationPair], folder: str | Path) -> None:
    """Save the pairs as two variants of a results folder (``better``, ``worse``; the kind as the
    question's category), the layout ``plato_sgl.evaluation.judge.run_judge`` reads. Rewritten each time, so
    the folder always holds the current set; the judgements' cache keys on the texts."""

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for variant in (BETTER, WORSE):
        lines = []
        for pair in pairs:
            question = Question(pair.id, pair.question, pair.kind)
            answer = pair.better if variant == BETTER else pair.worse
            lines.append(Row(question, variant, Result(pair.question, variant, answer=answer)).to_json() + "\n")
        (folder / f"{variant}.jsonl").write_text("".join(lines), encoding="utf-8")


def scores_of(folder: str | Path, judge: str, prompt_name: str = DEFAULT_PROMPT) -> list[KindScore]:
    """``score`` of ``judge``'s judgements with ``prompt_name`` cached in a calibration folder."""

    current = current_judgements(folder, [(BETTER, WORSE)], judge, prompt_name).get((BETTER, WORSE), {})
    judged = []
    for qid, (ab, ba) in current.items():
        probs = ab.probabilities is not None and ba.probabilities is not None
        judged.append(
            (
                qid.split(":", 1)[0],
                ab.verdict,
                ba.verdict,
                debiased_preference(ab.probabilities, ba.probabilities) if probs else None,
            )
        )
    return score(judged)


def calibration_lines(folder: str | Path) -> list[str]:
    """The report's section on the judge calibration cached in ``folder`` (nothing if none)."""
    folder = Path(folder)
    if not (folder / f"{BETTER}.jsonl").exists():
        return []

    lines = []
    for judge, prompt_name in judges_of(load_judgements(folder).values()):
        lines += [
            *verdict_lines(scores_of(folder, judge, prompt_name), judge_label(judge, prompt_name)),
            "",
            f"Scored with `plato-sgl calibrate --out {folder} {judge_flags(judge, prompt_name)}` (or `--judge-url URL`).",
            "",
        ]
    if not lines:
        return []
    return [
        "## Judge calibration (pairs with a known worse answer, both orders)",
        f"From `{folder}`: {_pairs_in(folder)} pairs of `plato_sgl/data/{PAIRS_FILE}` (`plato-sgl calibrate`). Accuracy = "
        "share of pairs where the judge preferred the better answer: with it shown first, shown second, in both "
        "orders, and by the debiased preference (both orders' probabilities averaged, > 0).",
        "",
        *lines,
    ]


def _pairs_in(folder: Path) -> int:
    """How many calibration pairs the folder holds (``calibrate --kinds`` may have saved a subset)."""
    return sum(1 for line in (folder / f"{BETTER}.jsonl").read_text(encoding="utf-8").splitlines() if line.strip())


def choose_pairs(
    pairs: Sequence[CalibrationPair], kinds: Sequence[str] | None = None, first: int | None = None
) -> list[CalibrationPair]:
    """The pairs of ``kinds`` (all when None), only the first ``first`` of each kind when given."""
    unknown = set(kinds or ()) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown calibration kind {', '.join(sorted(unknown))}; kinds: {', '.join(KINDS)}")
    if first is not None and first < 1:
        raise ValueError(f"first must be a positive number of pairs per kind, got {first}")
    seen: dict[str, int] = {}
    chosen = []
    for pair in pairs:
        if kinds and pair.kind not in kinds:
            continue
        seen[pair.kind] = seen.get(pair.kind, 0) + 1
        if first is None or seen[pair.kind] <= first:
            chosen.append(pair)
    return chosen


def run_calibration(
    folder: str | Path,
    backend: Any,
    *,
    num_threads: int = 4,
    kinds: Sequence[str] | None = None,
    first: int | None = None,
    progress_bar: bool = True,
    prompt_name: str = DEFAULT_PROMPT,
) -> list[KindScore]:
    """Judge the committed calibration set (only ``kinds``, and the first ``first`` pairs of each,
    when given) in both orders with ``backend`` and the ``prompt_name`` format, by
    ``plato_sgl.evaluation.judge.run_judge``: every judgement cached in ``folder``'s judgements.jsonl. Returns the scores."""

    pairs = choose_pairs(load_pairs(), kinds, first)
    write_pairs_as_rows(pairs, folder)
    run_judge(
        folder, [(BETTER, WORSE)], backend, num_threads=num_threads, progress_bar=progress_bar, prompt_name=prompt_name
    )
    return scores_of(folder, model_name(backend), prompt_name)


def write_calibration_report(folder: str | Path) -> Path:
    """``calibration.md`` in ``folder``: the scores of every judge cached there."""
    folder = Path(folder)
    path = folder / "calibration.md"
    path.write_text("\n".join(["# Judge calibration", "", *calibration_lines(folder)[1:]]) + "\n", encoding="utf-8")
    return path
