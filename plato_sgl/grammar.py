"""The plan grammar: load its pieces from ``grammars/plan.json`` and build the decoding regex.

A plan is one sub-task per line, ``<id>. <description>.[<dependency ids>]`` (paper section 4.2.1,
appendix B). ``plan_regex(n)`` accepts exactly the plans of 1..n lines with ids 1, 2, 3... in order
whose line k lists only ids 1..k-1, strictly increasing: every plan decoded under it is a DAG, and
the model may stop after any complete line. The regex uses only syntax that xgrammar 0.2.7 accepts
(literals, ``(?:...)``, ``|``, ``?``, character classes, ``{0,n}``), so it can go straight to
``sgl.gen(regex=...)`` with ``--grammar-backend xgrammar``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import regex

# Characters that must be escaped to stand for themselves in a regex (xgrammar and Python alike).
_META = frozenset(".^$*+?{}[]()|\\/")
_CONTROL = {"\n": r"\n", "\r": r"\r", "\t": r"\t"}

# Bounds on plan_regex's arguments. A description is bounded so a rambling model still reaches its
# dependency list; 1000 characters is far beyond a sub-task title and keeps xgrammar's {0,n} cheap.
DESCRIPTION_MAX_LIMIT = 1000


@dataclass(frozen=True)
class PlanGrammar:
    """The pieces of the plan line format (see grammars/plan.json for what each one means)."""

    id_pattern: str
    id_separator: str
    description_first_char: str
    description_char: str
    description_max: int
    description_end: str
    deps_open: str
    deps_separator: str
    deps_close: str
    line_end: str
    max_nodes_limit: int


@lru_cache(maxsize=1)
def load_plan_grammar() -> PlanGrammar:
    """Read ``plato_sgl.grammars/plan.json`` (shipped in the wheel) into a PlanGrammar."""
    data = json.loads(files("plato_sgl.grammars").joinpath("plan.json").read_text(encoding="utf-8"))
    return PlanGrammar(
        id_pattern=data["id"]["pattern"],
        id_separator=data["id_separator"]["literal"],
        description_first_char=data["description"]["first_char"],
        description_char=data["description"]["char"],
        description_max=data["description"]["max_length"],
        description_end=data["description_end"]["literal"],
        deps_open=data["dependencies"]["open"],
        deps_separator=data["dependencies"]["separator"],
        deps_close=data["dependencies"]["close"],
        line_end=data["line_end"]["literal"],
        max_nodes_limit=data["max_nodes"]["limit"],
    )


def literal_regex(text: str) -> str:
    """``text`` as a regex matching itself, escaping only what both regex dialects need.

    Passed as ``plan_regex``, it forces a known plan (tests, demos of a fixed DAG).
    """
    return "".join(_CONTROL.get(c, "\\" + c if c in _META else c) for c in text)


def _check_int(name: str, value: object, low: int, high: int, why: str) -> int:
    """Return ``value`` if it is an int in [low, high], else raise a ValueError saying why."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high} ({why}); got {value!r}")
    return value


def _deps_pattern(last: int, separator: str) -> str:
    """Regex for a possibly empty, strictly increasing, ``separator``-joined list of ids 1..last.

    Built as X_1 = ``1``, X_t = ``(?:X_{t-1}(?:,t)?|t)``: the non-empty increasing lists of
    1..t either end below t, end with ",t", or are "t" alone. Linear in ``last`` and unambiguous.
    """
    if last == 0:
        return ""
    sep = literal_regex(separator)
    body = "1"
    for t in range(2, last + 1):
        body = f"(?:{body}(?:{sep}{t})?|{t})"
    return f"(?:{body})?"


def _description_pattern(grammar: PlanGrammar, max_length: int) -> str:
    """Regex for a description of 1..max_length characters starting with a non-space."""
    rest = f"{grammar.description_char}{{0,{max_length - 1}}}" if max_length > 1 else ""
    return grammar.description_first_char + rest


def _line_pattern(grammar: PlanGrammar, node_id: int, description: str) -> str:
    """Regex for plan line ``node_id`` (literal id, deps on earlier ids only, newline included)."""
    return (
        literal_regex(f"{node_id}{grammar.id_separator}")
        + description
        + literal_regex(grammar.description_end + grammar.deps_open)
        + _deps_pattern(node_id - 1, grammar.deps_separator)
        + literal_regex(grammar.deps_close + grammar.line_end)
    )


def plan_regex(max_nodes: int = 10, *, description_max: int | None = None) -> str:
    """Regex accepting exactly the valid plans of 1..``max_nodes`` lines (every one a DAG).

    Lines nest as ``L1(?:L2(?:L3)?)?`` so the model may stop after any complete line.
    ``description_max`` (characters) defaults to the grammar's ``max_length``. ``max_nodes`` is
    capped (grammars/plan.json, 50): the regex grows ~N^2 characters (1 kB at N=10, 20 kB at
    N=50). xgrammar 0.2.7 compiled it in 0.8 / 1.0 / 1.1 / 1.5 s for N = 10 / 20 / 30 / 50 with a
    15k-token BPE vocabulary on one busy CPU core; SGLang caches the result per regex string.
    """
    grammar = load_plan_grammar()
    limit = grammar.max_nodes_limit
    max_nodes = _check_int("max_nodes", max_nodes, 1, limit, "regex size grows ~N^2 in N")
    if description_max is None:
        description_max = grammar.description_max
    description_max = _check_int(
        "description_max", description_max, 1, DESCRIPTION_MAX_LIMIT, "a sub-task is one short line"
    )
    description = _description_pattern(grammar, description_max)
    pattern = _line_pattern(grammar, max_nodes, description)
    for node_id in range(max_nodes - 1, 0, -1):
        pattern = f"{_line_pattern(grammar, node_id, description)}(?:{pattern})?"
    return pattern


@lru_cache(maxsize=1)
def plan_line_pattern() -> regex.Pattern[str]:
    """Compiled pattern for one well-formed line without its newline, any id, any dependency ids.

    Groups: ``id``, ``description``, ``deps``. The description length is not bounded here and id
    order and dependency rules are the parser's to check: the pattern only reads the shape.
    """
    g = load_plan_grammar()
    dep_list = f"(?:{g.id_pattern}(?:{literal_regex(g.deps_separator)}{g.id_pattern})*)?"
    return regex.compile(
        f"(?P<id>{g.id_pattern}){literal_regex(g.id_separator)}"
        f"(?P<description>{g.description_first_char}{g.description_char}*)"
        f"{literal_regex(g.description_end + g.deps_open)}(?P<deps>{dep_list}){literal_regex(g.deps_close)}"
    )
