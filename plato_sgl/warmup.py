"""The static text of each method's prompts, prefilled into the server's prefix cache before a question needs it.

A served method's system prompts, instructions and worked examples are the same for every
question, so on a running server they sit in the prefix cache; only the question and what follows
it are new. Each program a method opens with is sent once with a placeholder question and no token
to decode: the server caches its whole text, and a real question finds cached exactly the part
before its own text. Under a cache namespace (``QuestionEndpoint.cache_key``) this gives one
answer the cache state of a question newly arrived at a warm server (``plato_sgl.bench``).
"""

from __future__ import annotations

from typing import Any, Iterable

import sglang as sgl

from plato_sgl import programs
from plato_sgl.errors import PlatoError
from plato_sgl.methods import pasta, sot
from plato_sgl.options import Options

# Starts no real question: the cached text a question can reuse ends right before its own first token.
PLACEHOLDER = "\u2205"


def _openings(method: str, options: Options) -> list[tuple[Any, dict[str, Any]]]:
    """The programs ``method`` opens its requests with, and their arguments, for the placeholder."""
    common = {"question": PLACEHOLDER, "history": options.history}
    plain = (programs.answer, {**common, "max_tokens": 0})
    plan = (programs.plan, {**common, "sized": options.sized, "max_tokens": 0})
    nodes = (programs.node_prefix, common)
    return {
        "ar": [plain],
        "cot": [plain],
        "plato": [plan, nodes, plain],
        "auto": [plan, nodes, plain],
        "sot": [(sot.skeleton, {**common, "max_tokens": 0}), (sot.expand_prefix, {**common, "skeleton": ""}), plain],
        "pasta": [(pasta.pasta_prompt, common), plain],
    }[method]


def openings(methods: Iterable[tuple[str, Options]]) -> list[tuple[Any, dict[str, Any]]]:
    """The distinct openings of every (method, options) pair, in order."""
    seen: list[tuple[Any, dict[str, Any]]] = []
    for method, options in methods:
        for opening in _openings(method, options):
            if opening not in seen:
                seen.append(opening)
    return seen


def warm_up_prompts(backend: Any, methods: Iterable[tuple[str, Options]]) -> None:
    """Prefill the static openings of ``methods`` on ``backend``, one after another (they share
    their system prompts). Raises PlatoError naming an opening the server refused."""
    for program, kwargs in openings(methods):
        ended = program.run(**kwargs, backend=backend, stream=True)
        programs.drain(ended)
        with programs.LiveStates() as states:  # an ended state takes no more text: append to a fork of it
            state = states.fork(ended)[0]
            state += sgl.gen("warm", max_tokens=0)
            state.sync()
            error = ended.error() or state.error()
        if error is not None:
            raise PlatoError(
                f"warming up the prompt of {program.func.__name__!r} failed: {type(error).__name__}: {error}"
            )
