"""Skeleton-of-Thought (Ning et al., 2023, section 2.1) as SGLang frontend programs.

Two stages, with the paper's prompt templates (Prompt 1 and Prompt 2):

1. *Skeleton*: one request with two worked examples and the partial answer "1." for the model to
   continue, decoded under :func:`skeleton_regex` (3..10 short numbered points, one per line), so
   the points can be read off without guessing.
2. *Point expanding*: every point is expanded at once, as forks of one live state that holds the
   question and the skeleton. The prompt is cut right after "...the writing of point", so that
   prefix is identical for all points; it is prefilled once (``fork(n)`` of a synced state sends it
   with ``max_new_tokens=0``) before the branches start, and each branch adds only its own index,
   closes the user turn and continues the partial answer "<index>. <point>".

The answer is the points in order, each "<index>. <point> <expansion>". Points are reported as
nodes without dependencies: SoT's parallel degree is the number of points (Plato paper section
5.4) and its critical path is one node.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import regex
import sglang as sgl

from plato_sgl.core import prompts
from plato_sgl.core.checks import check_number, positive
from plato_sgl.core.options import Options, structure_sampling
from plato_sgl.core.plan import PlanNode
from plato_sgl.core.result import Call, NodeRecord, Result
from plato_sgl.core.scheduler import Progress, Scheduler
from plato_sgl.core.streaming import Layout
from plato_sgl.engine.backend import go_first, is_sglang_runtime
from plato_sgl.engine.programs import LiveStates, drain, follow, open_chat
from plato_sgl.engine.warmup import PLACEHOLDER, Opening
from plato_sgl.methods.autoregressive import plain_answer, plain_opening
from plato_sgl.methods.base import MethodRun

# -- the paper's prompts (Prompt 1 and Prompt 2, verbatim apart from line breaks) ------------------

SKELETON_PROMPT = """\
You're an organizer responsible for only giving the skeleton (not the full content) for answering \
the question. Provide the skeleton in a list of points (numbered 1., 2., 3., etc.) to answer the \
question. Instead of writing a full sentence, each skeleton point should be very short with only \
3~5 words. Generally, the skeleton should have 3~10 points.

Question:
What are the typical types of Chinese dishes?
Skeleton:
1. Dumplings.
2. Noodles.
3. Dim Sum.
4. Hot Pot.
5. Wonton.
6. Ma Po Tofu.
7. Char Siu.
8. Fried Rice.

Question:
What are some practical tips for individuals to reduce their carbon emissions?
Skeleton:
1. Energy conservation.
2. Efficient transportation.
3. Home energy efficiency.
4. Reduce water consumption.
5. Sustainable diet.
6. Sustainable travel.

Now, please provide the skeleton for the following question.
{question}
Skeleton:"""

SKELETON_START = "1."  # the partial answer the model continues

# Prompt 2, split where the point index first appears: everything before it is shared by all points.
EXPAND_SHARED = """\
You're responsible for continuing the writing of one and only one point in the overall answer to \
the following question.

{question}

The skeleton of the answer is

{skeleton}

Continue and only continue the writing of point"""
EXPAND_OWN = " {index}. Write it **very shortly** in 1~2 sentence and do not continue with other points!"

# -- the skeleton grammar ---------------------------------------------------------------------------

MIN_POINTS = 3
MAX_POINTS = 10  # the paper's "3~10 points"
POINT_MAX_CHARS = 60  # before the period; "3~5 words" with room to spare, and bounds a rambling line
# A point starts with a non-space, holds no newline or period and ends with one period, as in the
# paper's examples. Excluding "." inside the point is what makes small models close the line
# (grammars/plan.json). No \s inside classes: xgrammar warns about non-ASCII in negated \s classes.
_POINT = rf"[^ \t\n\r.][^\t\n\r.]{{0,{POINT_MAX_CHARS - 1}}}\."


def skeleton_regex(max_points: int = MAX_POINTS) -> str:
    """Regex for the skeleton after the partial answer "1.": 3..``max_points`` numbered points.

    ``max_points`` is capped at 10; below 3 it is also the minimum. Numbers are literals written
    in order, so the model cannot skip, repeat or reorder them; it may stop after any point from
    the minimum on. Points nest as ``P1 P2 P3(?:P4(?:P5)?)?`` (xgrammar syntax only).
    """
    check_number("max_points", max_points, "a positive integer", positive)
    high = min(max_points, MAX_POINTS)
    low = min(MIN_POINTS, high)
    optional = ""
    for index in range(high, low, -1):
        optional = f"(?:\\n{index}\\. {_POINT}{optional})?"
    required = " " + _POINT + "".join(f"\\n{index}\\. {_POINT}" for index in range(2, low + 1))
    return required + optional


_POINT_LINE = regex.compile(r"^\s*(\d+)\.\s*(\S.*?)\s*$")


def parse_skeleton(skeleton: str, max_points: int = MAX_POINTS) -> list[tuple[int, str]]:
    """The (index, point) pairs of a skeleton, numbered 1, 2, 3... in order, at most ``max_points``.

    Tolerant, for backends that do not enforce the regex: lines that are not numbered points are
    skipped, and reading stops at the first number out of sequence.
    """
    points: list[tuple[int, str]] = []
    for line in skeleton.splitlines():
        match = _POINT_LINE.match(line)
        if not match:
            continue
        if int(match[1]) != len(points) + 1 or len(points) == max_points:
            break
        points.append((len(points) + 1, match[2]))
    return points


def point_opening(index: int, point: str) -> str:
    """The partial answer a point's expansion continues, "<index>. <point>:", and the start of its
    line in the answer. Ending it with the point's own period instead reads as a finished turn: the
    model ends it at once, and SoT's answer is its skeleton."""
    return f"{index}. {point.rstrip('.')}:"


def point_line(index: int, point: str, expansion: str) -> str:
    """One line of the answer: "<index>. <point>: <expansion>"."""
    return f"{point_opening(index, point)} {expansion.strip()}".rstrip()


# Streamed in reading order (plato_sgl.core.streaming): each point's line as compose_answer writes it.
LAYOUT = Layout(lambda index, point, expansion, done: point_line(index, point, expansion), "\n")


def compose_answer(points: list[tuple[int, str, str]]) -> str:
    """The answer from (index, point, expansion) triples, one line each."""
    return "\n".join(point_line(index, point, expansion) for index, point, expansion in points)


# -- SGLang programs --------------------------------------------------------------------------------


# Sampling settings (temperature...) are not program arguments: ``run(...)`` takes them itself and
# every gen of the program, and of its forks, inherits them (see plato_sgl.engine.programs).


@sgl.function
def skeleton(
    s, question: str, regex: str | None = None, max_tokens: int = 512, history: Sequence[tuple[str, str]] = ()
):
    """The skeleton request: Prompt 1, then the model continues the partial answer "1."."""
    open_chat(s, prompts.ASSISTANT_SYSTEM, history)
    s += sgl.user(SKELETON_PROMPT.format(question=question))
    s += sgl.assistant_begin()
    s += SKELETON_START
    s += sgl.gen(
        "skeleton", regex=regex, max_tokens=max_tokens, **structure_sampling()
    )  # answer sampling stays out of skeletons


@sgl.function
def expand_prefix(s, question: str, skeleton: str, history: Sequence[tuple[str, str]] = ()):
    """The part of Prompt 2 every point shares (question and skeleton); fork it, then ``expand_point``."""
    open_chat(s, prompts.ASSISTANT_SYSTEM, history)
    s += sgl.user_begin()
    s += EXPAND_SHARED.format(question=question, skeleton=skeleton)


def expand_point(s, index: int, point: str, *, max_tokens: int = 256, ignore_eos: bool | None = None) -> None:
    """The rest of Prompt 2 for one point; the model continues ``point_opening`` into ``expansion``."""
    s += EXPAND_OWN.format(index=index)
    s += sgl.user_end()
    s += sgl.assistant_begin()
    s += point_opening(index, point)
    s += sgl.gen("expansion", max_tokens=max_tokens, ignore_eos=ignore_eos)


# -- the method -------------------------------------------------------------------------------------


class SoTRun(MethodRun):
    """Answers one question with Skeleton-of-Thought on the scheduler. Use ``run_sot``.

    The skeleton is the scheduler's source: once it is decoded, all its points are posted at once,
    as nodes without dependencies, so they are dispatched together as ``fork(n)`` of one state.
    """

    def __init__(
        self, question: str, backend: Any, options: Options, on_progress: Callable[[Progress], None] | None = None
    ):
        super().__init__("sot", question, options)
        self.backend = backend
        self.scheduler = Scheduler(self.clock, self.deadline, on_event=on_progress)
        self.states = LiveStates()

    label = "SoT"

    def _run(self) -> None:
        with self.states:
            self.scheduler.spawn("the skeleton request", self._skeleton)
            self.scheduler.run(self)
            if not self.scheduler.records:
                self._fallback()

    def _finish(self) -> None:
        self._record_points()

    def _skeleton(self) -> None:
        """The source: decode the skeleton (streamed, to time its first token), then post its points."""
        if self.options.plan_regex is not None:
            pattern = self.options.plan_regex
        else:
            pattern = skeleton_regex(self.options.max_nodes)
        call = Call(kind="skeleton", started_at=self.clock.now())
        self.result.calls.append(call)
        go_first(self.backend, pattern)
        state = skeleton.run(
            question=self.question,
            history=self.options.history,
            regex=pattern if is_sglang_runtime(self.backend) else None,
            max_tokens=self.options.plan_max_tokens,
            **self.options.sampling(self.question),  # run()'s sampling default, used by its gen
            backend=self.backend,
            stream=True,
        )
        out = follow(state, "skeleton", self.clock)
        call.finished_at = out.finished_at
        call.record_meta(out.meta)
        self.result.plan = SKELETON_START + out.text
        self.result.plan_first_token_at = out.first_token_at
        self.result.plan_done_at = out.finished_at
        points = parse_skeleton(self.result.plan, min(self.options.max_nodes, MAX_POINTS))
        self.scheduler.add_nodes([PlanNode(index, point) for index, point in points])
        self.scheduler.source_finished()

    def dispatch(self, nodes: list[PlanNode], context: tuple[int, ...]) -> None:
        """Fork one branch per point from the shared, prefilled prefix (question and skeleton)."""
        base = expand_prefix.run(
            question=self.question,
            skeleton=self.result.plan,
            history=self.options.history,
            **self.options.sampling(self.question),  # the branches' forks inherit it
            backend=self.backend,
            stream=True,
        )
        drain(base)
        shared = self.states.fork(base)[0]  # a live state: an ended one cannot fork(n > 1)
        shared.text()  # sync, so fork(n > 1) prefills the shared prefix once before the branches
        for node, branch in zip(nodes, self.states.fork(shared, len(nodes))):
            expand_point(
                branch,
                node.id,
                node.description,
                max_tokens=self.options.node_max_tokens,
                ignore_eos=self.options.ignore_eos,
            )
            self.scheduler.spawn(f"point {node.id}", self._follow_point, node.id, branch)

    def finished(self, record: NodeRecord, waiting: bool) -> None:
        """Points share no context: nothing to do when one finishes."""

    def _follow_point(self, node_id: int, branch) -> None:
        try:
            out = follow(branch, "expansion", self.clock, lambda text: self._tell_text(node_id, text))
        except BaseException as exc:  # surfaced to the scheduler at once, never swallowed
            self.scheduler.node_failed(node_id, exc)
            return
        self.scheduler.node_done(node_id, out.text, out.meta, out.first_token_at, at=out.finished_at)

    def _tell_text(self, node_id: int | None, text: str) -> None:
        self.scheduler.tell(Progress("text", self.clock.now(), node_id=node_id, text=text))

    def _record_points(self) -> None:
        records = self.scheduler.plan_records()
        if not records:
            return
        self.result.nodes = records
        self.result.answer = compose_answer([(r.id, r.description, r.result) for r in records if r.finished])
        self.result.critical_path = 1
        self.result.parallel_degree = float(len(records))

    def _fallback(self) -> None:
        """No numbered point in the skeleton: answer plainly and say why, rather than answer nothing."""
        self.result.fallback = "the skeleton had no numbered point; answered with a single plain request"
        self.result.answer, call = self.deadline.call(
            "the fallback request",
            plain_answer,
            self.question,
            self.backend,
            self.options,
            self.clock,
            kind="fallback",
            on_chunk=lambda text: self._tell_text(None, text),
        )
        self.result.calls.append(call)


def run_sot(
    question: str, backend: Any, options: Options, on_progress: Callable[[Progress], None] | None = None
) -> Result:
    """Answer ``question`` with Skeleton-of-Thought. ``options.plan_regex``, if set, replaces the
    skeleton regex (it constrains the text after "1."; tests force a known skeleton with it).
    ``on_progress`` gets the scheduler's Progress events (the points, their dispatch and finishes)."""
    return SoTRun(question, backend, options, on_progress).run()


def openings(options: Options) -> list[Opening]:
    common = {"question": PLACEHOLDER, "history": options.history}
    return [
        (skeleton, {**common, "max_tokens": 0}),
        (expand_prefix, {**common, "skeleton": ""}),
        plain_opening(options),
    ]


def layout(question: str) -> Layout:
    return LAYOUT
