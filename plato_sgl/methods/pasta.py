"""PASTA by prompting (Jin et al., "Expressing and exploiting parallelism in language model
decoding", section 4, appendix A and B.3) as SGLang frontend programs.

The model is prompted (appendix B.3's instructions and its two examples, shortened) to annotate its
own answer: ``<scope>...</scope>`` marks a parallel scope and ``<promise/>`` a place whose content
can be written asynchronously. The interpreter (appendix A, Algorithm 1) decodes the answer in
requests that end at the tags that need an action (stop strings):

- ``<promise/>``: fork an asynchronous branch whose prompt is the text so far + ``<promise/><async>``;
  it decodes until ``</async>`` (or ``node_max_tokens``) while the main branch goes on at once.
- ``</scope>``: wait for the branches started in that scope, then substitute them: the text goes on
  from ``...<promise/><async>content</async>...`` (the prompt's "Full Response" form), so what is
  decoded after a scope is conditioned on everything in it (the paper's synchronous prefix).
- ``<scope>`` needs no action at decode time: it only opens the scope the next promises belong to.

Branches are interpreted the same way (they may open scopes and make promises of their own).
Every request starts from a fork of one ended prompt state plus the annotated text so far; the
server's prefix cache reuses all of it up to the first substituted promise.

Reproduced: the annotation language (scopes, promises, async spans, nesting), the interpreter's
fork / wait / substitute semantics, and the prompt of appendix B.3. Not reproduced: the fine-tuned
PASTA model and its training data (hence "by prompting"), and Algorithm 1's decoding constraint
that disables syntactically invalid tags: instead, malformed annotations degrade to plain text
(each case is noted in ``Result.repairs``, never raised):

- a promise outside any scope is still forked and is substituted at the end of the answer;
- a ``</scope>`` without an open scope is dropped; scopes left open are closed at the end;
- a branch that reaches ``node_max_tokens`` without ``</async>`` keeps what it wrote;
- a tag cut off by the token limit is dropped; every tag is removed from the final answer;
- promises beyond ``max_nodes`` are dropped (the main branch writes on without them).

Options: ``max_tokens`` bounds the main branch, ``node_max_tokens`` each async branch,
``max_nodes`` the number of async branches; ``ignore_eos`` applies to async branches only.
``plan_regex`` forces the main branch's text (as the model writes it, with ``<promise/>`` and
``</scope>`` tags): see :func:`split_main_regex`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence, Union

import regex
import sglang as sgl

from plato_sgl.core import prompts
from plato_sgl.core.grammar import literal_regex
from plato_sgl.core.options import Options
from plato_sgl.core.plan import PlanNode, critical_path, parallel_degree
from plato_sgl.core.result import Call, NodeRecord, Result, Tokens
from plato_sgl.core.scheduler import Progress, Scheduler
from plato_sgl.engine.backend import is_sglang_runtime
from plato_sgl.engine.programs import LiveStates, drain, follow, open_chat
from plato_sgl.engine.warmup import PLACEHOLDER, Opening
from plato_sgl.methods.autoregressive import plain_answer, plain_opening
from plato_sgl.methods.base import MethodRun

SCOPE_OPEN = "<scope>"
SCOPE_CLOSE = "</scope>"
PROMISE = "<promise/>"
ASYNC_OPEN = "<async>"
ASYNC_CLOSE = "</async>"
TAGS = (SCOPE_OPEN, SCOPE_CLOSE, PROMISE, ASYNC_OPEN, ASYNC_CLOSE)

MAIN_STOPS = (PROMISE, SCOPE_CLOSE)
ASYNC_STOPS = (PROMISE, SCOPE_CLOSE, ASYNC_CLOSE)

# -- the prompt (appendix B.3, shortened: the first example's article is cut down) --------------------

PASTA_PROMPT = """\
## Introduction to PASTA
PASTA is an XML-like language designed to specify parallelism in language model decoding.

**Syntax** PASTA introduces three tags: <scope>, <async>, and <promise/>. <scope> tags can be \
nested arbitrarily within <scope> and <async> tags, and there can be any number of sibling <scope> \
elements within a level. Every <async> element must be a descendant of a <scope> element.

**Semantics** The tags <async> and </async> mark a sequence of tokens that language models can \
generate asynchronously. The PASTA interpreter will continue generating tokens after an <async> \
tag without waiting for the tokens generated between the <async> tags to complete. The <promise/> \
tags mark where asynchronous generations are located. The tags <scope> and </scope> mark the \
beginning and end of a parallel scope. Upon reaching the </scope> tag, the interpreter waits for \
all asynchronous generations initiated within this parallel scope to complete, and inserts the \
asynchronously generated content into the corresponding <promise/> tags.

**Task description** Your task is to generate responses with promise and scope tags. The content \
of the promises should be independent from one another; therefore, think carefully what to \
represent with the promise tags and what to leave out of it. Remember:
- Within a <scope> node, always have some synchronously generated content.
- <promise/> should not be immediately followed by another <promise/> tag. There should be some \
synchronous content in between.
- You should never generate the <async> tags, only <promise/> and <scope> tags.

Here are some examples:
=====EXAMPLE=====
**Instruction:** Summarize the following article: Harry Potter star Daniel Radcliffe gains access \
to a reported 20 million pound fortune as he turns 18 on Monday, but he insists the money won't \
cast a spell on him. He has no plans to fritter his cash away on fast cars, drink and celebrity \
parties. "The things I like buying are things that cost about 10 pounds - books and CDs and DVDs."
**Task:** Generate a response using <promise/> and <scope> tags.
**Full Response:** <scope>Daniel Radcliffe, known for his role as Harry Potter, gained<promise/>\
<async> access to a 20 million pound fortune upon turning 18.</async> Contrary to \
expectations,<promise/><async> he plans to spend modestly, preferring books and CDs over \
extravagant purchases.</async></scope>
**Assistant Response:** <scope>Daniel Radcliffe, known for his role as Harry Potter, \
gained<promise/> Contrary to expectations,<promise/></scope>
=====EXAMPLE=====
**Instruction:** Why mobile is bad for human?
**Task:** Generate a response using <promise/> and <scope> tags.
**Full Response:** Excessive use of mobile devices can have negative effects on human health:
<scope>
1. Eye Strain:<promise/><async> Constant exposure to small screens can lead to eye strain.</async>
2. Poor Posture:<promise/><async> Hunching over a device can cause neck and shoulder pain.</async>
3. Social Isolation:<promise/><async> Over-reliance on digital communication can reduce \
face-to-face interaction.</async>
</scope>
It is important to find a healthy balance between using mobile devices and other activities.
**Assistant Response:** Excessive use of mobile devices can have negative effects on human health:
<scope>
1. Eye Strain:<promise/>
2. Poor Posture:<promise/>
3. Social Isolation:<promise/>
</scope>
It is important to find a healthy balance between using mobile devices and other activities.
=====TEST=====
**Instruction:** {question}
**Task:** Generate a response using only <promise/> and <scope> tags.
**Assistant Response:**"""


@sgl.function
def pasta_prompt(s, question: str, history: Sequence[tuple[str, str]] = ()):
    """The prompt every request of a PASTA answer starts with; fork it and append the text so far."""
    open_chat(s, prompts.ASSISTANT_SYSTEM, history)
    s += sgl.user(PASTA_PROMPT.format(question=question))
    s += sgl.assistant_begin()


# -- pure parts: the annotated text and what is shown of it --------------------------------------------


@dataclass(eq=False)
class Promise:
    """One ``<promise/>``: the async branch it started and whether a scope has substituted it."""

    node: PlanNode
    branch: "Stream"
    synced: bool = False  # set by the scope that waited for it; only then is its content shown


Piece = Union[str, Promise]


@dataclass(eq=False)
class Stream:
    """One sequence of requests: the main answer, or one async branch after its ``<async>``."""

    prefix: str  # the assistant text before this stream's own text
    budget: int  # completion tokens it may still use
    inherited: tuple[int, ...] = ()  # ids of the substituted promises already in ``prefix``
    pieces: list[Piece] = field(default_factory=list)
    first_token_at: float | None = None  # of an async branch: when its first request's first token came

    def context(self) -> str:
        """The assistant text the next request of this stream continues."""
        return self.prefix + render(self.pieces)


def render(pieces: Sequence[Piece]) -> str:
    """The annotated text: a promise is ``<promise/>``, followed by ``<async>content</async>`` once
    the scope that waited for it has substituted it."""
    parts = []
    for piece in pieces:
        if isinstance(piece, str):
            parts.append(piece)
            continue
        parts.append(PROMISE)
        if piece.synced:
            parts.append(ASYNC_OPEN + render(piece.branch.pieces) + ASYNC_CLOSE)
    return "".join(parts)


def synced_ids(pieces: Sequence[Piece]) -> list[int]:
    """Ids of the substituted promises in ``pieces``, nested ones included."""
    ids: list[int] = []
    for piece in pieces:
        if isinstance(piece, Promise) and piece.synced:
            ids.append(piece.node.id)
            ids.extend(synced_ids(piece.branch.pieces))
    return ids


# A tag, leniently: any case, inner spaces, "<promise>" or "<promise />" for "<promise/>".
_ANY_TAG = regex.compile(r"<\s*/?\s*(?:scope|async|promise)\s*/?\s*>", regex.IGNORECASE)


def strip_tags(text: str) -> str:
    """``text`` without any PASTA tag (the plain answer)."""
    return _ANY_TAG.sub("", text)


def drop_partial_tag(text: str) -> str:
    """``text`` without a tag cut off at its very end by the token limit (e.g. ``"...<prom"``)."""
    start = text.rfind("<")
    if start < 0 or len(text) - start < 2:
        return text
    tail = text[start:]
    return text[:start] if any(tag.startswith(tail) and tag != tail for tag in TAGS) else text


def describe(segment: str, context: str, width: int = 80) -> str:
    """A node's description: the last line of plain text the model wrote just before its promise
    (``segment``, the request that ended at it), else of the whole ``context``; at most ``width`` chars."""
    for text in (segment, context):
        lines = [line.strip() for line in strip_tags(text).splitlines() if line.strip()]
        if lines:
            return lines[-1][-width:]
    return ""


_SEGMENT_END = regex.compile(r"<promise\\?/>|<\\?/scope>")


def split_main_regex(pattern: str) -> list[str]:
    """Cut a regex for the whole main-branch text after each literal ``<promise/>`` and ``</scope>``.

    The interpreter decodes the main branch in requests that end at those tags, and request k is
    decoded under piece k; when the pieces run out, the main branch ends. So the tags that end
    requests must appear in ``pattern`` as top-level literals (as ``grammar.literal_regex`` writes
    them, ``/`` escaped or not). Raises ValueError when a piece is not a regex on its own.
    """
    pieces, start = [], 0
    for match in _SEGMENT_END.finditer(pattern):
        pieces.append(pattern[start : match.end()])
        start = match.end()
    if start < len(pattern):
        pieces.append(pattern[start:])
    for piece in pieces:
        try:
            regex.compile(piece)
        except regex.error as exc:
            raise ValueError(
                f"plan_regex for pasta: the piece {piece!r} is not a regex ({exc}); <promise/> and "
                "</scope> must appear as top-level literals"
            ) from None
    return pieces


def add_meta(tokens: Tokens, meta: dict[str, Any]) -> None:
    """Add one request's token counts to ``tokens`` (a node may take several requests)."""
    one = Tokens()
    one.record_meta(meta)
    tokens.prompt_tokens += one.prompt_tokens
    tokens.cached_tokens += one.cached_tokens
    tokens.completion_tokens += one.completion_tokens


def matched_stop(meta: dict[str, Any], stops: Sequence[str]) -> str | None:
    """The tag a request stopped at, or None (end of text, token limit, chat template stop)."""
    finish = meta.get("finish_reason") or {}
    matched = finish.get("matched") if isinstance(finish, dict) else None
    return matched if matched in stops else None


def cut_at_stop(text: str, stop: str | None, stops: Sequence[str]) -> tuple[str, str | None]:
    """The segment a request really decoded: its text up to the first stop tag in it, and that tag.

    A server can miss a stop string (SGLang looks for it only in the last few tokens, counted as
    the tag's usual tokenization, so a tag spelled in more tokens slips through); the text after
    a missed tag was decoded without the fork or wait the tag asks for, so it is dropped.
    """
    found = [(text.find(tag), tag) for tag in stops if tag in text]
    if not found:
        return text, stop
    at, tag = min(found)
    return text[:at], tag


# -- the interpreter ---------------------------------------------------------------------------------


class PastaRun(MethodRun):
    """Answers one question with PASTA by prompting, on the scheduler. Use ``run_pasta``.

    The main branch is the scheduler's source: it posts a node at each ``<promise/>`` (its
    dependencies: the spans already substituted into its prefix) and waits at ``</scope>`` for the
    scope's spans to finish. The scheduler dispatches each span, whose branch is interpreted the
    same way (its own promises are posted too).
    """

    def __init__(
        self, question: str, backend: Any, options: Options, on_progress: Callable[[Progress], None] | None = None
    ):
        super().__init__("pasta", question, options)
        self.backend = backend
        self.scheduler = Scheduler(self.clock, self.deadline, on_event=on_progress)
        self.forced = (
            split_main_regex(options.plan_regex) if options.plan_regex and is_sglang_runtime(backend) else None
        )
        self.root = None  # the ended prompt state; every request forks it
        self.main = Stream(prefix="", budget=options.max_tokens)
        self.promises: dict[int, Promise] = {}
        self.lock = threading.Lock()  # guards promises and result.repairs (branches add to them)

    label = "PASTA"

    def _run(self) -> None:
        if is_sglang_runtime(self.backend):
            self.scheduler.spawn("the main branch", self._main)
            self.scheduler.run(self)
        else:
            self._plain()

    def _finish(self) -> None:
        if self.result.fallback is None:
            self.result.plan = render(self.main.pieces)  # on failure: only what a scope substituted
            self.result.answer = strip_tags(self.result.plan).strip()
        self.result.nodes = self.scheduler.plan_records()
        self.result.repairs = [*self.result.repairs, *self.scheduler.repairs]

    def _succeeded(self) -> None:
        self.result.critical_path = critical_path(self.scheduler.nodes)
        self.result.parallel_degree = parallel_degree(self.scheduler.nodes)

    def _plain(self) -> None:
        """OpenAI-style backends report no matched stop string, so a request cannot end at a tag."""
        self.result.fallback = (
            "PASTA needs SGLang's runtime (it reports which tag ended a request); this "
            "OpenAI-style backend does not, so the answer is a single plain request"
        )
        self.result.answer, call = self.deadline.call(
            "the fallback request", plain_answer, self.question, self.backend, self.options, self.clock, kind="fallback"
        )
        self.result.calls.append(call)

    def _main(self) -> None:
        """The source: the prompt, then the main branch to its end."""
        self.root = pasta_prompt.run(
            question=self.question,
            history=self.options.history,
            **self.options.sampling(self.question),  # run()'s sampling default: every fork's gen inherits it
            backend=self.backend,
            stream=True,
        )
        drain(self.root)
        self._interpret(self.main, None)
        self.scheduler.source_finished()

    def _interpret(self, stream: Stream, tokens: Tokens | None) -> None:
        """Decode ``stream`` to its end (Algorithm 1): fork at promises, synchronize at ``</scope>``.

        ``tokens`` sums an async span's requests (None for the main branch, whose requests are Calls).
        Scopes form a stack whose bottom is the stream's own implicit scope, closed at its end.
        """
        scopes: list[list[Promise]] = [[]]
        owner = tokens is not None
        stops = ASYNC_STOPS if owner else MAIN_STOPS
        forced = None if owner else self.forced
        while stream.budget > 0 and (forced is None or forced):
            text, stop = self._decode(stream, stops, forced.pop(0) if forced else None, tokens)
            stream.pieces.append(text)
            scopes.extend([] for _ in range(text.count(SCOPE_OPEN)))
            if stop == PROMISE:
                if not owner and len(scopes) == 1:
                    self._repair("a <promise/> outside any <scope> was substituted at the end of the answer")
                self._fork(stream, scopes[-1])
            elif stop == SCOPE_CLOSE and len(scopes) == 1:
                self._repair("a </scope> without an open scope was dropped")
            elif stop == SCOPE_CLOSE:
                stream.pieces.append(SCOPE_CLOSE)
                self._sync(scopes.pop())
            else:  # </async>, end of text or token limit
                break
        if stream.pieces and isinstance(stream.pieces[-1], str):
            stream.pieces[-1] = drop_partial_tag(stream.pieces[-1])
        if len(scopes) > 1:
            self._repair(f"{len(scopes) - 1} <scope> left open, closed at the end of the text")
        for scope in reversed(scopes):
            self._sync(scope)

    def _decode(
        self, stream: Stream, stops: Sequence[str], pattern: str | None, tokens: Tokens | None
    ) -> tuple[str, str | None]:
        """One request continuing ``stream``; returns its text (without the stop tag) and the tag."""
        call = Call(kind="main", started_at=self.clock.now())
        if tokens is None:
            self.result.calls.append(call)  # listed while in flight: a partial Result shows it
        with LiveStates() as states:  # the request's state ends with it, even when it fails
            state = states.fork(self.root)[0]
            state += stream.context()
            state += sgl.gen(
                "out",
                max_tokens=stream.budget,
                stop=list(stops),
                # the same tags as a regex: SGLang then checks as many tail tokens as the tags have
                # characters, so it also catches a tag spelled in unusual tokens (see cut_at_stop)
                stop_regex="|".join(literal_regex(tag) for tag in stops),
                regex=pattern,
                ignore_eos=tokens is not None and self.options.ignore_eos,
            )
            out = follow(state, "out", self.clock)
        if tokens is None:
            call.finished_at = out.finished_at
            call.record_meta(out.meta)
        else:
            stream.first_token_at = stream.first_token_at or out.first_token_at
            add_meta(tokens, out.meta)
        stream.budget -= int(out.meta.get("completion_tokens") or 0)
        return cut_at_stop(out.text, matched_stop(out.meta, stops), stops)

    def _fork(self, stream: Stream, scope: list[Promise]) -> None:
        """Post the node of the promise that ends ``stream``'s text (or drop it past max_nodes)."""
        context = stream.context()
        with self.lock:
            if len(self.promises) >= self.options.max_nodes:
                self.result.repairs.append(f"a <promise/> beyond max_nodes={self.options.max_nodes} was dropped")
                return
            deps = tuple(sorted({*stream.inherited, *synced_ids(stream.pieces)}))
            segment = stream.pieces[-1] if isinstance(stream.pieces[-1], str) else ""
            node = PlanNode(len(self.promises) + 1, describe(segment, context), deps)
            branch = Stream(prefix=context + PROMISE + ASYNC_OPEN, budget=self.options.node_max_tokens, inherited=deps)
            promise = self.promises[node.id] = Promise(node=node, branch=branch)
        stream.pieces.append(promise)
        scope.append(promise)
        self.scheduler.add_nodes([node])  # its dependencies have finished: it is dispatched at once

    def dispatch(self, nodes: list[PlanNode], context: tuple[int, ...]) -> None:
        for node in nodes:
            self.scheduler.spawn(f"async span {node.id}", self._run_branch, self.promises[node.id])

    def finished(self, record: NodeRecord, waiting: bool) -> None:
        """A span's content reaches later text by substitution, not through a shared state."""

    def _run_branch(self, promise: Promise) -> None:
        """Worker thread: interpret one async branch, then report it to the scheduler."""
        tokens = Tokens()
        try:
            self._interpret(promise.branch, tokens)
        except BaseException as exc:  # surfaced by the scheduler at once, never swallowed
            self.scheduler.node_failed(promise.node.id, exc)
            return
        meta = {
            "prompt_tokens": tokens.prompt_tokens,
            "cached_tokens": tokens.cached_tokens,
            "completion_tokens": tokens.completion_tokens,
        }
        self.scheduler.node_done(
            promise.node.id, strip_tags(render(promise.branch.pieces)).strip(), meta, promise.branch.first_token_at
        )

    def _sync(self, scope: list[Promise]) -> None:
        """Wait for every branch started in ``scope``, then substitute them into the text."""
        self.scheduler.wait_finished([promise.node.id for promise in scope])
        for promise in scope:
            promise.synced = True

    def _repair(self, note: str) -> None:
        with self.lock:
            self.result.repairs.append(note)


def run_pasta(
    question: str, backend: Any, options: Options, on_progress: Callable[[Progress], None] | None = None
) -> Result:
    """Answer ``question`` with PASTA by prompting (see the module docstring for the semantics).
    ``on_progress`` gets the scheduler's Progress events (each promise's span, dispatch and finish)."""
    return PastaRun(question, backend, options, on_progress).run()


def openings(options: Options) -> list[Opening]:
    return [(pasta_prompt, {"question": PLACEHOLDER, "history": options.history}), plain_opening(options)]
