"""Cancellation on the server: every request of a question carries a request id, and the ids still
in flight when the question times out, fails or is interrupted are aborted with ``/abort_request``.

SGLang's frontend sends no ``rid``, so the server picks one the client never sees. A question runs
on its own :class:`QuestionEndpoint`, a ``RuntimeEndpoint`` that shares the server's connection
details and chat template but names each request it sends (``plato-<question>-<n>.``) and knows
which are still running. SGLang aborts every request whose id starts with the id it is given, so
the number ends with a dot: aborting request 1 (a plan that chose a plain answer) must not abort
requests 10 to 19 of the same question. Once cancelled it refuses new requests, so a question that
has timed out stops using the server even if one of its threads is still about to send something.

Each request carries what the question's endpoint sets for it (``plato_sgl.engine.request_fields``):
its id and seed; under load a ``priority`` (plan and skeleton requests first) where the server
schedules by priority (``endpoint.plato_priorities``, set by ``connect``) and a routing key naming
the question, so that sglang-router's ``manual`` policy keeps all of a question's requests, whose
prefixes they share, on one worker. The abort itself is plain HTTP (``plato_sgl.engine.http``).
The questions of a batch may also share an
admission :class:`~plato_sgl.core.admission.Gate`: each request waits for a slot before it is sent.
A question may also have a cache namespace of its own (``cache_key``, SGLang's ``extra_key``): its
requests then find in the prefix cache only what was sent under the same key, which is how a
benchmark gives every answer the cache state of a newly arrived question (``plato_sgl.engine.warmup``).
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

from sglang.lang.backend.runtime_endpoint import RuntimeEndpoint

from plato_sgl.core.admission import FIRST, REST, Gate, GateClosed
from plato_sgl.core.errors import PlatoError
from plato_sgl.engine import request_fields
from plato_sgl.engine.http import abort_requests

# Every request a question endpoint sends goes through the wrapper that adds its fields.
request_fields.install()


class Cancelled(PlatoError):
    """A request was refused because its question was already cancelled."""


class QuestionEndpoint(RuntimeEndpoint):
    """One question's view of a RuntimeEndpoint: names its requests and can abort those in flight."""

    def __init__(self, *args, **kwargs):  # constructed only by ``for_question``
        raise TypeError("use QuestionEndpoint.for_question(endpoint)")

    @classmethod
    def for_question(cls, endpoint: RuntimeEndpoint, seed: int | None = None) -> "QuestionEndpoint":
        """A per-question copy of ``endpoint`` (no request is sent to make it); ``seed``: the
        sampling seed every request of the question carries (None: the server's default)."""
        scoped = copy.copy(endpoint)
        scoped.__class__ = cls
        scoped._prefix = f"plato-{uuid.uuid4().hex[:12]}"
        scoped._numbers = itertools.count(1)
        scoped._lock = threading.Lock()
        scoped._in_flight: dict[str, str] = {}  # request id -> its kind (FIRST or REST, see go_first)
        scoped.sent: list[str] = []  # every request id this question used, in order
        scoped.cancelled = False
        scoped.seed = seed
        scoped.first_regexes: set[str] = set()  # requests decoded under these go first (see go_first)
        scoped.gate = None  # a batch's admission Gate (see admit_through)
        scoped._question_number = 0
        scoped.cache_key = None  # SGLang's extra_key: every request's prefix cache namespace (None: the shared one)
        return scoped

    def go_first(self, regex: str) -> None:
        """Requests decoded under ``regex`` (the plan's, the skeleton's) unblock the question's
        others: admit them first, and send them with the higher priority where the server has
        priority scheduling."""
        self.first_regexes.add(regex)

    def admit_through(self, gate: Gate) -> None:
        """Have every request of this question wait for a slot of ``gate`` (its batch's) first."""
        self.gate = gate
        self._question_number = gate.question_number()

    def _kind(self, sampling_params: Any) -> str:
        return FIRST if getattr(sampling_params, "regex", None) in self.first_regexes else REST

    def _begin(self, kind: str = REST) -> str:
        with self._lock:
            if self.cancelled:
                raise Cancelled("the question was cancelled; no new request is sent")
        if self.gate is not None:
            try:
                self.gate.enter(kind, self._question_number, lambda: self.cancelled)
            except GateClosed:
                raise Cancelled("the question was cancelled; no new request is sent") from None
        with self._lock:
            if self.cancelled:  # cancelled while it waited for its slot
                if self.gate is not None:
                    self.gate.leave()
                raise Cancelled("the question was cancelled; no new request is sent")
            rid = f"{self._prefix}-{next(self._numbers)}."  # no id is the start of another (see above)
            self._in_flight[rid] = kind
            self.sent.append(rid)
        return rid

    def _end(self, rid: str) -> None:
        with self._lock:
            self._in_flight.pop(rid, None)
        if self.gate is not None:
            self.gate.leave()

    @contextmanager
    def _sending(self, rid: str, kind: str = REST) -> Iterator[None]:
        """The sending thread's /generate in this block carries ``rid`` (and the question's seed),
        the question's routing key and, where the server schedules by priority, ``kind``'s priority."""
        fields = request_fields.sending
        fields.rid, fields.seed = rid, self.seed
        levels = getattr(self, "plato_priorities", None)
        fields.route = self._prefix
        fields.priority = None if levels is None else levels[0 if kind == FIRST else 1]
        fields.cache_key = self.cache_key
        try:
            yield
        finally:
            fields.rid = fields.seed = fields.route = fields.priority = fields.cache_key = None

    @contextmanager
    def request(self, kind: str = REST) -> Iterator[None]:
        rid = self._begin(kind)
        try:
            with self._sending(rid, kind):
                yield
        finally:
            self._end(rid)

    @property
    def in_flight(self) -> list[str]:
        with self._lock:
            return sorted(self._in_flight)

    # -- the frontend's request paths, each under one request id ---------------------------------

    def generate(self, s, sampling_params):
        with self.request(self._kind(sampling_params)):
            return super().generate(s, sampling_params)

    def generate_stream(self, s, sampling_params):
        kind = self._kind(sampling_params)
        rid = self._begin(kind)
        stream = super().generate_stream(s, sampling_params)
        try:
            with self._sending(rid, kind):
                item = next(stream, None)  # the first step sends the request
            while item is not None:
                yield item
                item = next(stream, None)
        finally:
            self._end(rid)

    def commit_lazy_operations(self, s):
        with self.request():
            return super().commit_lazy_operations(s)

    def cache_prefix(self, prefix_str: str):
        with self.request():
            return super().cache_prefix(prefix_str)

    # -- cancellation -----------------------------------------------------------------------------

    def cancel(self) -> list[str]:
        """Refuse new requests and abort every request still in flight; returns the aborted ids."""
        with self._lock:
            self.cancelled = True
            rids = sorted(self._in_flight)
        if self.gate is not None:
            self.gate.wake()  # its requests still waiting for a slot give up
        self._abort(rids)
        return rids

    def stop_first(self) -> list[str]:
        """Abort the requests in flight that go first (the plan, see ``go_first``) because their
        text is no longer needed, e.g. a plan whose size decision chose a plain answer; the question
        goes on. Returns the aborted ids."""
        with self._lock:
            rids = sorted(rid for rid, kind in self._in_flight.items() if kind == FIRST)
        self._abort(rids)
        return rids

    def _abort(self, rids: list[str]) -> None:
        """Send the aborts from a daemon thread, so a hung server never blocks the caller."""
        if rids:
            threading.Thread(
                target=abort_requests, args=(self.base_url, rids, self.api_key), daemon=True, name="plato-abort"
            ).start()


def for_question(backend: Any, seed: int | None = None) -> Any:
    """The backend a question should use: a QuestionEndpoint for SGLang's runtime, else ``backend``
    (which can take no seed: a ``seed`` for it is a ValueError)."""
    if isinstance(backend, RuntimeEndpoint) and not isinstance(backend, QuestionEndpoint):
        return QuestionEndpoint.for_question(backend, seed)
    if seed is not None and not isinstance(backend, RuntimeEndpoint):
        raise ValueError(
            f"option seed needs SGLang's runtime (a RuntimeEndpoint); {type(backend).__name__} "
            "gets no per-request seed through SGLang's frontend"
        )
    return backend
