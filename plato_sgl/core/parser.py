"""Streaming plan parser: turn plan text, fed in arbitrary chunks, into PlanNodes as lines complete.

Strict mode (default) reads text decoded under ``plan_regex``: a node is emitted the moment its
closing ``]`` arrives, so the scheduler can dispatch it before the newline (paper section 4.2.1),
and a complete line that breaks the format raises PlanFormatError. Both modes read a sized plan's
opening ``Parts: k`` line into ``size``, and drop a line whose description repeats an earlier
one (small models repeat lines): a later dependency on the dropped id points to the earlier node,
and the drop is recorded in ``repairs``. Tolerant mode reads text decoded
without the regex (other backends, other models): it emits a node when its line ends, reads common
variants of the format, repairs what it can, skips what is not a plan line, records every repair
in ``repairs`` and never raises on model output.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from plato_sgl.core.errors import PlanFormatError
from plato_sgl.core.grammar import load_plan_grammar, plan_line_pattern
from plato_sgl.core.plan import PlanNode, format_plan_line

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
_DEP_NUMBERS = rf"(?:none|n/?a|-|{_NUMBER}(?:\s*(?:[,;&]|\band\b)\s*{_NUMBER}|\s+{_NUMBER})*(?:\s*[,;&])?)?"
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
_CUT_TRAILER = " ,;"  # what a description cut at the grammar's length bound may end with
_LOOSE_SIZE = regex.compile(r"^\s*(?:\*\*)?parts\s*:?(?:\*\*)?\s*:?\s*(?P<size>\d{1,3})\s*$", regex.IGNORECASE)


def description_key(description: str) -> str:
    """What two descriptions share when one repeats the other: lowercase words, punctuation ignored."""
    return " ".join(regex.findall(r"\w+", description.lower()))


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

    ``nodes``: every node so far, in plan order; ``size``: the plan's size decision (None if it
    had none); ``repairs``: repeated lines dropped, what tolerant mode changed, and any line
    dropped at ``close()``; ``text``: everything fed. ``max_size``: the largest size the plan may
    decide (strict mode): a size no further digit can keep within it is read at once, before its
    line ends.
    """

    def __init__(self, *, tolerant: bool = False, max_size: int | None = None) -> None:
        self.tolerant = tolerant
        self.max_size = max_size
        self.nodes: list[PlanNode] = []
        self.repairs: list[str] = []
        self._chunks: list[str] = []
        self._line = ""  # the current, incomplete line
        self._line_number = 1
        self._awaiting_newline = False  # strict: this line's node was emitted at its "]"
        self.size: int | None = None
        self._next_id = 1  # strict: the id the next line must have (dropped repeats count)
        self._aliases: dict[int, int] = {}  # id of a dropped repeated line -> the node it repeats
        self._keys: dict[str, int] = {}  # description_key -> node id

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
                size = self._size_number(self._line)
                if size is None:
                    raise self._format_error("line ended before its dependency list was closed", self._line)
                self.size = size
                self._next_line()
            else:
                self._line += char
                if self.size is None and self.max_size is not None and char.isdigit():
                    size = self._size_number(self._line)
                    if size is not None and size * 10 > self.max_size:
                        self.size = size  # no further digit is allowed: decided before the newline
                elif char == "]":
                    node = self._accept_strict(self._line)
                    if node is not None:
                        emitted.append(node)
                    self._awaiting_newline = True
        return emitted

    def _size_number(self, line: str) -> int | None:
        """The number ``line`` decides if it is the plan's opening size decision (so far), else None."""
        g = load_plan_grammar()
        if self._line_number > 1 or not line.startswith(g.size_prefix):
            return None
        number = line[len(g.size_prefix) :]
        return int(number) if number.isdigit() else None

    def _accept_strict(self, line: str) -> PlanNode | None:
        """Check a complete line (up to its "]") against the format and the DAG rules; keep it
        (None: it repeats an earlier line and was dropped)."""
        match = plan_line_pattern().fullmatch(line)
        if match is None:
            raise self._format_error("not of the form '<id>. <description>.[<deps>]'", line)
        node_id = self._next_id
        if match["id"] != str(node_id):
            raise self._format_error(f"id {match['id']} where {node_id} was expected", line)
        self._next_id += 1
        separator = load_plan_grammar().deps_separator
        deps = tuple(int(d) for d in match["deps"].split(separator)) if match["deps"] else ()
        if any(d >= node_id for d in deps):
            raise self._format_error("a dependency is not an earlier id", line)
        if list(deps) != sorted(set(deps)):
            raise self._format_error("dependencies are not strictly increasing", line)
        description = match["description"].rstrip(_CUT_TRAILER) or match["description"]
        return self._keep(f"line {self._line_number}", PlanNode(node_id, description, self._resolve(deps)))

    def _resolve(self, deps: tuple[int, ...]) -> tuple[int, ...]:
        """``deps`` with each dropped repeat replaced by the node it repeats."""
        return tuple(sorted({self._aliases.get(d, d) for d in deps}))

    def _keep(self, where: str, node: PlanNode) -> PlanNode | None:
        """Add ``node``, unless its description repeats an earlier node's: then drop it, say so, and
        let later lines that depend on it depend on the earlier node."""
        key = description_key(node.description)
        earlier = self._keys.get(key)
        if key and earlier is not None and earlier != node.id:
            self._aliases[node.id] = earlier
            self.repairs.append(
                f"{where}: dropped node {node.id} ({_clip(node.description)!r}), a repeat of node {earlier}"
            )
            return None
        self._keys.setdefault(key, node.id)
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
        size = _LOOSE_SIZE.match(raw)
        if size is not None and self.size is None and not self.nodes:
            self.size = int(size["size"])
            return []
        read = _read_loose_line(raw)
        if read is None:
            self.repairs.append(f"{where}: skipped, not a plan line: {_clip(raw.strip())!r}")
            return []
        canonical = format_plan_line(PlanNode(read.id, read.description, read.deps)).rstrip("\n")
        if raw.rstrip("\r") != canonical:
            self.repairs.append(f"{where}: read {_clip(raw.strip())!r} as {_clip(canonical)!r}")
        self.repairs += [f"{where}: {note}" for note in read.notes]
        if read.id in self._aliases:
            self.repairs.append(f"{where}: skipped, id {read.id} is a dropped repeated line")
            return []
        index = next((i for i, n in enumerate(self.nodes) if n.id == read.id), None)
        if index is not None:
            self._merge(where, index, read)
            return [self.nodes[index]]  # the scheduler takes the merge while the node is still waiting
        node = self._keep(where, PlanNode(read.id, read.description, self._filter_deps(where, read, ())))
        return [] if node is None else [node]

    def _merge(self, where: str, index: int, read: _LooseLine) -> None:
        """Fold a line that repeats the id of ``nodes[index]`` into that node, in place."""
        earlier = self.nodes[index]
        description = earlier.description
        if read.description != description:
            description = f"{description}; {read.description}"
        self.nodes[index] = PlanNode(read.id, description, self._filter_deps(where, read, earlier.deps))
        self.repairs.append(
            f"{where}: id {read.id} repeats an earlier node; merged into it (descriptions joined, dependencies unioned)"
        )

    def _filter_deps(self, where: str, read: _LooseLine, kept: tuple[int, ...]) -> tuple[int, ...]:
        """``kept`` united with the line's valid dependencies (known, earlier ids); records drops."""
        known = {n.id for n in self.nodes}
        added: list[int] = []
        for original in read.deps:
            dep = self._aliases.get(original, original)
            if dep != original and (dep in added or dep in kept):
                continue  # two dependencies that are one node since a repeat was dropped
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
