"""The single-request baselines: a plain autoregressive answer (AR) and Chain-of-Thought (CoT)."""

from __future__ import annotations

from typing import Any

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
        temperature=options.temperature,
        backend=backend,
    )
    error = state.error()  # SGLang only prints a worker thread's exception; fetch it
    if error is not None:
        raise PlatoError(f"the {kind} request failed: {type(error).__name__}: {error}")
    call.finished_at = clock.now()
    call.record_meta(state.get_meta_info("answer"))
    return state["answer"], call


def _run(method: str, instruction: str, question: str, backend: Any, options: Options) -> Result:
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


def run_ar(question: str, backend: Any, options: Options) -> Result:
    """The paper's baseline: the question, answered in one request."""
    return _run("ar", "", question, backend, options)


def run_cot(question: str, backend: Any, options: Options) -> Result:
    """The same request with a step-by-step instruction."""
    return _run("cot", prompts.COT_INSTRUCTION, question, backend, options)
