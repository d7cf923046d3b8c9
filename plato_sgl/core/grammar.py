"""The grammars: load their pieces from ``grammars/`` and build the decoding regexes.

A plan is one sub-task per line, ``<id>. <description>.[<dependency ids>]`` (paper section 4.2.1,
appendix B). ``plan_regex(n)`` accepts plans whose ids are 1, 2, 3... in order and whose line k
lists only ids 1..k-1, strictly increasing: every plan decoded under it is a DAG. A *sized* plan
opens with its size decision, ``Parts: k``, and then has exactly k lines; an unsized one may stop
after any complete line, up to n. ``node_regex(n)`` bounds a node's result to n sentences or code
blocks, so it ends at a natural boundary. The regex uses only syntax that xgrammar 0.2.7 accepts
(literals, ``(?:...)``, ``|``, ``?``, character classes, ``{0,n}``), so it can go straight to
``sgl.gen(regex=...)`` with ``--grammar-backend xgrammar``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import regex

from plato_sgl.core.checks import check_number
from plato_sgl.core.options import Options, node_sentence_count

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
    ascii_first_char: str
    ascii_char: str
    size_prefix: str
    size_line_end: str
    size_limit: int


def _grammar_file(name: str) -> dict:
    """The pieces in ``plato_sgl.grammars/<name>`` (shipped in the wheel)."""
    return json.loads(files("plato_sgl.grammars").joinpath(name).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def load_plan_grammar() -> PlanGrammar:
    """Read ``plato_sgl.grammars/plan.json`` into a PlanGrammar."""
    data = _grammar_file("plan.json")
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
        ascii_first_char=data["description"]["ascii_first_char"],
        ascii_char=data["description"]["ascii_char"],
        size_prefix=data["size"]["prefix"],
        size_line_end=data["size"]["line_end"],
        size_limit=data["size"]["limit"],
    )


@dataclass(frozen=True)
class NodeGrammar:
    """The pieces of a node's result (see grammars/node.json); each class in an ``any`` and an ``ascii`` form."""

    sentence_start: dict[str, str]
    sentence_char: dict[str, str]
    sentence_end: dict[str, str]
    continue_after_end: dict[str, str]
    hard_end: dict[str, str]
    line_break: str
    separator: dict[str, str]
    code_block: str
    list_marker: str
    min_units: int


@lru_cache(maxsize=1)
def load_node_grammar() -> NodeGrammar:
    """Read ``plato_sgl.grammars/node.json`` into a NodeGrammar."""
    data = _grammar_file("node.json")
    classes = {
        name: {k: data[name][k] for k in ("any", "ascii")}
        for name in ("sentence_start", "sentence_char", "sentence_end", "continue_after_end", "hard_end", "separator")
    }
    return NodeGrammar(
        **classes,
        line_break=data["line_break"]["pattern"],
        code_block=data["code_block"]["pattern"],
        list_marker=data["list_marker"]["pattern"],
        min_units=data["min_units"]["count"],
    )


def is_ascii(text: str) -> bool:
    """Whether ``text`` is plain ASCII: then plans (and node results) are decoded in ASCII too."""
    return text.isascii()


def literal_regex(text: str) -> str:
    """``text`` as a regex matching itself, escaping only what both regex dialects need.

    Passed as ``plan_regex``, it forces a known plan (tests, demos of a fixed DAG).
    """
    return "".join(_CONTROL.get(c, "\\" + c if c in _META else c) for c in text)


def _check_int(name: str, value: object, low: int, high: int, why: str) -> int:
    """Return ``value`` if it is an int in [low, high], else raise a ValueError saying why."""
    return check_number(name, value, f"an integer from {low} to {high} ({why})", lambda v: low <= v <= high)


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


def _description_pattern(grammar: PlanGrammar, max_length: int, ascii: bool) -> str:
    """Regex for a description of 1..max_length characters starting with a non-space."""
    first, char = (
        (grammar.ascii_first_char, grammar.ascii_char)
        if ascii
        else (grammar.description_first_char, grammar.description_char)
    )
    rest = f"{char}{{0,{max_length - 1}}}" if max_length > 1 else ""
    return first + rest


def _line_pattern(grammar: PlanGrammar, node_id: int, description: str) -> str:
    """Regex for plan line ``node_id`` (literal id, deps on earlier ids only, newline included)."""
    return (
        literal_regex(f"{node_id}{grammar.id_separator}")
        + description
        + literal_regex(grammar.description_end + grammar.deps_open)
        + _deps_pattern(node_id - 1, grammar.deps_separator)
        + literal_regex(grammar.deps_close + grammar.line_end)
    )


def plan_regex(
    max_nodes: int = 6, *, description_max: int | None = None, ascii: bool = False, sized: bool = True
) -> str:
    """Regex accepting exactly the valid plans of 1..``max_nodes`` lines (every one a DAG).

    ``sized``: the plan opens with ``Parts: k`` (1 <= k <= max_nodes) and then has exactly k lines,
    an alternation over k (~N^3 characters, so N is capped at the size limit, 10). Unsized: lines
    nest as ``L1(?:L2(?:L3)?)?`` so the model may stop after any complete line (~N^2 characters,
    capped at 50). ``description_max`` (characters) defaults to the grammar's ``max_length``.
    ``ascii`` restricts descriptions to the ASCII classes (for a question in ASCII). SGLang caches
    each compiled regex per string, and ``warm_up_regexes`` lists the ones to compile up front.
    """
    grammar = load_plan_grammar()
    limit = grammar.size_limit if sized else grammar.max_nodes_limit
    max_nodes = _check_int(
        "max_nodes",
        max_nodes,
        1,
        limit,
        "a sized plan's regex grows ~N^3 in N" if sized else "regex size grows ~N^2 in N",
    )
    if description_max is None:
        description_max = grammar.description_max
    description_max = _check_int(
        "description_max", description_max, 1, DESCRIPTION_MAX_LIMIT, "a sub-task is one short line"
    )
    description = _description_pattern(grammar, description_max, ascii)
    lines = [_line_pattern(grammar, node_id, description) for node_id in range(1, max_nodes + 1)]
    if sized:
        size_end = literal_regex(grammar.size_line_end)
        sizes = "|".join(f"{k}{size_end}{''.join(lines[:k])}" for k in range(1, max_nodes + 1))
        return f"{literal_regex(grammar.size_prefix)}(?:{sizes})"
    pattern = lines[-1]
    for line in reversed(lines[:-1]):
        pattern = f"{line}(?:{pattern})?"
    return pattern


def split_opening(plan_regex: str) -> tuple[str, str]:
    """A plan regex as (its opening, the rest): a regex that opens with the size prefix (``Parts: ``)
    as a literal has it written into the prompt instead, so the first token decoded is the size.
    Other regexes are ("", ``plan_regex``): all of them is decoded."""
    opening = load_plan_grammar().size_prefix
    literal = literal_regex(opening)
    rest = plan_regex[len(literal) :]
    if not plan_regex.startswith(literal) or not rest or rest[0] in "*+?{":
        return "", plan_regex
    return opening, rest


def node_regex(max_units: int = 4, *, ascii: bool = False, code: bool = True) -> str:
    """Regex for a node's result: 2..``max_units`` sentences or fenced code blocks (the grammar's
    ``min_units``, 2, or ``max_units`` if fewer).

    A sentence may open with a list marker ("1. ", "- "), starts with a letter (or a quote,
    bracket or markdown mark; a digit only in its marker) and ends at ``.``, ``!``, ``?`` or ``:``
    not followed directly by a digit, ``,`` or ``)`` (so "3.5" does not end it), or at a line
    break (a line with no closing mark: an email's greeting, a list item); the last one cannot
    continue after such a mark, so the count, once spent, leaves only the stop. With ``code``, a
    fenced code block counts as one unit. When the regex is complete, the server stops the
    request: the node ends at a sentence boundary instead of mid-sentence at its cap.
    """
    max_units = _check_int("max_units", max_units, 1, 20, "a node is a short part of an answer")
    g = load_node_grammar()
    form = "ascii" if ascii else "any"
    end, hard, char, separator = g.sentence_end[form], g.hard_end[form], g.sentence_char[form], g.separator[form]
    start = f"{g.list_marker}?{g.sentence_start[form]}"
    final = f"(?:{end}|{hard})" if hard else end
    # A unit before the last one, with what follows it: its end mark and a separator, or a line break.
    sentence = f"{start}(?:{char}|{end}{g.continue_after_end[form]})*(?:{final}{separator}|{g.line_break})"
    last = f"{start}{char}*(?:{final}|{g.line_break})"  # no continuation after a mark: the node's end
    units, last_units = (
        (f"(?:{sentence}|{g.code_block}{separator})", f"(?:{last}|{g.code_block})") if code else (sentence, last)
    )
    least = min(g.min_units, max_units) - 1
    before = f"(?:{units}){{{least},{max_units - 1}}}" if max_units > 1 else ""
    return before + last_units


def warm_up_regexes(max_nodes: int | None = None) -> list[str]:
    """The regexes a default Plato run on an ASCII question decodes with, to compile when a server
    is started or connected (the first compile also builds xgrammar's tokenizer tables)."""
    defaults = Options()
    max_nodes = max_nodes or defaults.max_nodes
    regexes = [split_opening(plan_regex(max_nodes, description_max=defaults.description_max, ascii=True))[1]]
    if defaults.node_sentences:  # every sentence count a plan of up to max_nodes parts gives its nodes, most first
        counts = sorted(
            {node_sentence_count(defaults, size) for size in (None, *range(1, max_nodes + 1))}, reverse=True
        )
        regexes += [node_regex(count, ascii=True, code=code) for count in counts for code in (False, True)]
    return regexes


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
