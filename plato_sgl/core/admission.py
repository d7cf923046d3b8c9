"""Admission: how many requests a batch keeps in flight on one server, and which go first.

A batch of Plato questions is many more requests than questions: a plan, a node prefix, context
prefills and every node, several at once. Sixteen questions of ten nodes each would put over a
hundred requests on the server at once, each holding KV cache, so every question's plan waits
behind other questions' nodes and the server may retract requests to make room. A batch therefore
shares one :class:`Gate` of ``max_inflight`` slots: every request of every question (plan, node,
prefill, plain answer) takes one slot while it is on the server, so the bound counts nodes, not
questions.

Which waiting request gets a free slot is :func:`admit`, a pure function: first the requests that
unblock others (a plan or a skeleton: until it streams, its question has no node to run, and it
carries the question's first token), then the requests of the questions that started earliest (to
finish questions rather than start many and finish all late), then arrival order.

The same split (plan first, then the rest) is what the server's own priority scheduling is told,
where it is on (``--enable-priority-scheduling``): see :func:`plato_sgl.engine.http.priority_levels`
and :mod:`plato_sgl.engine.endpoint`, which adds the field to each request body.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Callable, Sequence

from plato_sgl.core.checks import check_number, positive

FIRST = "first"  # a request other requests of its question wait for (a plan, a skeleton)
REST = "rest"  # every other request (nodes, prefills, plain answers)


@dataclass(frozen=True)
class Ticket:
    """A request waiting for a slot: its kind (FIRST or REST), its question's start order, and
    its own arrival order (unique within a gate)."""

    kind: str
    question: int
    arrival: int

    def key(self) -> tuple[int, int, int]:
        return (0 if self.kind == FIRST else 1, self.question, self.arrival)


def admit(waiting: Sequence[Ticket], free: int) -> list[Ticket]:
    """The waiting requests to let through now, given ``free`` slots: plans and skeletons first,
    then the earliest question's requests, then arrival order. Pure."""
    if free <= 0:
        return []
    return sorted(waiting, key=Ticket.key)[:free]


class GateClosed(Exception):
    """Raised to a request that stopped waiting because its question was cancelled."""


@dataclass
class Gate:
    """At most ``max_inflight`` requests of a batch on the server at once (None: no bound).

    ``enter`` blocks the sending thread until :func:`admit` lets its ticket through (or its
    question is cancelled: ``wake`` re-checks the waiters); ``leave`` frees the slot. Thread-safe.
    """

    max_inflight: int | None = None
    in_flight: int = 0
    peak: int = 0  # the most requests that were ever in flight at once (tests, reports)
    _waiting: list[Ticket] = field(default_factory=list)
    _arrivals: itertools.count = field(default_factory=itertools.count)
    _questions: itertools.count = field(default_factory=itertools.count)
    _lock: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        check_number("max_inflight", self.max_inflight, "a positive integer or None", positive, optional=True)

    def question_number(self) -> int:
        """A new question's start order (earlier questions are admitted first)."""
        with self._lock:
            return next(self._questions)

    def enter(self, kind: str, question: int, cancelled: Callable[[], bool] = lambda: False) -> None:
        """Wait for a slot for one request; GateClosed if ``cancelled()`` becomes true meanwhile."""
        with self._lock:
            ticket = Ticket(kind, question, next(self._arrivals))
            self._waiting.append(ticket)
            try:
                while True:
                    if cancelled():
                        raise GateClosed("the question was cancelled while its request waited for a slot")
                    free = len(self._waiting) if self.max_inflight is None else self.max_inflight - self.in_flight
                    if ticket in admit(self._waiting, free):
                        break
                    self._lock.wait()
            finally:
                self._waiting.remove(ticket)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self._lock.notify_all()  # the next in line may fit too

    def leave(self) -> None:
        """Free a slot taken by ``enter``."""
        with self._lock:
            self.in_flight -= 1
            self._lock.notify_all()

    def wake(self) -> None:
        """Have every waiting request re-check whether its question was cancelled."""
        with self._lock:
            self._lock.notify_all()
