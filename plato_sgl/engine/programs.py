"""Plato's SGLang programs, importable so users can compose them in their own SGLang functions.

Sampling settings (temperature, ...) are not program arguments: ``SglFunction.run`` takes
arguments with those names itself, so pass them to ``run(...)``, where every ``gen`` inherits them.

Whole programs are ``@sgl.function``s (``plan``, ``node_prefix``, ``plato_node``, ``answer``). The
node prompt is also offered in pieces (``open_node_prompt``, ``append_result``, ``answer_node``)
that act on any program state: Plato (``methods.plato``) keeps one state holding the global context, appends
each finished result to it and forks it for every batch of ready nodes, so the runtime batches the
branches and RadixAttention reuses their shared prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import sglang as sgl

from plato_sgl.core import prompts
from plato_sgl.core.errors import PlatoError
from plato_sgl.core.options import structure_sampling
from plato_sgl.core.result import Clock


def open_chat(s, system: str, history: Sequence[tuple[str, str]] = ()) -> None:
    """Every prompt's start: the system prompt, then the conversation so far (``Options.history``)."""
    s += sgl.system(system)
    for role, text in history:
        s += sgl.user(text) if role == "user" else sgl.assistant(text)


@sgl.function
def plan(
    s,
    question: str,
    regex: str | None = None,
    max_tokens: int = 512,
    sized: bool = True,
    history: Sequence[tuple[str, str]] = (),
    opening: str = "",
):
    """Decode a plan for ``question``; under ``regex`` every plan is a well-formed DAG.

    ``sized``: the prompt's examples open with the size decision (``Parts: k``) that the sized plan
    regex asks for. ``opening``: the plan's known first text (``grammar.split_opening``), written
    into the assistant turn rather than decoded; ``regex`` covers what follows it.
    """
    open_chat(s, prompts.plan_system(sized), history)
    s += sgl.user(prompts.plan_user(question))
    s += sgl.assistant_begin()
    s += opening
    s += sgl.gen("plan", regex=regex, max_tokens=max_tokens, **structure_sampling())  # answer sampling stays out
    s += sgl.assistant_end()


def open_node_prompt(
    s, question: str, sentences: int = 0, history: Sequence[tuple[str, str]] = (), rules_first: bool = False
) -> None:
    """Parts (1)-(2) of a node prompt, after the conversation so far; leaves the user turn open for
    the context and the sub-task.

    ``sentences``: the length the node's grammar allows, said in the rules (0: free text).
    ``rules_first``: the rules before the question (``prompts.node_preamble``).
    """
    open_chat(s, prompts.ASSISTANT_SYSTEM, history)
    s += sgl.user_begin()
    s += prompts.node_preamble(question, sentences, rules_first)


def append_result(s, description: str, result: str) -> None:
    """Append one finished node to the global context (part 3)."""
    s += prompts.context_entry(description, result)


def answer_node(
    s,
    description: str,
    *,
    max_tokens: int = 256,
    ignore_eos: bool | None = None,
    name: str = "result",
    regex: str | None = None,
) -> None:
    """Part (4), close the user turn and decode the node's result into variable ``name``.

    ``regex`` (e.g. ``grammar.node_regex``) makes the result end at a natural boundary. Sampling
    settings not given here (temperature...) come from the program's ``run(...)``.
    """
    s += prompts.node_task(description)
    s += sgl.user_end()
    s += sgl.assistant(sgl.gen(name, max_tokens=max_tokens, ignore_eos=ignore_eos, regex=regex))


@sgl.function
def node_prefix(
    s, question: str, sentences: int = 0, history: Sequence[tuple[str, str]] = (), rules_first: bool = False
):
    """The shared start of every node prompt of ``question``: fork it, append results, answer nodes."""
    open_node_prompt(s, question, sentences, history, rules_first)


@sgl.function
def plato_node(
    s,
    question: str,
    previous: Sequence[tuple[str, str]],
    description: str,
    max_tokens: int = 256,
    sentences: int = 0,
    regex: str | None = None,
    history: Sequence[tuple[str, str]] = (),
    rules_first: bool = False,
):
    """One node as a whole program: question, rules, ``previous`` (description, result) pairs, sub-task."""
    open_node_prompt(s, question, sentences, history, rules_first)
    for prev_description, prev_result in previous:
        append_result(s, prev_description, prev_result)
    answer_node(s, description, max_tokens=max_tokens, regex=regex)


@sgl.function
def answer(s, question: str, instruction: str = "", max_tokens: int = 1024, history: Sequence[tuple[str, str]] = ()):
    """A plain single-request answer (the autoregressive baseline; with an instruction, CoT)."""
    open_chat(s, prompts.ASSISTANT_SYSTEM, history)
    s += sgl.user(f"{question}\n{instruction}" if instruction else question)
    s += sgl.assistant(sgl.gen("answer", max_tokens=max_tokens))


# -- helpers for streamed program states (used by every method) ------------------------------------


@dataclass
class Followed:
    """What one streamed ``gen`` produced, with the times its first token and its end arrived."""

    text: str
    meta: dict[str, Any]
    first_token_at: float | None
    finished_at: float


def pieces(state, name: str) -> Iterator[str]:
    """The text of ``gen(name)`` of a streaming ``state`` as it arrives, all of it.

    SGLang's ``text_iter(name)`` reads the new text and only then checks whether the gen has ended;
    a piece appended between the two is never yielded, so a reader still busy with one piece can
    lose the last (a plan's last line, a node's last words). The finished gen has it: what
    ``text_iter`` missed comes last.
    """
    seen = 0
    for piece in state.text_iter(name):
        seen += len(piece)
        yield piece
    try:
        rest = state[name][seen:]
    except KeyError:  # the request failed before ``name`` got any text
        return
    if rest:
        yield rest


def follow(state, name: str, clock: Clock, on_chunk: Callable[[str], None] | None = None) -> Followed:
    """Block until ``gen(name)`` of a streaming ``state`` ends; raises PlatoError if it failed.

    ``on_chunk`` is called with each piece of text as it arrives (for streamed answers).
    SGLang only prints a worker thread's exception, so ``state.error()`` is checked explicitly.
    """
    first = None
    try:
        for chunk in pieces(state, name):
            if chunk and first is None:
                first = clock.now()
            if chunk and on_chunk is not None:
                on_chunk(chunk)
    except KeyError:  # text_iter's way of saying the request failed before ``name`` got any text
        if state.error() is None:
            raise
    error = stream_error(state, name)
    if error is not None:
        raise error
    return Followed(state[name], state.get_meta_info(name) or {}, first, clock.now())


def stream_error(state, name: str) -> PlatoError | None:
    """Why ``gen(name)`` of a finished streaming ``state`` failed, in plain words (None if it did not).

    When the server refuses a streamed request (e.g. a prompt longer than the context), SGLang's
    streaming client reads the error chunk as text and fails with KeyError('text'), dropping the
    reason. The same prompt sent once more without streaming, for one token, gets the reason back;
    the server refuses before computing anything, so asking costs no decoding.
    """
    error = state.error()
    if error is None:
        return None
    if not (isinstance(error, KeyError) and error.args == ("text",)):
        return PlatoError(f"request {name!r} failed: {type(error).__name__}: {error}")
    probe = _probe.run(prompt=state.text(), backend=state.stream_executor.backend)
    refusal = probe.error()
    if refusal is None:
        reason = (
            "SGLang's streaming client hides the reason, and the prompt alone fits, so most likely the "
            "prompt plus the request's max_tokens exceeds the model's context length"
        )
    else:
        reason = refusal.args[0] if refusal.args else refusal
        if isinstance(reason, dict):  # the server's JSON error
            reason = reason.get("error", reason)
            reason = reason.get("message", reason) if isinstance(reason, dict) else reason
    return PlatoError(f"the server refused request {name!r}: {reason}")


@sgl.function
def _probe(s, prompt: str):
    """The exact text of a refused request, for one token: the server's reply names why it refused."""
    s += prompt
    s += sgl.gen("probe", max_tokens=1)


def drain(state) -> None:
    """Wait until a ``run(stream=True)`` program has run to its end (its text is then complete).

    ``run(stream=True)`` returns before the program body has even queued its text, so a ``fork``
    right away could copy an empty state.
    """
    for _ in state.text_iter():
        pass


class LiveStates:
    """Forks program states and ends every one of them when closed.

    SGLang ends a state's worker thread only when the state is garbage-collected. A failed run's
    exception keeps its states alive through the traceback, and their non-daemon workers would
    then block the interpreter from exiting; so a run forks through this and closes it at the end.
    A worker busy with a request ends once that request returns.
    """

    def __init__(self) -> None:
        self._states: list = []

    def fork(self, state, n: int = 1) -> list:
        branches = list(state.fork(n).states)
        self._states.extend(branches)
        return branches

    def close(self) -> None:
        for state in self._states:
            state.stream_executor.end()
        self._states.clear()

    def __enter__(self) -> "LiveStates":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
