"""Streaming plan parser: turn plan text, fed in arbitrary chunks, into PlanNodes as lines complete.

Strict mode (default) reads text decoded under ``plan_regex``: a node is emitted the moment its
closing ``]`` arrives, so the scheduler can dispatch it before the newline (paper section 4.2.1),
and a complete line that breaks the format raises PlanFormatError. Tolerant mode reads text decoded
without the regex (other backends, other models): it emits a node when its line ends, reads common
variants of the format, repairs what it can, skips what is not a plan line, records every repair
in ``repairs`` and never raises on model output.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from plato_sgl.errors import PlanFormatError
from plato_sgl.grammar import load_plan_grammar, plan_line_pattern
from plato_sgl.plan import PlanNode, format_plan_line

# Tolerant reading. Markdown decoration in front of a line: bullets, quotes, headings.
_DECORATION = regex.compile(r"^(?:(?:[-*+•>]|#{1,6})\s+)+")
_EMPHASIS = regex.compile(r"\*\*|__")
# At most 9 digits, so int() never meets a huge number.
_NUMBER = r"\d{1,9}(?!\d)"
# The id: "1." "1)" "1:" "(1)" "1 -" "Step 1:" "Subtask 1." ... but not "1.5" or "2019-2023".
_LOOSE_ID = regex.compile(
    rf"^(?:(?:step|sub-?task|task|node)\s*)?\(?(?P<id>{_NUMBER})(?:\.(?!\d)|[):]|\s*[-–—](?=\s))\s*",
    regex.IGNORECASE,
)
_DEP_NUMBERS = (
    rf"(?:none|n/?a|-|{_NUMBER}(?:\s*(?:[,;&]|\band\b)\s*{_NUMBER}|\s+{_NUMBER})*(?:\s*[,;&])?)?"
)
# The dependency list at the end of a line: "[1,2]" "[1, 2]" "[ ]" "[none]", perhaps a period after.
_LOOSE_DEPS = regex.compile(rf"\[\s*(?P<deps>{_DEP_NUMBERS})\s*\][\s.]*$", regex.IGNORECASE)
# ... or labelled: "(depends on 1, 2)" "[deps: 1]" "- Dependencies: none".
_LABELLED_DEPS = regex.compile(
    rf"[\s(\[,;:–—-]*(?:depends\s+on|dependencies|dependency|deps)\s*:?\s*(?P<deps>{_DEP_NUMBERS})"
    r"\s*[)\]]?[\s.]*$",
    regex.IGNORECASE,
)
# ... or cut off before its "]" (the plan hit the token limit).
_UNCLOSED_DEPS = regex.compile(rf"\[\s*(?P<deps>{_DEP_NUMBERS})\s*$", regex.IGNORECASE)
_DESCRIPTION_TRAILER = " \t."
_MESSAGE_CLIP = 80


def _clip(text: str) -> str:
    """``text`` shortened for a repair message."""
    return text if len(text) <= _MESSAGE_CLIP else text[: _MESSAGE_CLIP - 1] + "…"


@dataclass(frozen=True)
class _LooseLine:
    """A line read in tolerant mode, before its dependencies are checked against the plan so far."""

    id: int
    description: str
    deps: tuple[int, ...]
    notes: tuple[str, ...]


def _read_loose_line(raw: str) -> _LooseLine | None:
    """Read one line written in some variant of the plan format; None if it is not a plan line."""
    line = _EMPHASIS.sub("", _DECORATION.sub("", raw.strip())).strip()
    head = _LOOSE_ID.match(line)
    if head is None:
        return None
    rest = line[head.end() :]
    notes: list[str] = []
    deps_match = _LOOSE_DEPS.search(rest) or _LABELLED_DEPS.search(rest)
    if deps_match is None:
        deps_match = _UNCLOSED_DEPS.search(rest)
        notes.append("unclosed dependency list" if deps_match else "no dependency list; assumed none")
    deps_text = deps_match.group("deps") if deps_match else ""
    description = (rest[: deps_match.start()] if deps_match else rest).strip().rstrip(_DESCRIPTION_TRAILER)
    if not description:
        return None
    deps = tuple(int(d) for d in regex.findall(r"\d+", deps_text))
    return _LooseLine(int(head.group("id")), description, deps, tuple(notes))


class PlanParser:
    """Feed plan text in chunks split anywhere; get each node back as soon as its line is complete.

    ``nodes``: every node so far, in plan order; ``repairs``: what tolerant mode changed, and any
    line dropped at ``close()``; ``text``: everything fed.
    """

    def __init__(self, *, tolerant: bool = False) -> None:
        self.tolerant = tolerant
        self.nodes: list[PlanNode] = []
        self.repairs: list[str] = []
        self._chunks: list[str] = []
        self._line = ""  # the current, incomplete line
        self._line_number = 1
        self._awaiting_newline = False  # strict: this line's node was emitted at its "]"

    @property
    def text(self) -> str:
        """All text fed so far."""
        return "".join(self._chunks)

    def feed(self, chunk: str) -> list[PlanNode]:
        """Take the next piece of plan text; return the nodes whose line it completed (a node that a
        repeated line merged into comes back again, revised)."""
        self._chunks.append(chunk)
        return self._feed_tolerant(chunk) if self.tolerant else self._feed_strict(chunk)

    def close(self) -> list[PlanNode]:
        """End of stream: read (tolerant) or drop (strict, cut off) the unfinished last line."""
        line, self._line = self._line, ""
        if self.tolerant:
            return self._accept_loose(line)
        if line and not self._awaiting_newline:
            self.repairs.append(f"line {self._line_number}: dropped incomplete last line {_clip(line)!r}")
        return []

    # -- strict -----------------------------------------------------------------------------

    def _feed_strict(self, chunk: str) -> list[PlanNode]:
        """Emit each node at its "]"; raise on a line that breaks the format."""
        emitted = []
        for char in chunk:
            if self._awaiting_newline:
                if char != "\n":
                    raise self._format_error(f"expected a newline after ']', got {char!r}", self._line + char)
                self._next_line()
            elif char == "\n":
                raise self._format_error("line ended before its dependency list was closed", self._line)
            else:
                self._line += char
                if char == "]":
                    emitted.append(self._accept_strict(self._line))
                    self._awaiting_newline = True
        return emitted

    def _accept_strict(self, line: str) -> PlanNode:
        """Check a complete line (up to its "]") against the format and the DAG rules; keep it."""
        match = plan_line_pattern().fullmatch(line)
        if match is None:
            raise self._format_error("not of the form '<id>. <description>.[<deps>]'", line)
        node_id = len(self.nodes) + 1
        if match["id"] != str(node_id):
            raise self._format_error(f"id {match['id']} where {node_id} was expected", line)
        separator = load_plan_grammar().deps_separator
        deps = tuple(int(d) for d in match["deps"].split(separator)) if match["deps"] else ()
        if any(d >= node_id for d in deps):
            raise self._format_error("a dependency is not an earlier id", line)
        if list(deps) != sorted(set(deps)):
            raise self._format_error("dependencies are not strictly increasing", line)
        node = PlanNode(node_id, match["description"], deps)
        self.nodes.append(node)
        return node

    def _format_error(self, problem: str, line: str) -> PlanFormatError:
        return PlanFormatError(f"plan line {self._line_number}: {problem}: {_clip(line)!r}")

    def _next_line(self) -> None:
        self._line = ""
        self._line_number += 1
        self._awaiting_newline = False

    # -- tolerant ---------------------------------------------------------------------------

    def _feed_tolerant(self, chunk: str) -> list[PlanNode]:
        """Emit a node for each line this chunk completed."""
        *complete, self._line = (self._line + chunk).split("\n")
        emitted = []
        for line in complete:
            emitted += self._accept_loose(line)
            self._line_number += 1
        return emitted

    def _accept_loose(self, raw: str) -> list[PlanNode]:
        """Read one complete line, repair it, add or merge its node; return the new or merged node."""
        if not raw.strip():
            return []
        where = f"line {self._line_number}"
        read = _read_loose_line(raw)
        if read is None:
            self.repairs.append(f"{where}: skipped, not a plan line: {_clip(raw.strip())!r}")
            return []
        canonical = format_plan_line(PlanNode(read.id, read.description, read.deps)).rstrip("\n")
        if raw.rstrip("\r") != canonical:
            self.repairs.append(f"{where}: read {_clip(raw.strip())!r} as {_clip(canonical)!r}")
        self.repairs += [f"{where}: {note}" for note in read.notes]
        index = next((i for i, n in enumerate(self.nodes) if n.id == read.id), None)
        if index is not None:
            self._merge(where, index, read)
            return [self.nodes[index]]  # the scheduler takes the merge while the node is still waiting
        node = PlanNode(read.id, read.description, self._filter_deps(where, read, ()))
        self.nodes.append(node)
        return [node]

    def _merge(self, where: str, index: int, read: _LooseLine) -> None:
        """Fold a line that repeats the id of ``nodes[index]`` into that node, in place."""
        earlier = self.nodes[index]
        description = earlier.description
        if read.description != description:
            description = f"{description}; {read.description}"
        self.nodes[index] = PlanNode(read.id, description, self._filter_deps(where, read, earlier.deps))
        self.repairs.append(
            f"{where}: id {read.id} repeats an earlier node; merged into it "
            "(descriptions joined, dependencies unioned)"
        )

    def _filter_deps(self, where: str, read: _LooseLine, kept: tuple[int, ...]) -> tuple[int, ...]:
        """``kept`` united with the line's valid dependencies (known, earlier ids); records drops."""
        known = {n.id for n in self.nodes}
        added: list[int] = []
        for dep in read.deps:
            if dep == read.id:
                problem = "self dependency"
            elif dep > read.id:
                problem = "forward dependency"
            elif dep not in known:
                problem = "unknown dependency"
            elif dep in added:
                problem = "repeated dependency"
            else:
                added.append(dep)
                continue
            self.repairs.append(f"{where}: node {read.id}: dropped {problem} on {dep}")
        if added != sorted(added):
            self.repairs.append(f"{where}: node {read.id}: dependencies sorted")
        return tuple(sorted(set(kept).union(added)))


def parse_plan(text: str, *, tolerant: bool = False) -> tuple[list[PlanNode], list[str]]:
    """Parse a whole plan at once: its nodes and the repairs made."""
    parser = PlanParser(tolerant=tolerant)
    parser.feed(text)
    parser.close()
    return parser.nodes, parser.repairs
