"""Prompt texts: the project's own wording of the structure and rules in the Plato paper (appendix B).

Node prompts are built from parts whose order matters for prefix caching (§4.2.2):
(1) the question, (2) instructions, (3) the global context, i.e. finished results appended in finish
order, (4) the node's own sub-task. Parts (1)-(3) only ever grow at the end, so each finished result
is prefilled once and every later node reuses the whole prefix. (1) and (2) may swap, so the
instructions, the same for every question, come first and stay cached across questions.
"""

from __future__ import annotations

from typing import Iterable

import regex

ASSISTANT_SYSTEM = "You are a helpful, knowledgeable assistant."

_PLAN_TASK = """\
Plan how to answer the user's question as parts that a team writes at the same time.{size} \
Then write one line per part: <id>. <topic>.[<ids of earlier parts it needs>]
- A topic is a short phrase of 2 to 6 words naming what the part covers, never the content itself.
- Parts do not overlap and none repeats another.
- List an earlier part only if this part cannot be written without its result; usually write []."""

_PLAN_SIZE = " First say how many parts the answer needs (1 to 6): few for a narrow question, more for a broad one."

# Worked examples in the style wanted: topics, not answers; independent parts unless a part truly
# needs another's result (the code's example calls need the code). No closing "pull it together"
# part: a small model copies it into most plans, and it makes each answer wait for its slowest
# part and then decode one more. Each is (question, size, lines); the
# size line is shown only for sized plans.
_PLAN_EXAMPLES = (
    (
        "How can a small town reduce traffic congestion?",
        4,
        (
            "1. Main causes of congestion.[]",
            "2. Public transport and cycling.[]",
            "3. Parking and road pricing.[]",
            "4. Costs and funding.[]",
        ),
    ),
    (
        "Write a Python function that checks whether a string is a palindrome.",
        2,
        ("1. The function with comments.[]", "2. Example calls and their output.[1]"),
    ),
    (
        "What would happen if the Moon disappeared?",
        5,
        (
            "1. Tides and the oceans.[]",
            "2. The tilt of the Earth and seasons.[]",
            "3. Nights without moonlight.[]",
            "4. Effects on animals.[]",
            "5. Long-term effects on climate.[]",
        ),
    ),
)


def plan_system(sized: bool = True) -> str:
    """The plan prompt: the task, the line format, and worked examples (with their size decision if ``sized``)."""
    examples = []
    for question, size, lines in _PLAN_EXAMPLES:
        head = [f"Question: {question}"] + ([f"Parts: {size}"] if sized else [])
        examples.append("\n".join(head + list(lines)))
    return _PLAN_TASK.format(size=_PLAN_SIZE if sized else "") + "\n\n" + "\n\n".join(examples)


def plan_user(question: str) -> str:
    """The user turn of the plan prompt, in the examples' shape."""
    return f"Question: {question}"


_NODE_RULES = """\
Other members of your team write the other parts. Rules:
- Write only your part, {length}, with concrete facts, reasons, numbers or examples.
- Start with the content itself: do not repeat the question or your part's topic, and write no heading, introduction or summary.
- Build on the parts already written and do not repeat them.
"""
_WRITTEN = "Parts already written:\n"

COT_INSTRUCTION = "Think step by step, then state the final answer."


def node_preamble(question: str, sentences: int = 0, rules_first: bool = False) -> str:
    """Parts (1) and (2) of a node prompt: the question, then the rules (ends before any result).
    ``rules_first``: the rules, then the question, so the rules are the same text for every question.

    ``sentences``: the length the node's grammar allows (0: free text, asked to be brief).
    """
    rules = _NODE_RULES.format(length=f"in at most {sentences} sentences or one code block" if sentences else "briefly")
    if rules_first:
        return f"You write one part of a team's answer to a question. {rules}The question: {question}\n{_WRITTEN}"
    return f"You write one part of a team's answer to this question: {question}\n{rules}{_WRITTEN}"


def context_entry(description: str, result: str) -> str:
    """One finished node in part (3), the global context."""
    return f"- {description}: {result.strip()}\n"


def node_task(description: str) -> str:
    """Part (4): the node's own sub-task, the only part that differs between sibling nodes."""
    return f"{TASK_LABEL} {description}."


TASK_LABEL = "Your part:"


_WORDS = regex.compile(r"\w+")
_FIRST_SENTENCE = regex.compile(r"^\s*(?:#{1,6}\s*)?(?P<sentence>[^\n.!?:]*[.!?:]?)(?=\s|$)")
# Words that carry no content of their own in an opening sentence ("To do X, you can Y:").
_FILLER = frozenset(
    "a an the and or of to in on for with by as at is are be can could should will would you your yours i my me "
    "we our us they their it its this that these those there here some any following ways way steps tips "
    "help helps do does how what why which also need needs use using following".split()
)


def drop_restatement(result: str, description: str, question: str = "") -> tuple[str, bool]:
    """``result`` without a first sentence or heading that only restates its topic or the question.

    A small model often opens a part with its topic ("Effects on sleep.", "**Effects on sleep**")
    or the question ("To improve your time management, you can create a schedule."); the composed
    answer already shows the topic as the section's heading. A first sentence counts as a
    restatement when every word in it is from the topic, the question or a short filler list.
    An echo of the task's own label ("Your part: ...") is left out too.
    Returns the text and whether something was dropped; a result that is nothing but the
    restatement is kept whole.
    """
    stripped = result.lstrip()
    if stripped.lower().startswith(TASK_LABEL.lower()) and stripped[len(TASK_LABEL) :].strip():
        rest, _ = drop_restatement(stripped[len(TASK_LABEL) :].lstrip(), description, question)
        return rest, True
    match = _FIRST_SENTENCE.match(result)
    if match is None:
        return result, False
    first = _WORDS.findall(match["sentence"].lower())
    if not first or not set(first) <= _known_words(description, question):
        return result, False
    rest = result[match.end() :].lstrip()
    return (rest, True) if rest else (result, False)


def _known_words(description: str, question: str) -> set[str]:
    return set(_WORDS.findall(description.lower())) | set(_WORDS.findall(question.lower())) | _FILLER


def restatement_settled(text: str, description: str, question: str = "") -> bool:
    """Whether ``drop_restatement``'s decision on ``text``, a result still being written, is final:
    more text cannot change what is left out. Either its first sentence (after any task label)
    already has a whole word of its own (it stays), or that sentence has ended and something
    follows it (a result that is nothing but its restatement is kept whole)."""
    stripped = text.lstrip()
    if len(stripped) < len(TASK_LABEL) and TASK_LABEL.lower().startswith(stripped.lower()):
        return False  # may still become the label
    if stripped.lower().startswith(TASK_LABEL.lower()):
        return restatement_settled(stripped[len(TASK_LABEL) :], description, question)
    match = _FIRST_SENTENCE.match(text)
    if match is None:
        return True  # drop_restatement leaves such a text as it is, and more text cannot make it match
    known = _known_words(description, question)
    words = _WORDS.findall(match["sentence"].lower())
    if match.end() == len(text) and words and text[-1:].isalnum():  # its last word may still grow
        growing = words.pop()
        if not any(word.startswith(growing) for word in known):
            return True
    if set(words) - known:
        return True
    return match.end() < len(text) and bool(text[match.end() :].strip())


def _normal(text: str) -> str:
    return " ".join(text.split()).lower()


def repeated_section(text: str, earlier: Iterable[str]) -> int | None:
    """The index of the first of ``earlier`` (sections' texts) that ``text`` repeats word for word,
    case and spacing aside, or None. Sibling nodes of a small model, given near-identical prompts,
    sometimes write the very same text; an answer shows it once."""
    normal = _normal(text)
    if not normal:
        return None
    return next((index for index, other in enumerate(earlier) if _normal(other) == normal), None)


def may_repeat(text: str, earlier: Iterable[str]) -> bool:
    """Whether a section still being written, ``text`` so far, may yet turn out to repeat one of
    ``earlier`` (its text so far begins one of them), so a reader should not be shown it yet."""
    normal = _normal(text)
    return any(_normal(other).startswith(normal) for other in earlier)


SECTION_SEPARATOR = "\n\n"


def section(description: str, result: str) -> str:
    """One part of a composed answer: its topic as a heading, then its result."""
    return f"**{description}**\n{result.strip()}"


def compose_answer(sections: Iterable[tuple[str, str]]) -> str:
    """One readable answer from (description, result) pairs in plan order."""
    return SECTION_SEPARATOR.join(section(description, result) for description, result in sections)
