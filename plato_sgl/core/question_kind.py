"""What kind of question this is, read from its text alone: cheap checks, with no model request.

They choose how a question is answered where its kind matters: ``auto`` answers a math word
problem or a programming task plainly (their steps form a chain); answers to both go unpenalised
for repetition (``Options.frequency_penalty``), since code repeats its identifiers and
indentation, and a calculation its numbers, by design; a node may write a code block only when
the question is about code.
"""

from __future__ import annotations

import regex

_NUMBER = regex.compile(r"(?<![\w.])\$?\d[\d,]*(?:\.\d+)?%?")
_QUANTITY_ASK = regex.compile(
    r"\b(?:how (?:many|much|long|far|old)|what (?:is|was|will be) the (?:total|cost|price|number|amount|sum|average|difference"
    r"|length|area|perimeter|volume|distance|probability|value)"
    r"|calculate|compute|in total|altogether|per cent|percent|find the value|solve)\b",
    regex.IGNORECASE,
)
# A request for code, from its opening verb to the piece of code asked for, within one sentence.
_PROGRAMMING_TASK = regex.compile(
    r"^\W*(?:please\s+)?(?:implement|write|develop|create|build|design|code)\b[^.?!]*?"
    r"\b(?:program|function|algorithm|data structure|class|regular expression|regex|sql query|code)\b",
    regex.IGNORECASE,
)
_CODE_WORDS = regex.compile(
    r"\b(?:code|program|programs|function|functions|implement|implementation|algorithm|script|python|java|javascript|"
    r"c\+\+|sql|regex|regular expression|class|method|api|html|css|bash|shell|compile|debug|bug)\b",
    regex.IGNORECASE,
)


def is_math_problem(question: str) -> bool:
    """A math word problem: a number, and a question for a quantity or a value."""
    return _NUMBER.search(question) is not None and _QUANTITY_ASK.search(question) is not None


def is_programming_task(question: str) -> bool:
    """A request for a piece of code ("Implement a ... function", "Write a program ..."), in its
    opening sentence; a question that merely mentions code is not one."""
    return _PROGRAMMING_TASK.search(question) is not None


def asks_for_code(question: str) -> bool:
    """Whether ``question`` is about code at all, so that its nodes may write code blocks. Elsewhere
    a code block would let a coding model escape the sentence count in '# ...' lines."""
    return _CODE_WORDS.search(question) is not None
