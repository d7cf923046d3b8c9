"""The one registry of methods: each name's summary, run function, answer layout and opening prompts.

A method's code is imported on first use: SGLang imports torch, which ``plato-sgl --help`` and the
pure layers do not need.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Callable, Iterable

from plato_sgl.core.options import Options
from plato_sgl.core.result import Result
from plato_sgl.core.streaming import Layout

if TYPE_CHECKING:  # the engine imports SGLang: only annotations need it here
    from plato_sgl.engine.warmup import Opening

MethodFn = Callable[..., Result]  # (question, backend, options, *, on_progress=None) -> Result


@dataclass(frozen=True)
class Method:
    """A way of answering a question. Its module (under ``plato_sgl.methods``) defines the run
    function, ``openings(options)``, and ``layout(question)`` if its answer is streamed in sections."""

    name: str
    summary: str
    module_name: str
    run_name: str

    @property
    def module(self) -> ModuleType:
        return importlib.import_module(f"plato_sgl.methods.{self.module_name}")

    @property
    def run(self) -> MethodFn:
        return getattr(self.module, self.run_name)

    def __call__(self, *args, **kwargs) -> Result:
        """Run the method: ``METHODS[name](question, backend, options, on_progress=None)``."""
        return self.run(*args, **kwargs)

    def layout(self, question: str) -> Layout | None:
        """How the answer is put together from its sections (None: one text, streamed as written)."""
        layout = getattr(self.module, "layout", None)
        return None if layout is None else layout(question)

    def openings(self, options: Options) -> list[Opening]:
        """The programs the method opens its requests with: their text before the question is static."""
        return self.module.openings(options)


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("plato", "plan, then decode the independent parts in parallel", "plato", "run_plato"),
        Method("ar", "one plain request: the baseline", "autoregressive", "run_ar"),
        Method("cot", "one request, told to think step by step", "autoregressive", "run_cot"),
        Method("sot", "Skeleton-of-Thought: a skeleton, then every point expanded in parallel", "sot", "run_sot"),
        Method("pasta", "PASTA-style: one text that asynchronously opens parallel branches", "pasta", "run_pasta"),
        Method("auto", "plato or one plain request, whichever is sooner", "auto", "run_auto"),
    )
}


def method(name: str) -> Method:
    """The registered method ``name`` (raises ValueError naming the choices)."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of: {', '.join(METHODS)}")
    return METHODS[name]


def openings(methods: Iterable[tuple[str, Options]]) -> list[Opening]:
    """The distinct openings of every (method name, options) pair, in order."""
    seen: list[Opening] = []
    for name, options in methods:
        for opening in method(name).openings(options):
            if opening not in seen:
                seen.append(opening)
    return seen


def help_text() -> str:
    """One line per method, for the CLI's help."""
    return "; ".join(f"{m.name}: {m.summary}" for m in METHODS.values())
