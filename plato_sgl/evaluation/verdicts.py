"""Answer quality, as pure functions: judge verdicts with position swap, net win rate, GSM8K correctness.

Paper §5.1: the judge sees each pair twice with the answer order swapped; a pair is a win (or a
loss) only when both orders agree, anything else is a tie. Net win rate = (wins - losses) / questions.
§5.3 (Table 5): GSM8K correctness compares the answer's final number with the dataset's.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib.resources import files
from statistics import median
from typing import Iterable, Sequence

import regex

from plato_sgl.evaluation.stats import length_controlled_interval, length_controlled_preference, mean_interval

VERDICTS = {"[[A]]": "A", "[[B]]": "B", "[[C]]": "tie"}
DEFAULT_PROMPT = "pair-v2"  # the judge prompt format unless one is chosen


@dataclass(frozen=True)
class JudgePrompt:
    """A pairwise judge prompt format: FastChat's (``pair-v2``: verdicts [[A]], [[B]], [[C]] for a
    tie), or ``pair-v2-verdict`` (``explains`` False: the same prompt asking for the verdict alone)."""

    name: str
    system: str
    template: str
    explains: bool = True  # the judge writes an explanation before its verdict

    def render(self, question: str, answer_a: str, answer_b: str) -> str:
        return self.template.format(question=question, answer_a=answer_a, answer_b=answer_b)


# pair-v2-verdict: pair-v2 with its two sentences about an explanation replaced by a request for the
# verdict alone. One prefill and a few verdict tokens a judgement instead of an explanation's decode.
VERDICT_ONLY = "pair-v2-verdict"
_EXPLANATION_SENTENCES = {
    "Begin your evaluation by comparing the two responses and provide a short explanation. ": "",
    "After providing your explanation, output your final verdict": "Output only your final verdict, with no explanation,",
}


@lru_cache(maxsize=None)
def judge_prompt(name: str = DEFAULT_PROMPT) -> JudgePrompt:
    """A prompt format shipped in plato_sgl/data/judge_prompts.jsonl (FastChat, Apache-2.0, kept
    unmodified), or ``pair-v2-verdict``, derived here from pair-v2."""
    if name == VERDICT_ONLY:
        base = judge_prompt(DEFAULT_PROMPT)
        system = base.system
        for sentence, replacement in _EXPLANATION_SENTENCES.items():
            if sentence not in system:
                raise ValueError(f"pair-v2 no longer holds {sentence!r}: cannot derive {VERDICT_ONLY}")
            system = system.replace(sentence, replacement)
        return JudgePrompt(VERDICT_ONLY, system, base.template, explains=False)
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
    r"|\banswer\b(?:[ \t]*\**)?(?:[ \t]+(?:is|was|would[ \t]+be|will[ \t]+be)\b|[ \t]*[:=])(?=(?P<said>[^\n]*))"
    r"|^[ \t#*_>]*(?:final[ \t]+)?answer[ \t*_:]*$(?P<label>)",  # a line that is only a label: "### Final Answer"
    regex.IGNORECASE | regex.MULTILINE,
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
    it does not count; a label alone on its line ("### Final Answer", "**Answer:**") states the next
    line that has a word in it. Without one, the last number in ``text``. Numbers may carry thousands
    commas, decimals, "$" and a minus sign (only one attached to the digits: "5-10" ends in 10,
    "- 42 apples" is 42); units, "%" and markdown around them are ignored.
    """
    text = text or ""
    for marker in reversed(list(_ANSWER.finditer(text))):
        span = (
            marker["boxed"]
            if marker["boxed"] is not None
            else marker["hashes"]
            if marker["hashes"] is not None
            else marker["said"]
        )
        if marker["label"] is not None or (marker["said"] is not None and not regex.search(r"\w", marker["said"])):
            span = _next_line(text, marker.end())  # "**Answer:**" ending its line: the answer is on the next one
        if marker["hashes"] is None and marker["boxed"] is None:
            end = _SPAN_END.search(span)
            span = span[: end.start()] if end else span
        number = _stated_number(span)
        if number is not None:
            return number
    matches = list(_NUMBER.finditer(text))
    return _to_decimal(matches[-1]) if matches else None


def _next_line(text: str, start: int) -> str:
    """The first line after the one holding ``start`` that has a word character in it ("" if none)."""
    for line in text[start:].split("\n")[1:]:
        if regex.search(r"\w", line):
            return line
    return ""


def reference_number(solution: str) -> Decimal | None:
    """The number after GSM8K's ``####`` marker."""
    _, sep, tail = (solution or "").rpartition("####")
    return final_number(tail) if sep else None


def is_correct(answer: str, solution: str) -> bool:
    """Whether the answer's final number equals the reference (1.50 equals 1.5)."""
    got, expected = final_number(answer), reference_number(solution)
    return got is not None and expected is not None and got == expected


# Position-debiased verdicts. On SGLang's runtime the judge's verdict is read as
# probabilities, P(A), P(B), P(tie) at the verdict, in both answer orders. A judge that favours a
# position adds the same amount to the answer shown there in both orders, so averaging the two
# orders' preference cancels it exactly (a judge preferring position A by b gives a method
# +b in order ab and -b in order ba).

Probabilities = dict[str, float]  # {"A": P(A), "B": P(B), "tie": P(tie)}, summing to 1


def debiased_preference(ab: Probabilities, ba: Probabilities) -> float:
    """Net preference for the method shown first in order ``ab`` (second in ``ba``), both orders
    averaged: ((P_ab(A) - P_ab(B)) + (P_ba(B) - P_ba(A))) / 2, from -1 (loses surely) through 0
    (no preference, or only a position preference) to +1 (wins surely)."""
    return ((ab["A"] - ab["B"]) + (ba["B"] - ba["A"])) / 2


def position_preference(ab: Probabilities, ba: Probabilities) -> float:
    """How much more probability the answer shown first got, whichever method it was, averaged over
    both orders: ((P_ab(A) - P_ab(B)) + (P_ba(A) - P_ba(B))) / 2; 0 is an unbiased judge. The
    debiased preference is what is left when this is taken out of either order."""
    return ((ab["A"] - ab["B"]) + (ba["A"] - ba["B"])) / 2


def outcome_value(outcome: str) -> float:
    """A both-orders outcome as a number on the debiased preference's scale: win +1, tie 0, loss -1."""
    return {"win": 1.0, "tie": 0.0, "loss": -1.0}[outcome]


def length_log_ratio(words: int, other_words: int) -> float:
    """ln((words + 1) / (other_words + 1)): 0 for equal lengths, symmetric in sign (an empty answer counts as 1 word)."""
    return math.log((words + 1) / (other_words + 1))


Interval = tuple[float, float]


@dataclass(frozen=True)
class PairSummary:
    """A judged pair over its questions: the hard rule's net win rate, the debiased net preference
    and the net win by its sign, the length-controlled preference, the judge's position preference
    (each with a bootstrap interval over questions), and the answers' median length ratio."""

    questions: int  # with a verdict in both orders
    net: float  # hard rule: (wins - losses) / questions
    net_interval: Interval | None
    debiased_questions: int  # with probabilities in both orders
    debiased: float | None
    debiased_interval: Interval | None
    # each question a win, tie or loss by the sign of its debiased preference: (wins - losses) / questions
    debiased_net: float | None
    debiased_net_interval: Interval | None
    length_controlled: float | None  # at equal lengths, of the debiased preference (else the hard outcome)
    length_controlled_interval: Interval | None
    length_controlled_of: str  # "debiased" or "hard rule"
    position: float | None  # mean P(first shown) - P(second shown); 0: no position preference
    position_interval: Interval | None
    median_length_ratio: float | None


def preference_sign(preference: float, tolerance: float = 1e-9) -> float:
    """A question's outcome by its debiased preference: 1.0 (win), -1.0 (loss), 0.0 (tie: no
    preference either way, e.g. two identical answers). A judge whose verdict probabilities are
    nearly flat still orders answers by their sign, as the calibration's accuracy counts them."""
    return 1.0 if preference > tolerance else -1.0 if preference < -tolerance else 0.0


def summarize_pair(
    outcomes: Sequence[str],
    preferences: Sequence[float | None],
    positions: Sequence[float | None],
    length_ratios: Sequence[float],
    *,
    resamples: int = 2000,
) -> PairSummary:
    """Summarize one pair's questions (parallel sequences: both-orders outcome, debiased preference
    or None, position preference or None, words ratio first / second). Questions whose outcome is
    "error" are left out. The debiased figures need probabilities on every kept question (a folder
    judged partly before they were read gives None: a mean over a subset would not compare). The
    length-controlled figure needs length ratios that differ between questions (else None)."""

    keep = [i for i, o in enumerate(outcomes) if o != "error"]
    values = [outcome_value(outcomes[i]) for i in keep]
    prefs = [preferences[i] for i in keep]
    pos = [positions[i] for i in keep]
    logs = [math.log(length_ratios[i]) for i in keep]
    complete = bool(keep) and all(p is not None for p in prefs)
    n = len(keep)
    target = prefs if complete else values
    # all answers in the same length ratio: the fit cannot tell length from preference, so no figure
    varied = n > 1 and max(logs) - min(logs) > 1e-9
    lc = length_controlled_preference(target, logs) if varied else None
    signs = [preference_sign(p) for p in prefs] if complete else []
    return PairSummary(
        questions=n,
        net=sum(values) / n if n else 0.0,
        net_interval=mean_interval(values, resamples=resamples),
        debiased_questions=sum(p is not None for p in prefs),
        debiased=sum(prefs) / n if complete else None,
        debiased_interval=mean_interval(prefs, resamples=resamples) if complete else None,
        debiased_net=sum(signs) / n if complete else None,
        debiased_net_interval=mean_interval(signs, resamples=resamples) if complete else None,
        length_controlled=lc,
        length_controlled_interval=length_controlled_interval(target, logs, resamples=resamples) if varied else None,
        length_controlled_of="debiased" if complete else "hard rule",
        position=sum(pos) / n if complete else None,
        position_interval=mean_interval(pos, resamples=resamples) if complete else None,
        median_length_ratio=median(length_ratios[i] for i in keep) if n else None,
    )


def first_preferred_share(judgements: Iterable[Probabilities], shift: float = 0.0) -> tuple[int, int]:
    """(judgements whose first-shown answer is more likely the winner, P(A) - P(B) - ``shift`` > 0;
    judgements with a preference either way). With ``shift`` = the judge's mean position preference
    this is the position bias left after removing it from every judgement: about half for a judge
    whose preference for a position is the same on every question."""
    margins = [p["A"] - p["B"] - shift for p in judgements]
    decided = [m for m in margins if abs(m) > 1e-12]
    return sum(m > 0 for m in decided), len(decided)
