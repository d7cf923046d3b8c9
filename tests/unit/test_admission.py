"""Admission (plato_sgl.core.admission): the decision and the gate's bookkeeping, pure."""

from __future__ import annotations

import threading
import time

import pytest

from plato_sgl.core.admission import FIRST, REST, Gate, Ticket, admit
from plato_sgl.engine import endpoint as cancel
from plato_sgl.engine import http, request_fields


def test_plans_go_first_then_the_earliest_question_then_arrival_order():
    waiting = [Ticket(REST, 0, 0), Ticket(REST, 1, 1), Ticket(FIRST, 2, 2), Ticket(REST, 0, 3), Ticket(FIRST, 1, 4)]
    assert admit(waiting, 3) == [Ticket(FIRST, 1, 4), Ticket(FIRST, 2, 2), Ticket(REST, 0, 0)]
    assert admit(waiting, 0) == [] and admit(waiting, -1) == []
    assert admit(waiting, 10) == sorted(waiting, key=Ticket.key)


def test_the_gate_never_lets_more_than_max_inflight_through_and_wakes_cancelled_waiters():
    gate = Gate(2)
    gate.enter(REST, 0)
    gate.enter(REST, 0)
    cancelled = threading.Event()
    outcome: list[str] = []

    def waiter() -> None:
        try:
            gate.enter(REST, 1, cancelled.is_set)
            outcome.append("admitted")
        except Exception as exc:  # GateClosed
            outcome.append(type(exc).__name__)

    thread = threading.Thread(target=waiter)
    thread.start()
    thread.join(0.2)
    assert thread.is_alive() and gate.in_flight == 2  # full: it waits
    cancelled.set()
    gate.wake()
    thread.join(5)
    assert outcome == ["GateClosed"] and gate.in_flight == 2
    gate.leave()
    gate.enter(FIRST, 2)  # a freed slot is taken at once
    assert gate.in_flight == 2 and gate.peak == 2
    with pytest.raises(ValueError, match="max_inflight"):
        Gate(0)


def test_a_freed_slot_goes_to_the_plan_before_earlier_node_requests():
    gate = Gate(1)
    gate.enter(REST, 0)
    order: list[str] = []
    threads = [
        threading.Thread(target=lambda k=k, q=q, name=name: (gate.enter(k, q), order.append(name), gate.leave()))
        for k, q, name in [(REST, 0, "node of q0"), (FIRST, 1, "plan of q1")]
    ]
    for t in threads:
        t.start()
        time.sleep(0.1)  # both are waiting before the slot frees (order only, no timing is asserted)
    gate.leave()
    for t in threads:
        t.join(5)
    assert order == ["plan of q1", "node of q0"]


def test_each_request_carries_its_id_routing_key_and_priority_only_where_the_server_schedules_by_it(monkeypatch):
    sent: list[tuple[dict, str | None]] = []
    monkeypatch.setattr(request_fields, "_sglang_http_request", lambda url, json=None, **kw: sent.append((json, None)))
    monkeypatch.setattr(
        request_fields, "post_with_header", lambda url, json, name, value, **kw: sent.append((json, value))
    )
    endpoint = cancel.QuestionEndpoint.__new__(cancel.QuestionEndpoint)  # a stand-in: no server is asked
    scoped = cancel.QuestionEndpoint.for_question(endpoint)
    scoped.go_first("PLAN")
    for levels in (None, (1, 0)):
        scoped.plato_priorities = levels
        for regex in ("PLAN", "NODE"):
            kind = scoped._kind(type("Params", (), {"regex": regex})())
            with scoped.request(kind):
                request_fields.http_request("http://x/generate", json={"text": "hi"})
    bodies = [body for body, _ in sent]
    assert [b.get("priority") for b in bodies] == [None, None, 1, 0]  # plan first where priorities are on
    assert all(key == scoped._prefix for _, key in sent) and all(b["rid"].startswith(scoped._prefix) for b in bodies)
    request_fields.http_request("http://x/generate", json={"text": "outside a question"})
    assert sent[-1] == ({"text": "outside a question"}, None)  # other callers pass through untouched


def test_priority_levels_follow_the_servers_direction():
    assert http.priority_levels({"enable_priority_scheduling": False}) is None
    assert http.priority_levels({"enable_priority_scheduling": True}) == (1, 0)
    assert http.priority_levels({"enable_priority_scheduling": True, "schedule_low_priority_values_first": True}) == (
        0,
        1,
    )
