"""Answer quality, as pure functions: judge verdicts with position swap, net win rate, GSM8K correctness.

Paper §5.1: the judge sees each pair twice with the answer order swapped; a pair is a win (or a
loss) only when both orders agree, anything else is a tie. Net win rate = (wins - losses) / questions.
§5.3 (Table 5): GSM8K correctness compares the answer's final number with the dataset's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib.resources import files
from typing import Iterable

import regex

VERDICTS = {"[[A]]": "A", "[[B]]": "B", "[[C]]": "tie"}


@dataclass(frozen=True)
class JudgePrompt:
    """A FastChat judge prompt format (``pair-v2``: verdicts [[A]], [[B]], [[C]] for a tie)."""

    name: str
    system: str
    template: str

    def render(self, question: str, answer_a: str, answer_b: str) -> str:
        return self.template.format(question=question, answer_a=answer_a, answer_b=answer_b)


@lru_cache(maxsize=None)
def judge_prompt(name: str = "pair-v2") -> JudgePrompt:
    """Load a prompt format shipped in plato_sgl/data/judge_prompts.jsonl (FastChat, Apache-2.0)."""
    for line in files("plato_sgl.data").joinpath("judge_prompts.jsonl").read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        if data["name"] == name:
            return JudgePrompt(name, data["system_prompt"], data["prompt_template"])
    raise ValueError(f"no judge prompt named {name!r}")


def parse_verdict(judgement: str) -> str | None:
    """'A', 'B' or 'tie' from a judge's text, None when it holds no verdict (FastChat's rule:
    [[A]] first, then [[B]], then [[C]])."""
    for mark, verdict in VERDICTS.items():
        if mark in judgement:
            return verdict
    return None


def combine(first_order: str, swapped_order: str) -> str:
    """Outcome for the method shown as A in ``first_order`` (it is B in ``swapped_order``)."""
    if first_order == "A" and swapped_order == "B":
        return "win"
    if first_order == "B" and swapped_order == "A":
        return "loss"
    return "tie"


def first_position_share(verdicts: Iterable[str | None]) -> tuple[int, int]:
    """(times the answer shown first was preferred, judgements that preferred either answer).
    Every pair is judged in both orders, so an unbiased judge prefers the first answer half the time."""
    decided = [v for v in verdicts if v in ("A", "B")]
    return decided.count("A"), len(decided)


@dataclass(frozen=True)
class Tally:
    wins: int = 0
    ties: int = 0
    losses: int = 0

    @property
    def questions(self) -> int:
        return self.wins + self.ties + self.losses

    @property
    def net_win_rate(self) -> float:
        """(wins - losses) / questions; 0 means the two methods answer equally well."""
        return (self.wins - self.losses) / self.questions if self.questions else 0.0


def tally(outcomes: Iterable[str]) -> Tally:
    outcomes = list(outcomes)
    return Tally(outcomes.count("win"), outcomes.count("tie"), outcomes.count("loss"))


# A number: thousands commas, decimals, an optional "$" and a sign. The sign counts only when it is
# attached to the digits and does not follow a word character, a digit or a closing bracket, so a
# dash between numbers ("5-10", "16-3") or a list dash ("- 42 apples") is not a minus.
_NUMBER = regex.compile(
    r"(?P<sign>(?<![\w)\].])[-\N{MINUS SIGN}](?=\$?\d|\.\d))?\$?"
    r"(?P<digits>(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+)"
)
# An explicit final answer: "the answer is N", "Answer: N", "**Final answer:** N", "#### N", "\boxed{N}".
_ANSWER = regex.compile(
    r"\\boxed\{(?P<boxed>[^{}]*)\}"
    r"|####(?=(?P<hashes>[^\n]*))"
    r"|\banswer\b(?:[ \t]*\**)?(?:[ \t]+(?:is|was|would[ \t]+be|will[ \t]+be)\b|[ \t]*[:=])(?=(?P<said>[^\n]*))",
    regex.IGNORECASE,
)
# Where a stated answer ends: a sentence end or a comma that is not inside a number.
_SPAN_END = regex.compile(r"[.!?;](?!\d)|,(?!\d{3})")


def _to_decimal(match: regex.Match) -> Decimal | None:
    try:
        value = Decimal(match["digits"].replace(",", ""))
    except InvalidOperation:
        return None
    return -value if match["sign"] else value


def _stated_number(span: str) -> Decimal | None:
    """The number a stated answer gives: its first number, or, when the statement is a calculation
    ("5 + 7 = 12"), the first number after its last "=" ."""
    _, eq, result = span.rpartition("=")
    match = _NUMBER.search(result if eq else span)
    return _to_decimal(match) if match else None


def final_number(text: str) -> Decimal | None:
    """The answer's final number, or None.

    An explicit final answer wins: the last of "the answer is N" / "Answer: N" (up to the end of
    that sentence), "#### N" (that line) and "\\boxed{N}", so a number restated or explained after
    it does not count. Without one, the last number in ``text``. Numbers may carry thousands
    commas, decimals, "$" and a minus sign (only one attached to the digits: "5-10" ends in 10,
    "- 42 apples" is 42); units, "%" and markdown around them are ignored.
    """
    text = text or ""
    for marker in reversed(list(_ANSWER.finditer(text))):
        span = marker["boxed"] if marker["boxed"] is not None else marker["hashes"] if marker["hashes"] is not None else marker["said"]
        if marker["said"] is not None:
            end = _SPAN_END.search(span)
            span = span[: end.start()] if end else span
        number = _stated_number(span)
        if number is not None:
            return number
    matches = list(_NUMBER.finditer(text))
    return _to_decimal(matches[-1]) if matches else None


def reference_number(solution: str) -> Decimal | None:
    """The number after GSM8K's ``####`` marker."""
    _, sep, tail = (solution or "").rpartition("####")
    return final_number(tail) if sep else None


def is_correct(answer: str, solution: str) -> bool:
    """Whether the answer's final number equals the reference (1.50 equals 1.5)."""
    got, expected = final_number(answer), reference_number(solution)
    return got is not None and expected is not None and got == expected
