"""The OpenAI chat completions protocol, with plato-sgl's methods as its models: requests in, completions out.

The request's ``model`` names the method (``plato``, ``auto``, ``ar``, ...), its ``messages`` are
the conversation (the last user message is the question, the earlier user and assistant turns its
``history``), and Plato's options go in extra body fields (``max_nodes``, ``node_sentences``...).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

from plato_sgl import api
from plato_sgl.core.errors import PlatoError, PlatoTimeout
from plato_sgl.core.options import Options
from plato_sgl.core.result import Result
from plato_sgl.methods.registry import METHODS

# OpenAI request fields and the options they set; the other known fields are options by name.
_OPENAI_FIELDS = {"max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "seed"}
_IGNORED_FIELDS = {"model", "messages", "stream", "stream_options", "n", "user"}
OPTION_NAMES = {f for f in Options.__dataclass_fields__ if f != "history"}  # history: from the messages


class BadRequest(ValueError):
    """A request the API refuses (400), with the field it is about."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


def parse_request(body: Any) -> tuple[str, str, dict[str, Any], bool]:
    """(method, question, options, stream) from a chat completion request body; raises BadRequest.

    ``max_tokens`` (or ``max_completion_tokens``) caps the answer: a single request's ``max_tokens``
    and Plato's ``answer_max_tokens``. System messages are not used: each method's prompts bring
    their own. ``n`` other than 1 is refused.
    """
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    method = body.get("model")
    if method not in METHODS:
        raise BadRequest(f"unknown model {method!r}; the models are plato-sgl's methods: {', '.join(METHODS)}", "model")
    if body.get("n", 1) != 1:
        raise BadRequest("only n = 1 is supported", "n")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages must be a non-empty list", "messages")
    turns = []
    for number, message in enumerate(messages, start=1):
        if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant"):
            raise BadRequest(f"message {number} must be an object with role system, user or assistant", "messages")
        content = message.get("content")
        if isinstance(content, list):  # content parts: the text ones
            content = "".join(
                part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"
            )
        if not isinstance(content, str):
            raise BadRequest(f"message {number} must have text content", "messages")
        if message["role"] != "system":
            turns.append((message["role"], content))
    if not turns or turns[-1][0] != "user":
        raise BadRequest("the last message must be the user's question", "messages")
    if any(role != ("user", "assistant")[k % 2] for k, (role, _) in enumerate(turns)):
        raise BadRequest("messages must alternate between user and assistant (after any system message)", "messages")
    *history, (_, question) = turns
    unknown = sorted(set(body) - _OPENAI_FIELDS - _IGNORED_FIELDS - OPTION_NAMES)
    if unknown:
        raise BadRequest(
            f"unknown field(s): {', '.join(unknown)}; Plato's options: {', '.join(sorted(OPTION_NAMES))}", unknown[0]
        )
    options = {k: v for k, v in body.items() if k in OPTION_NAMES}
    cap = body.get("max_completion_tokens", body.get("max_tokens"))
    if cap is not None:
        options.setdefault("max_tokens", cap)
        options.setdefault("answer_max_tokens", cap)
    if history:
        options["history"] = history
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("stream must be true or false", "stream")
    try:
        api.check(question, method, **options)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return method, question, options, stream


def finish_reason(result: Result) -> str:
    """OpenAI's finish reason: "length" when a request that wrote the answer hit its token cap."""
    requests = [*result.nodes, *(c for c in result.calls if c.kind in ("answer", "fallback", "main"))]
    return "length" if any(r.finish_reason == "length" for r in requests) else "stop"


def usage(result: Result) -> dict[str, int]:
    """Tokens of every request the answer took (plan and nodes included): what the server computed."""
    return {
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "total_tokens": result.prompt_tokens + result.completion_tokens,
    }


def completion(result: Result, method: str, completion_id: str, created: int) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": method,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.answer},
                "finish_reason": finish_reason(result),
            }
        ],
        "usage": usage(result),
    }


def chunk(
    method: str,
    completion_id: str,
    created: int,
    delta: dict[str, Any],
    finish: str | None = None,
    result: Result | None = None,
) -> str:
    """One server-sent event of a streamed completion."""
    body = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": method,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if result is not None:
        body["usage"] = usage(result)
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def error_body(status: int, message: str, kind: str, param: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": None}}, status_code=status)


def error_response(exc: BaseException) -> JSONResponse:
    """OpenAI-style errors: 400 for bad input, 504 for a timeout, 502 when the SGLang server fails."""
    if isinstance(exc, BadRequest):
        return error_body(400, str(exc), "invalid_request_error", exc.param)
    if isinstance(exc, ValueError):
        return error_body(400, str(exc), "invalid_request_error")
    if isinstance(exc, PlatoTimeout):
        return error_body(504, str(exc), "timeout")
    if isinstance(exc, PlatoError):
        return error_body(502, f"the SGLang server failed: {exc}", "server_error")
    return error_body(500, f"{type(exc).__name__}: {exc}", "internal_error")
