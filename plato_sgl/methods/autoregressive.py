"""The single-request baselines: a plain autoregressive answer (AR) and Chain-of-Thought (CoT)."""

from __future__ import annotations

from typing import Any, Callable

from plato_sgl import programs, prompts
from plato_sgl.errors import PlatoError, PlatoTimeout
from plato_sgl.options import Options
from plato_sgl.result import Call, Clock, Result
from plato_sgl.scheduler import Deadline


def plain_answer(question: str, backend: Any, options: Options, clock: Clock, *, instruction: str = "", kind: str = "answer") -> tuple[str, Call]:
    """One plain request; returns the text and its Call record, or raises PlatoError."""
    call = Call(kind=kind, started_at=clock.now())
    state = programs.answer.run(
        question=question,
        instruction=instruction,
        max_tokens=options.max_tokens,
        **options.sampling(),
        backend=backend,
    )
    error = state.error()  # SGLang only prints a worker thread's exception; fetch it
    if error is not None:
        raise PlatoError(f"the {kind} request failed: {type(error).__name__}: {error}")
    call.finished_at = clock.now()
    call.record_meta(state.get_meta_info("answer"))
    return state["answer"], call


def run_single(method: str, question: str, backend: Any, options: Options, *, instruction: str = "") -> Result:
    """A Result for ``method`` from one plain request (``instruction`` appended to the question)."""
    clock = Clock()
    result = Result(question=question, method=method, options=options.to_dict())
    try:
        result.answer, call = Deadline(options.timeout, clock).call(
            "the answer request", plain_answer, question, backend, options, clock, instruction=instruction)
    except PlatoError as exc:
        result.error = f"{method} failed: {exc}"
        result.wall_time = clock.now()
        kind = PlatoTimeout if isinstance(exc, PlatoTimeout) else PlatoError
        raise kind(result.error, result) from exc
    result.calls.append(call)
    result.wall_time = clock.now()
    return result


def run_ar(question: str, backend: Any, options: Options, on_progress: Callable[..., None] | None = None) -> Result:
    """The paper's baseline: the question, answered in one request. ``on_progress`` is accepted
    for a uniform method signature; one request has no nodes to report, so it is never called."""
    return run_single("ar", question, backend, options)


def run_cot(question: str, backend: Any, options: Options, on_progress: Callable[..., None] | None = None) -> Result:
    """The same request with a step-by-step instruction (``on_progress``: as for ``run_ar``)."""
    return run_single("cot", question, backend, options, instruction=prompts.COT_INSTRUCTION)
