"""The single-request baselines: a plain autoregressive answer (AR) and Chain-of-Thought (CoT)."""

from __future__ import annotations

from typing import Any, Callable

from plato_sgl.core import prompts
from plato_sgl.core.errors import PlatoError
from plato_sgl.core.options import Options
from plato_sgl.core.result import Call, Clock, Result
from plato_sgl.core.scheduler import Progress
from plato_sgl.engine import programs
from plato_sgl.engine.warmup import PLACEHOLDER, Opening
from plato_sgl.methods.base import MethodRun


def plain_answer(
    question: str,
    backend: Any,
    options: Options,
    clock: Clock,
    *,
    instruction: str = "",
    kind: str = "answer",
    on_chunk: Callable[[str], None] | None = None,
) -> tuple[str, Call]:
    """One plain request, streamed (``on_chunk`` gets its text as it arrives); returns the text and
    its Call record (with the time of its first token), or raises PlatoError."""
    call = Call(kind=kind, started_at=clock.now())
    state = programs.answer.run(
        question=question,
        instruction=instruction,
        max_tokens=options.max_tokens,
        history=options.history,
        **options.sampling(question),
        backend=backend,
        stream=True,
    )
    try:
        out = programs.follow(state, "answer", clock, on_chunk)
    except PlatoError as exc:
        raise PlatoError(f"the {kind} request failed: {exc}") from exc
    call.first_token_at, call.finished_at = out.first_token_at, out.finished_at
    call.record_meta(out.meta)
    return out.text, call


def run_single(
    method: str,
    question: str,
    backend: Any,
    options: Options,
    *,
    instruction: str = "",
    on_progress: Callable[[Progress], None] | None = None,
) -> Result:
    """A Result for ``method`` from one plain request (``instruction`` appended to the question).
    ``on_progress`` gets the answer's text as it arrives (``Progress("text")``, no node)."""
    return SingleRun(method, question, backend, options, instruction, on_progress).run()


class SingleRun(MethodRun):
    """One plain request as a method run."""

    def __init__(
        self,
        method: str,
        question: str,
        backend: Any,
        options: Options,
        instruction: str,
        on_progress: Callable[[Progress], None] | None,
    ):
        super().__init__(method, question, options)
        self.label = method
        self.backend = backend
        self.instruction = instruction
        self.on_progress = on_progress

    def _run(self) -> None:
        on_progress, clock = self.on_progress, self.clock
        on_chunk = None if on_progress is None else (lambda text: on_progress(Progress("text", clock.now(), text=text)))
        self.result.answer, call = self.deadline.call(
            "the answer request",
            plain_answer,
            self.question,
            self.backend,
            self.options,
            clock,
            instruction=self.instruction,
            on_chunk=on_chunk,
        )
        self.result.calls.append(call)


def run_ar(
    question: str, backend: Any, options: Options, on_progress: Callable[[Progress], None] | None = None
) -> Result:
    """The paper's baseline: the question, answered in one request. ``on_progress`` gets its text
    as it arrives; one request has no nodes to report."""
    return run_single("ar", question, backend, options, on_progress=on_progress)


def run_cot(
    question: str, backend: Any, options: Options, on_progress: Callable[[Progress], None] | None = None
) -> Result:
    """The same request with a step-by-step instruction (``on_progress``: as for ``run_ar``)."""
    return run_single("cot", question, backend, options, instruction=prompts.COT_INSTRUCTION, on_progress=on_progress)


def plain_opening(options: Options) -> Opening:
    """The plain answer's program, for the placeholder question: every method may fall back to it."""
    return programs.answer, {"question": PLACEHOLDER, "history": options.history, "max_tokens": 0}


def openings(options: Options) -> list[Opening]:
    return [plain_opening(options)]
