"""Cancellation on the server: every request of a question carries a request id, and the ids still
in flight when the question times out, fails or is interrupted are aborted with ``/abort_request``.

SGLang's frontend sends no ``rid``, so the server picks one the client never sees. A question runs
on its own :class:`QuestionEndpoint`, a ``RuntimeEndpoint`` that shares the server's connection
details and chat template but names each request it sends (``plato-<question>-<n>``) and knows
which are still running. Once cancelled it refuses new requests, so a question that has timed out
stops using the server even if one of its threads is still about to send something.

The frontend builds each request body inside ``RuntimeEndpoint.generate``/``generate_stream`` and
posts it with ``sglang.utils.http_request``; the only way to add a field is to pass it to that
call. :func:`_http_request` wraps it (installed once, in ``runtime_endpoint``'s namespace) and adds
the id that the sending thread's endpoint set, and the question's sampling seed, which the frontend
has no parameter for (``sampling_params.sampling_seed``); every other caller is passed through
untouched.
The abort itself is plain HTTP, which lives in ``plato_sgl.backends`` with the other calls the
frontend lacks.
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

from sglang.lang.backend import runtime_endpoint
from sglang.lang.backend.runtime_endpoint import RuntimeEndpoint

from plato_sgl.backends import abort_requests
from plato_sgl.errors import PlatoError

_sending = threading.local()  # .rid, .seed: what the current thread's next /generate carries
_sglang_http_request = runtime_endpoint.http_request


def _http_request(url, json=None, **kwargs):
    rid = getattr(_sending, "rid", None)
    if rid is not None and isinstance(json, dict) and url.endswith("/generate") and isinstance(json.get("text"), str):
        json = {**json, "rid": rid}
        if _sending.seed is not None:
            json["sampling_params"] = {**json.get("sampling_params", {}), "sampling_seed": _sending.seed}
    return _sglang_http_request(url, json=json, **kwargs)


runtime_endpoint.http_request = _http_request


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
        scoped._in_flight: set[str] = set()
        scoped.sent: list[str] = []  # every request id this question used, in order
        scoped.cancelled = False
        scoped.seed = seed
        return scoped

    def _begin(self) -> str:
        with self._lock:
            if self.cancelled:
                raise Cancelled("the question was cancelled; no new request is sent")
            rid = f"{self._prefix}-{next(self._numbers)}"
            self._in_flight.add(rid)
            self.sent.append(rid)
        return rid

    def _end(self, rid: str) -> None:
        with self._lock:
            self._in_flight.discard(rid)

    @contextmanager
    def _sending(self, rid: str) -> Iterator[None]:
        """The sending thread's /generate in this block carries ``rid`` (and the question's seed)."""
        _sending.rid, _sending.seed = rid, self.seed
        try:
            yield
        finally:
            _sending.rid = _sending.seed = None

    @contextmanager
    def _request(self) -> Iterator[None]:
        rid = self._begin()
        try:
            with self._sending(rid):
                yield
        finally:
            self._end(rid)

    @property
    def in_flight(self) -> list[str]:
        with self._lock:
            return sorted(self._in_flight)

    # -- the frontend's request paths, each under one request id ---------------------------------

    def generate(self, s, sampling_params):
        with self._request():
            return super().generate(s, sampling_params)

    def generate_stream(self, s, sampling_params):
        rid = self._begin()
        stream = super().generate_stream(s, sampling_params)
        try:
            with self._sending(rid):
                item = next(stream, None)  # the first step sends the request
            while item is not None:
                yield item
                item = next(stream, None)
        finally:
            self._end(rid)

    def commit_lazy_operations(self, s):
        with self._request():
            return super().commit_lazy_operations(s)

    def cache_prefix(self, prefix_str: str):
        with self._request():
            return super().cache_prefix(prefix_str)

    # -- cancellation -----------------------------------------------------------------------------

    def cancel(self) -> list[str]:
        """Refuse new requests and abort every request still in flight; returns the aborted ids.

        The aborts are sent from a daemon thread, so a hung server never blocks the caller.
        """
        with self._lock:
            self.cancelled = True
            rids = sorted(self._in_flight)
        if rids:
            threading.Thread(target=abort_requests, args=(self.base_url, rids, self.api_key), daemon=True,
                             name="plato-abort").start()
        return rids


def for_question(backend: Any, seed: int | None = None) -> Any:
    """The backend a question should use: a QuestionEndpoint for SGLang's runtime, else ``backend``
    (which can take no seed: a ``seed`` for it is a ValueError)."""
    if isinstance(backend, RuntimeEndpoint) and not isinstance(backend, QuestionEndpoint):
        return QuestionEndpoint.for_question(backend, seed)
    if seed is not None and not isinstance(backend, RuntimeEndpoint):
        raise ValueError(f"option seed needs SGLang's runtime (a RuntimeEndpoint); {type(backend).__name__} "
                         "gets no per-request seed through SGLang's frontend")
    return backend
