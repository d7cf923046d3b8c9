"""``plato-sgl api``: the HTTP server of one SGLang backend: OpenAI-compatible chat completions, a
question's event stream, and the live page that draws it.

Built on FastAPI and uvicorn, which SGLang installs. Every question runs on the one SGLang backend
given, so many clients (and tabs) share one server; a client that goes away has its question's
requests aborted there.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from importlib.resources import files
from typing import Any, AsyncIterator

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from plato_sgl import api
from plato_sgl.core.errors import ServerError
from plato_sgl.core.result import Result
from plato_sgl.core.streaming import StreamEvent
from plato_sgl.engine.http import server_health
from plato_sgl.methods.registry import METHODS
from plato_sgl.serving import events
from plato_sgl.serving.openai import (
    BadRequest,
    chunk,
    completion,
    error_body,
    error_response,
    finish_reason,
    parse_request,
)

PAGE = "page.html"  # the live page, shipped in the package beside this module


def create_app(backend: Any) -> FastAPI:
    """The API on one SGLang ``backend`` (an ``sgl.RuntimeEndpoint``, e.g. from ``plato_sgl.connect``)."""
    app = FastAPI(title="plato-sgl", description=__doc__)
    url = getattr(backend, "base_url", None)
    page = files("plato_sgl.serving").joinpath(PAGE).read_text(encoding="utf-8")

    @app.exception_handler(Exception)
    async def _any_error(request: Request, exc: Exception) -> JSONResponse:
        return error_response(exc)

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/health")
    async def health() -> JSONResponse:
        try:
            await run_in_threadpool(server_health, url)
        except ServerError as exc:
            return error_body(502, str(exc), "server_error")
        return JSONResponse({"status": "ok", "sglang": url})

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": 0, "owned_by": "plato-sgl", "summary": m.summary}
                for name, m in METHODS.items()
            ],
        }

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        started = await _start(request, backend)
        if isinstance(started, JSONResponse):
            return started
        answer, method, _, streamed = started
        completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if not streamed:
            try:
                result = await _drain(answer, request)
            except BaseException as exc:
                answer.cancel()
                if isinstance(exc, asyncio.CancelledError):
                    raise
                return error_response(exc)
            if result is None:  # the client went away
                return error_body(499, "the client closed the request", "cancelled")
            return JSONResponse(completion(result, method, completion_id, created))
        return StreamingResponse(
            _chat_chunks(answer, request, method, completion_id, created), media_type="text/event-stream"
        )

    @app.post("/v1/plato/events")
    async def question_events(request: Request):
        started = await _start(request, backend)
        if isinstance(started, JSONResponse):
            return started
        answer, method, question, _ = started
        return StreamingResponse(
            _event_stream(answer, request, method, question),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return app


async def _start(request: Request, backend: Any) -> tuple[api.AnswerStream, str, str, bool] | JSONResponse:
    """The request's question, started on ``backend`` (its answer stream, method, question and
    stream flag), or the 400 response that says what is wrong with the request."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error_body(400, "the request body is not JSON", "invalid_request_error")
    try:
        method, question, options, streamed = parse_request(body)
    except BadRequest as exc:
        return error_response(exc)
    return api.stream(question, method=method, backend=backend, **options), method, question, streamed


PING_SECONDS = 15.0  # an SSE comment after this long without an event, so no client or proxy gives up


async def _follow(
    answer: api.AnswerStream, request: Request, ping: float | None = None
) -> AsyncIterator[StreamEvent | None]:
    """``answer``'s events as they come, from a thread of its own (None after ``ping`` seconds
    without one). A client that goes away, or any early exit, has the question's requests aborted."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def put(item: tuple[str, Any]) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop has closed: nobody is listening any more
            pass

    def pump() -> None:
        try:
            for item in answer:
                put(("event", item))
            put(("end", None))
        except BaseException as exc:  # raised again on the loop
            put(("error", exc))

    threading.Thread(target=pump, daemon=True, name="plato-api-stream").start()
    finished, quiet = False, 0.0
    try:
        while True:
            try:
                kind, value = await asyncio.wait_for(queue.get(), timeout=1.0)
            except asyncio.TimeoutError:
                if await request.is_disconnected():
                    return
                quiet += 1.0
                if ping is not None and quiet >= ping:
                    quiet = 0.0
                    yield None
                continue
            quiet = 0.0
            if kind != "event":
                finished = True
                if kind == "error":
                    raise value
                return
            if value.kind == "result":
                finished = True
            yield value
            if await request.is_disconnected():
                return
    finally:
        if not finished:  # the client left, or the caller stopped reading: stop the question on the server
            answer.cancel()


async def _drain(answer: api.AnswerStream, request: Request) -> Result | None:
    """The Result at the end of ``answer``; None (and its requests aborted) if the client left."""
    async for item in _follow(answer, request):
        if item is not None and item.kind == "result":
            return item.result
    return None


def _error_data(exc: BaseException) -> dict[str, Any]:
    response = error_response(exc)
    return {**json.loads(response.body), "status": response.status_code}


async def _chat_chunks(answer: api.AnswerStream, request: Request, method: str, completion_id: str, created: int):
    """A streamed chat completion: the role, the answer's text as it is released in reading order,
    the finish reason with the usage, then ``[DONE]``; an error is sent as an error event."""
    yield chunk(method, completion_id, created, {"role": "assistant", "content": ""})
    try:
        async for item in _follow(answer, request, ping=PING_SECONDS):
            if item is None:
                yield ": ping\n\n"
            elif item.kind == "text":
                yield chunk(method, completion_id, created, {"content": item.text})
            elif item.kind == "result":
                yield chunk(method, completion_id, created, {}, finish_reason(item.result), item.result)
                yield "data: [DONE]\n\n"
                return
    except Exception as exc:  # after the headers: the error goes in the stream
        payload = json.loads(error_response(exc).body)
        yield f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


async def _event_stream(answer: api.AnswerStream, request: Request, method: str, question: str):
    """The question's events (``plato_sgl.serving.events``), then, on a failure, an ``error`` event."""
    yield events.sse("start", {"method": method, "question": question})
    try:
        async for item in _follow(answer, request, ping=PING_SECONDS):
            yield ": ping\n\n" if item is None else events.event(item)
    except Exception as exc:  # after the headers: the error goes in the stream
        yield events.sse("error", _error_data(exc))


def serve_api(backend: Any, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the API with uvicorn until Ctrl-C."""
    uvicorn.run(create_app(backend), host=host, port=port, log_level="info")
