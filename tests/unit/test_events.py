"""The event stream's payloads: each ``stream`` event as a named SSE event with JSON data, and the figures."""

from __future__ import annotations

import json

from plato_sgl.core.result import Call, NodeRecord, Result
from plato_sgl.core.scheduler import Progress
from plato_sgl.core.streaming import StreamEvent
from plato_sgl.serving import events


def parse(text: str) -> tuple[str, dict]:
    name, data = text.strip().split("\n")
    assert text.endswith("\n\n")
    return name.removeprefix("event: "), json.loads(data.removeprefix("data: "))


def test_progress_and_text_events_carry_their_fields():
    name, data = parse(events.event(StreamEvent("progress", progress=Progress("node", 0.5, 2, "Muscles", (1,)))))
    assert name == "progress"
    assert data == {
        "kind": "node",
        "at": 0.5,
        "node_id": 2,
        "description": "Muscles",
        "deps": [1],
        "tokens": None,
        "text": "",
        "node_ids": [],
    }
    assert parse(events.event(StreamEvent("text", text="Bees \u2014 fly."))) == ("text", {"text": "Bees \u2014 fly."})


def test_the_result_event_holds_the_result_and_the_figures_a_person_feels():
    result = Result(
        "How do bees fly?",
        "plato",
        answer="They beat their wings.",
        wall_time=4.0,
        parallel_degree=2.0,
        calls=[
            Call(
                kind="plan",
                started_at=0.0,
                first_token_at=0.3,
                finished_at=1.0,
                prompt_tokens=90,
                cached_tokens=60,
                completion_tokens=12,
            )
        ],
        nodes=[
            NodeRecord(
                id=1, description="Wings", started_at=1.2, prompt_tokens=40, cached_tokens=30, completion_tokens=20
            )
        ],
    )
    name, data = parse(events.event(StreamEvent("result", result=result)))
    assert name == "result" and data["result"]["answer"] == "They beat their wings."
    assert data["figures"] == {
        "latency": 4.0,
        "first_answer_token": 1.2,
        "plan_tokens": 12,
        "answer_tokens": 20,
        "decoded_tokens": 32,
        "uncached_prompt_tokens": 40,
        "parallel_degree": 2.0,
        "route": None,
        "route_reason": None,
    }
