"""Warm-up, so the first question does not pay for it: the server compiles each grammar, and
caches each method's static prompt text.

A grammar is compiled when a request first uses it, and cached by its regex string. A method's
system prompts, instructions and worked examples are the same for every question: each program a
method opens with is sent once with a placeholder question and no token to decode, so a real
question finds cached exactly the text before its own. Under a cache namespace
(``QuestionEndpoint.cache_key``) this gives one answer the cache state of a question newly arrived
at a warm server (``plato_sgl.evaluation.bench``).
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Iterable, Sequence

import sglang as sgl

from plato_sgl.core import grammar
from plato_sgl.core.errors import PlatoError, ServerError
from plato_sgl.core.threads import TimedOut, call_with_timeout
from plato_sgl.engine import programs
from plato_sgl.engine.backend import is_sglang_runtime
from plato_sgl.engine.http import worker_urls

# Starts no real question: the cached text a question can reuse ends right before its own first token.
PLACEHOLDER = "\u2205"
Opening = tuple[Any, dict[str, Any]]  # an SGLang program and its arguments, for the placeholder question


def warm_up_prompts(backend: Any, openings: Iterable[Opening]) -> None:
    """Prefill ``openings`` on ``backend``, one after another (they share their system prompts).
    Raises PlatoError naming an opening the server refused."""
    for program, kwargs in openings:
        ended = program.run(**kwargs, backend=backend, stream=True)
        programs.drain(ended)
        with programs.LiveStates() as states:  # an ended state takes no more text: append to a fork of it
            state = states.fork(ended)[0]
            state += sgl.gen("warm", max_tokens=0)
            state.sync()
            error = ended.error() or state.error()
        for done in (ended, state):  # both were told to end: wait, so the warm-up leaves no thread behind
            worker = getattr(done.stream_executor, "worker", None)
            if worker is not None:
                worker.join(10)
        if error is not None:
            raise PlatoError(
                f"warming up the prompt of {program.func.__name__!r} failed: {type(error).__name__}: {error}"
            )


def warm_up(backend: Any, regexes: Sequence[str], *, timeout: float | None = None) -> None:
    """Have the server compile and cache the grammar of each regex, before the first question needs it.

    SGLang compiles a ``gen(regex=...)`` grammar when a request first uses it (xgrammar: the
    tokenizer's info once, then the regex) and caches it by its regex string; on a fresh server
    that is seconds the first Plato question would otherwise wait for its plan. One request per
    regex goes through SGLang's frontend on ``backend`` (a one-token ``gen`` under it). Only
    SGLang's runtime compiles grammars: on any other backend this does nothing. A request that
    fails, or does not answer within ``timeout`` seconds (None: no limit), raises ServerError
    naming the regex's purpose.
    """
    if not regexes or not is_sglang_runtime(backend):
        return
    for number, regex in enumerate(regexes, 1):
        error = _warm_up_one(backend, regex, timeout)
        if error is not None:
            url = getattr(getattr(backend, "endpoint", backend), "base_url", "the server")
            raise ServerError(
                f"the grammar warm-up of {_purpose(regex, number, len(regexes))} on the SGLang server at "
                f"{url} failed: {error}. connect(url, warm_up=False) skips the warm-up (the first question "
                "then compiles its grammars itself)."
            )


def warm_up_workers(
    endpoint: Any,
    regexes: Sequence[str],
    *,
    timeout: float | None = None,
    on_error: Callable[[str, ServerError], None] | None = None,
) -> None:
    """:func:`warm_up` on every server that requests sent to ``endpoint`` run on: each worker behind
    an sglang-router compiles its own grammars, so warming the one the router picks is not enough.
    ``on_error(worker_url, error)``, if given, is told of a worker whose warm-up failed (e.g. a dead
    one) and the others are still warmed up; without it the first failure raises."""
    if not regexes or not is_sglang_runtime(endpoint):
        return
    for worker, target in worker_endpoints(endpoint, timeout or 10.0):
        try:
            warm_up(target, regexes, timeout=timeout)
        except ServerError as exc:
            if on_error is None:
                raise
            on_error(worker, exc)


def worker_endpoints(endpoint: Any, timeout: float) -> list[tuple[str, Any]]:
    """(worker URL, endpoint) for each server that requests sent to ``endpoint`` run on: behind an
    sglang-router, a copy of ``endpoint`` per worker (the same chat template and settings, another
    address), since each worker compiles its own grammars and caches its own prompts."""
    url = endpoint.base_url.rstrip("/")
    targets = []
    for worker in worker_urls(url, timeout):
        target = endpoint
        if worker != url:
            target = copy.copy(endpoint)
            target.base_url = worker
        targets.append((worker, target))
    return targets


def _warm_up_one(backend: Any, regex: str, timeout: float | None) -> str | None:
    """Send the one-token request under ``regex``; None when it succeeded, else what went wrong."""
    try:  # SGLang keeps a worker's exception in the state: fetch it
        error = call_with_timeout(
            "plato-warm-up", timeout, lambda: _warm_up_program().run(regex=regex, backend=backend).error()
        )
    except TimedOut:
        return f"no answer within {timeout:g} s"
    except Exception as exc:
        error = exc
    return None if error is None else f"{type(error).__name__}: {error}".strip()


_WARM_UP_PROGRAM = None


def _warm_up_program() -> Any:
    """The warm-up ``@sgl.function`` (made on first use: SGLang imports torch). Plain text, no chat
    template: the grammar cache is keyed by the regex alone, whatever the prompt."""
    global _WARM_UP_PROGRAM
    if _WARM_UP_PROGRAM is None:

        @sgl.function
        def grammar_warm_up(s, regex: str):
            s += "1"
            s += sgl.gen("warm_up", regex=regex, max_tokens=1, temperature=0.0)

        _WARM_UP_PROGRAM = grammar_warm_up
    return _WARM_UP_PROGRAM


def _purpose(regex: str, number: int, count: int) -> str:
    """What a warm-up regex is for, in words: a plan grammar (it opens with the plan's first literal,
    ``Parts:`` or ``1.``, or with the sizes that follow ``Parts:``) is named so, others by their
    number and first characters."""
    where = f"warm-up grammar {number} of {count}"
    g = grammar.load_plan_grammar()
    openings = [
        grammar.literal_regex(g.size_prefix),
        "(?:1" + grammar.literal_regex(g.size_line_end),
        grammar.literal_regex("1" + g.id_separator),
    ]
    if any(regex.startswith(opening) for opening in openings):
        return f"the plan grammar ({where}, {len(regex)} characters)"
    shown = regex if len(regex) <= 60 else regex[:57] + "..."
    return f"{where} (regex {shown!r})"
