"""The single-request baselines: a plain autoregressive answer (AR) and Chain-of-Thought (CoT)."""

from __future__ import annotations

from typing import Any, Callable

from plato_sgl import programs, prompts
from plato_sgl.errors import PlatoError, PlatoTimeout
from plato_sgl.options import Options
from plato_sgl.result import Call, Clock, Result
from plato_sgl.scheduler import Deadline, Progress


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
    clock = Clock()
    result = Result(question=question, method=method, options=options.to_dict(question))
    on_chunk = None if on_progress is None else (lambda text: on_progress(Progress("text", clock.now(), text=text)))
    try:
        result.answer, call = Deadline(options.timeout, clock).call(
            "the answer request",
            plain_answer,
            question,
            backend,
            options,
            clock,
            instruction=instruction,
            on_chunk=on_chunk,
        )
    except PlatoError as exc:
        result.error = f"{method} failed: {exc}"
        result.wall_time = clock.now()
        kind = PlatoTimeout if isinstance(exc, PlatoTimeout) else PlatoError
        raise kind(result.error, result) from exc
    result.calls.append(call)
    result.wall_time = clock.now()
    return result


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
