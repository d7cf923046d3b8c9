"""One question's typed events as Server-Sent Events, for any UI: what ``plato_sgl.stream`` yields, as JSON.

The event names and their data (``docs/events.md``): ``start`` (the method and the question),
``progress`` (a plan line parsed, nodes dispatched, a request's text as it arrives, a node done or
failed, the route chosen, the plan ended), ``text`` (answer text in reading order), ``result`` (the
whole Result and the question's figures) and ``error`` (why the question failed).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from plato_sgl.core.result import Result
from plato_sgl.core.streaming import StreamEvent
from plato_sgl.evaluation import metrics


def sse(name: str, data: Any) -> str:
    """One Server-Sent Event named ``name`` with ``data`` as JSON."""
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def figures(result: Result) -> dict[str, Any]:
    """What a person waiting for the answer feels, in seconds and tokens, and the route taken."""
    return {
        "latency": result.wall_time,
        "first_answer_token": metrics.first_answer_token(result),
        "plan_tokens": metrics.plan_tokens(result),
        "answer_tokens": metrics.answer_tokens(result),
        "decoded_tokens": result.completion_tokens,
        "uncached_prompt_tokens": metrics.uncached_tokens(result),
        "parallel_degree": result.parallel_degree,
        "route": result.route,
        "route_reason": result.route_reason,
    }


def event(item: StreamEvent) -> str:
    """A ``stream`` event as an SSE event."""
    if item.kind == "progress":
        return sse("progress", dataclasses.asdict(item.progress))
    if item.kind == "text":
        return sse("text", {"text": item.text})
    return sse("result", {"result": item.result.to_dict(), "figures": figures(item.result)})
