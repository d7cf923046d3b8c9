"""The public entry points: ``run`` one question, ``stream`` its answer as it is written, and
``run_batch`` many, with any method."""

from __future__ import annotations

import inspect
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import sglang as sgl
from sglang.lang.global_config import global_config
from tqdm import tqdm

from plato_sgl.core.admission import Gate
from plato_sgl.core.checks import check_number, positive
from plato_sgl.core.errors import PlatoError, PlatoTimeout
from plato_sgl.core.options import Options
from plato_sgl.core.result import Result
from plato_sgl.core.scheduler import Progress
from plato_sgl.core.streaming import ReadingOrder, StreamEvent
from plato_sgl.core.threads import TimedOut, call_with_timeout
from plato_sgl.engine.endpoint import for_question
from plato_sgl.methods.registry import METHODS, MethodFn
from plato_sgl.methods.registry import method as registered

# Seconds past ``timeout`` before a question is abandoned: a method's own deadline fires first.
TIMEOUT_GRACE = 1.0


def _check_question(question: Any) -> str:
    if not isinstance(question, str):
        raise ValueError(f"a question must be a string, got {type(question).__name__}")
    if not question.strip():
        raise ValueError("the question is empty")
    return question


def check_method(method: str, options: dict[str, Any]) -> Options:
    """Validate a method name and its options without any backend (raises ValueError naming the problem)."""
    registered(method)
    return Options.from_kwargs(**options)


def check(question: Any, method: str = "plato", **options: Any) -> Options:
    """Everything ``run`` checks before a request, with no backend needed: e.g. before a server starts."""
    _check_question(question)
    return check_method(method, options)


def _prepare(method: str, backend: Any, options: dict[str, Any]) -> tuple[MethodFn, Any, Options]:
    """Validate everything that can be checked before a request is sent."""
    opts = check_method(method, options)
    backend = backend or global_config.default_backend
    if backend is None:
        raise ValueError(
            "no SGLang backend: pass backend=sgl.RuntimeEndpoint(url) (or plato_sgl.connect(url)), "
            "or call sgl.set_default_backend(...) first"
        )
    return METHODS[method].run, backend, opts


def run(
    question: str,
    *,
    method: str = "plato",
    backend: Any = None,
    on_progress: Callable[[Progress], None] | None = None,
    **options: Any,
) -> Result:
    """Answer one question. ``backend`` defaults to SGLang's default backend, so this works inside
    any SGLang script. Options: see ``plato_sgl.core.options.Options``. ``on_progress`` is called with a
    ``plato_sgl.core.scheduler.Progress`` as the answer's nodes become known, start and finish (methods
    with nodes: plato, auto, sot, pasta), on the question's worker thread; it should return quickly.
    Raises PlatoError (with the partial Result attached) when the server fails."""
    fn, backend, opts = _prepare(method, backend, options)
    return _answer(fn, method, _check_question(question), backend, opts, on_progress)


def append_answer(s: Any, name: str = "answer", *, method: str = "plato", **options: Any) -> Result:
    """Inside your own ``@sgl.function``: answer the state's last user turn with ``method`` and
    append the answer to ``s`` as the assistant's turn, as ``s += sgl.assistant(sgl.gen(name))``
    would; read it back as ``s[name]``. The state's earlier user and assistant turns are the
    conversation (``history``); its system prompt is not used, since each method's prompts bring
    their own. Runs on the state's backend, so the rest of the program composes with it. Returns
    the Result (plan, nodes, timings); raises what ``run`` raises."""
    if not hasattr(s, "messages") or not hasattr(s, "stream_executor"):
        raise ValueError(
            f"append_answer needs an SGLang program state (the s of an @sgl.function), got {type(s).__name__}"
        )
    s.sync()  # the turns appended so far are in the state's messages once its queue is done
    turns = [(m["role"], m["content"]) for m in s.messages() if m["role"] in ("user", "assistant")]
    if not turns or turns[-1][0] != "user":
        raise ValueError("append_answer answers the state's last user turn: append one first (s += sgl.user(question))")
    *history, (_, question) = turns
    result = run(question, method=method, backend=s.stream_executor.backend, history=history, **options)
    s += sgl.assistant(result.answer)
    s.set_var(name, result.answer)
    return result


class AnswerStream:
    """What ``stream`` returns: an iterator of StreamEvents, and ``cancel()``, which any thread may
    call (e.g. a web server's, when its client goes away) to abort the question's requests."""

    def __init__(self, events: Iterator[StreamEvent], scoped: Any):
        self._events = events
        self._scoped = scoped

    def __iter__(self) -> "AnswerStream":
        return self

    def __next__(self) -> StreamEvent:
        return next(self._events)

    def close(self) -> None:
        """Stop iterating (the iterating thread): the question's requests still running are aborted."""
        self._events.close()

    def cancel(self) -> None:
        """Abort the question's requests on the server, from any thread; the stream then ends with the error."""
        _cancel(self._scoped)


def stream(question: str, *, method: str = "plato", backend: Any = None, **options: Any) -> AnswerStream:
    """Answer one question, yielding its answer text in reading order as it is written.

    The first section streams while it decodes; each later one, decoded side by side meanwhile,
    is released as soon as every section before it is done. ``"progress"`` events (plan lines,
    dispatches, each request's text as it arrives, finished nodes) come between the texts, and the last event is ``"result"``, with
    the whole Result; the texts put together are its ``answer``. Arguments as for ``run``. If the
    iteration is left early (e.g. a client went away), the question's requests are aborted. Raises
    what ``run`` raises, after yielding what was released before the failure. Input is checked
    at once, before anything is sent."""
    fn, backend, opts = _prepare(method, backend, options)
    question = _check_question(question)
    scoped = for_question(backend, opts.seed)
    return AnswerStream(_stream_events(fn, method, question, scoped, opts), scoped)


def _stream_events(fn: MethodFn, method: str, question: str, scoped: Any, opts: Options) -> Iterator[StreamEvent]:
    order = ReadingOrder(METHODS[method].layout(question))
    events: queue.Queue = queue.Queue()

    def work() -> None:
        try:
            events.put(("result", _answer(fn, method, question, scoped, opts, events.put, scoped=scoped)))
        except BaseException as exc:  # raised again in the caller's thread
            events.put(("error", exc))

    threading.Thread(target=work, daemon=True, name=f"plato-stream-{method}").start()
    finished = False
    try:
        while True:
            item = events.get()
            if isinstance(item, Progress):
                text = order.feed(item)
                yield StreamEvent("progress", progress=item)
                if text:
                    yield StreamEvent("text", text=text)
                continue
            kind, value = item
            finished = True
            if kind == "error":
                raise value
            rest = order.finish(value.answer)
            if rest:
                yield StreamEvent("text", text=rest)
            yield StreamEvent("result", result=value)
            return
    finally:
        if not finished:  # left early: stop the question's requests on the server
            _cancel(scoped)


def _takes_progress(fn: MethodFn) -> bool:
    """Whether a method function has an ``on_progress`` parameter (each one is to have it)."""
    try:
        return "on_progress" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _answer(
    fn: MethodFn,
    method: str,
    question: str,
    backend: Any,
    opts: Options,
    on_progress: Callable[[Progress], None] | None = None,
    *,
    scoped: Any = None,
) -> Result:
    """Answer in a daemon thread on the question's own endpoint, and wait for it.

    Daemon, because every SGLang thread the question starts inherits that: a request still waiting
    on a hung server then never keeps the program from exiting. Every method enforces
    ``opts.timeout`` itself and raises PlatoTimeout with its partial Result; the wait here, a
    second longer, is only a backstop, and says so. When the question fails, times out or is
    interrupted, its requests still running on the server are aborted (``plato_sgl.engine.endpoint``).
    A Result with a request the server aborted (its text cut short) is a failure: PlatoError, the
    Result attached with its ``error`` set, so a benchmark saves it as failed and ``--resume``
    answers it again.
    ``scoped``: the question's endpoint, when the caller made it (to cancel it from outside).
    """
    scoped = scoped if scoped is not None else for_question(backend, opts.seed)
    extra = {"on_progress": on_progress} if on_progress is not None and _takes_progress(fn) else {}
    wait = None if opts.timeout is None else opts.timeout + TIMEOUT_GRACE
    try:
        result = call_with_timeout(f"plato-{method}", wait, fn, question, scoped, opts, **extra)
    except TimedOut:
        _cancel(scoped)
        why = (
            f"{method} timed out after {opts.timeout:g} s: its own deadline did not fire, "
            f"so plato-sgl stopped waiting {TIMEOUT_GRACE:g} s later"
        )
        raise PlatoTimeout(
            why, Result(question=question, method=method, error=why, options=opts.to_dict(question))
        ) from None
    except BaseException:  # a failure, or Ctrl-C while waiting: stop the question's requests on the server too
        _cancel(scoped)
        raise
    cut = result.aborted()
    if cut and result.error is None:  # e.g. an interrupted batch: never pass a cut-off answer on as finished
        result.error = (
            f"{method}: the server aborted its {', '.join(cut)} request before it finished, so the answer is incomplete"
        )
        raise PlatoError(result.error, result)
    return result


def _cancel(backend: Any) -> None:
    cancel = getattr(backend, "cancel", None)
    if cancel is not None:
        cancel()


@dataclass(frozen=True)
class Task:
    """One question to answer with one method and its options (a unit of ``run_many``)."""

    question: str
    method: str = "plato"
    options: dict[str, Any] = field(default_factory=dict)


def run_many(
    tasks: Sequence[Task],
    *,
    backend: Any = None,
    num_threads: int = 8,
    progress_bar: bool = True,
    on_result: Callable[[int, Result], None] | None = None,
    max_inflight: int | None = None,
    prepare: Callable[[int, Any], None] | None = None,
) -> list[Result]:
    """Run ``tasks``, ``num_threads`` at a time; Results come back in task order.

    ``max_inflight``: at most this many requests of the batch on the server at once, counting
    every plan, node and prefill (``plato_sgl.core.admission``: plans first, then the earliest
    questions' requests); None: only ``num_threads`` bounds it.

    Every task is validated before the first request. A task that fails does not stop the
    others: its Result carries the error (and whatever finished before the failure).
    ``on_result(index, result)`` is called as each task finishes, e.g. to save it at once.
    ``prepare(index, endpoint)`` is called on the task's thread with the question's own endpoint
    before its question starts (and its clock), e.g. to give it a warmed cache namespace.
    On Ctrl-C, tasks not yet started are cancelled, the questions in flight have their requests
    aborted on the server (so their threads end soon and the program can exit), and the
    interrupt propagates at once; nothing waits for a question to finish.
    """
    check_number("num_threads", num_threads, "a positive integer", positive)
    prepared = []
    for number, task in enumerate(tasks, 1):
        try:
            prepared.append((_check_question(task.question), *_prepare(task.method, backend, task.options)))
        except ValueError as exc:
            raise ValueError(f"question {number} of {len(tasks)}: {exc}") from None
    done = threading.Lock()
    gate = Gate(max_inflight) if max_inflight is not None else None
    in_flight: set[Any] = set()  # the endpoints of the questions being answered

    def one(index: int) -> Result:
        question, fn, task_backend, opts = prepared[index]
        scoped = None
        try:
            scoped = for_question(task_backend, opts.seed)
            if prepare is not None:
                prepare(index, scoped)
            with done:
                in_flight.add(scoped)
            if gate is not None and hasattr(scoped, "admit_through"):
                scoped.admit_through(gate)
            result = _answer(fn, tasks[index].method, question, task_backend, opts, scoped=scoped)
        except PlatoError as exc:
            result = exc.result or Result(
                question=question, method=tasks[index].method, error=str(exc), options=opts.to_dict(question)
            )
        with done:
            in_flight.discard(scoped)
            if on_result is not None:
                on_result(index, result)
        return result

    pool = ThreadPoolExecutor(max_workers=num_threads)
    try:
        results = pool.map(one, range(len(tasks)))
        if progress_bar:  # even a disabled tqdm starts its monitor thread, which outlives the batch
            results = tqdm(results, total=len(tasks), unit="q")
        return list(results)
    except BaseException:  # an interrupt: stop the questions in flight on the server
        with done:
            for scoped in in_flight:
                _cancel(scoped)
        raise
    finally:  # don't wait for the tasks in flight: cancel the rest and go
        pool.shutdown(wait=False, cancel_futures=True)


def run_batch(
    questions: Iterable[str],
    *,
    method: str = "plato",
    backend: Any = None,
    num_threads: int = 8,
    progress_bar: bool = True,
    max_inflight: int | None = None,
    **options: Any,
) -> list[Result]:
    """Answer many questions with one method, ``num_threads`` at a time, in input order.

    A question that fails does not stop the batch: its Result carries the error.
    ``max_inflight`` bounds the batch's requests on the server (see ``run_many``).
    """
    tasks = [Task(q, method, options) for q in questions]
    return run_many(
        tasks, backend=backend, num_threads=num_threads, progress_bar=progress_bar, max_inflight=max_inflight
    )
