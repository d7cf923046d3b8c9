"""Answer text in reading order, from a run's Progress events as they happen.

A method reports each piece of answer text as it arrives (``Progress("text")``: with the node it
belongs to, or with none for a single plain answer). Nodes decode side by side, but a reader reads
the answer from the top, so :class:`ReadingOrder` releases the first section while it decodes and
holds every later one until all sections before it are done; then it releases what that section
has so far and follows it live. The released text, put together, is the method's final answer
(``Result.answer``): each section is rendered by the same function the method composes its answer
with, and text that a later token could still change (an opening restatement that the answer
leaves out, trailing whitespace, a section that may yet repeat an earlier one word for word and so
be left out, with a ``distinct`` layout) is held back until it is settled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from plato_sgl.core import prompts
from plato_sgl.core.scheduler import Progress

# (node id, description, text so far, done) -> the section's text as the final answer will have it, so far.
Render = Callable[[int, str, str, bool], str]


@dataclass(frozen=True)
class Layout:
    """How a sectioned answer is put together: each section's rendering, and what goes between two."""

    render: Render
    separator: str
    distinct: bool = False  # a section repeating an earlier one is left out (prompts.repeated_section)


def plato_layout(question: str) -> Layout:
    """Plato's answer (``prompts.compose_answer``): a heading per part, its opening restatement left out."""

    def render(node_id: int, description: str, text: str, done: bool) -> str:
        if not done and not prompts.restatement_settled(text, description, question):
            return prompts.section(description, "")
        return prompts.section(description, prompts.drop_restatement(text, description, question)[0])

    return Layout(render, prompts.SECTION_SEPARATOR, distinct=True)


@dataclass
class _Section:
    id: int
    description: str
    text: str = ""
    done: bool = False


@dataclass
class ReadingOrder:
    """Feed it a run's Progress events in the order they happened; it returns the answer text each
    one releases. ``layout`` None: the answer is one plain request's text (or comes at the end)."""

    layout: Layout | None = None
    released: str = ""
    _sections: list[_Section] = field(default_factory=list)
    _by_id: dict[int, _Section] = field(default_factory=dict)
    _current: int = 0  # index of the section being read
    _kept: list[str] = field(default_factory=list)  # the texts of the sections read so far and shown
    _shown: str = ""  # what the current section has released
    _planned: bool = False
    _plain: bool = False

    def feed(self, event: Progress) -> str:
        """The text ``event`` releases (often "")."""
        if event.kind == "text" and event.node_id is None:  # a plain answer (or a method's fallback to one)
            self._plain = True
            return self._release(event.text)
        if self.layout is None or self._plain:
            return ""
        if event.kind == "node" and event.node_id is not None:
            if event.node_id in self._by_id:
                self._by_id[event.node_id].description = event.description
            else:
                self._by_id[event.node_id] = section = _Section(event.node_id, event.description)
                self._sections.append(section)
        elif event.kind == "text" and event.node_id in self._by_id:
            self._by_id[event.node_id].text += event.text
        elif event.kind == "done" and event.node_id in self._by_id:
            section = self._by_id[event.node_id]
            section.text, section.done = event.text, True
        elif event.kind == "planned":
            self._planned = True
        return self._advance()

    def finish(self, answer: str) -> str | None:
        """The rest of the final ``answer`` once the run is over; None if what was released is not
        its beginning (then the final answer differs from the stream and should be shown whole)."""
        if not answer.startswith(self.released):
            return None
        return self._release(answer[len(self.released) :])

    def _advance(self) -> str:
        out = []
        while self._current < len(self._sections):
            section = self._sections[self._current]
            if not section.text and not section.done:
                break  # not started: its heading waits for its first text
            if self.layout.distinct and not self._shown:
                if section.done and prompts.repeated_section(section.text, self._kept) is not None:
                    self._current += 1  # left out of the answer, separator and all
                    continue
                if not section.done and prompts.may_repeat(section.text, self._kept):
                    break
            rendered = self.layout.render(section.id, section.description, section.text, section.done)
            settled = rendered if section.done else rendered.rstrip()  # trailing space may be the end
            if not settled.startswith(self._shown):
                break  # cannot happen with a layout whose settled text only grows; hold it for finish()
            if self._current > 0 and not self._shown and settled:
                out.append(self.layout.separator)
            out.append(settled[len(self._shown) :])
            self._shown = settled
            if not section.done:
                break
            if self._current + 1 == len(self._sections) and not self._planned:
                break  # more sections may come
            self._kept.append(section.text)
            self._current += 1
            self._shown = ""
        return self._release("".join(out))

    def _release(self, text: str) -> str:
        self.released += text
        return text


@dataclass(frozen=True)
class StreamEvent:
    """What ``plato_sgl.stream`` yields: ``"text"`` (answer text, in reading order: the texts put
    together are the answer), ``"progress"`` (``progress``: a plan line parsed, nodes dispatched, a
    request's text as it arrives, a node done, a route chosen, the plan ended) and, last, ``"result"`` (the whole ``Result``)."""

    kind: str
    text: str = ""
    progress: Progress | None = None
    result: object | None = None  # a plato_sgl.core.result.Result, on the "result" event
