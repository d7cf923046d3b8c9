"""The plain HTTP calls to an SGLang server or sglang-router that its frontend does not make:
model info, tokenize, abort, workers, server arguments, health and load.

SGLang itself is not imported here (it imports torch, seconds).
"""

from __future__ import annotations

from typing import Any, Sequence

import requests

from plato_sgl.core.errors import ServerError


def server_model_info(url: str, timeout: float = 30.0) -> dict[str, Any]:
    """The server's ``/model_info`` (model path, served name, tokenizer path, ...).

    Also the reachability check: every failure becomes a ServerError naming the URL and the cause.
    """
    response = request("GET", url, "/model_info", timeout=timeout)
    if response.status_code != 200:
        raise ServerError(
            f"the server at {url} answered HTTP {response.status_code} to /model_info: "
            "it is not an SGLang server, or it is not ready yet"
        )
    return response.json()


def detokenize(url: str, tokens: list[int]) -> str | None:
    try:
        response = request(
            "POST", url, "/detokenize", json={"tokens": tokens, "skip_special_tokens": False}, timeout=10.0
        )
    except ServerError:
        return None
    return response.json().get("text") if response.status_code == 200 else None


def response_text(response: Any, limit: int = 300) -> str:
    text = response.text.strip()
    return text if len(text) <= limit else text[:limit] + " ..."


def request(method: str, url: str, path: str, *, timeout: float, json: Any = None) -> Any:
    """One HTTP request to the server; connection failures become ServerErrors naming url and cause."""

    try:
        return requests.request(method, url + path, json=json, timeout=timeout)
    except requests.exceptions.InvalidURL as exc:
        raise ServerError(f"{url!r} is not a valid server URL ({exc})") from None
    except (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
        raise ServerError(f"{url!r} is not a valid server URL: it must start with http:// or https://") from None
    except requests.exceptions.Timeout:
        raise ServerError(f"the SGLang server at {url} did not answer {path} within {timeout:g} s") from None
    except requests.exceptions.ConnectionError as exc:
        raise ServerError(f"cannot reach an SGLang server at {url}: {_connection_cause(exc)}") from None


ABORT_TIMEOUT = 5.0  # seconds for one /abort_request (a frozen server never answers)


def abort_requests(url: str, rids: Sequence[str], api_key: str | None = None) -> None:
    """``POST /abort_request`` for each request id, on every worker behind ``url`` (sglang-router has
    no ``/abort_request``, and only the worker that got a request can abort it; a worker that never
    saw an id ignores it). Best effort: a dead or frozen server is not an error here (it is decoding
    nothing, or it will fail the requests itself)."""

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        targets = worker_urls(url, timeout=ABORT_TIMEOUT)
    except ServerError:
        targets = [url]
    for target in targets:
        for rid in rids:
            try:
                requests.post(f"{target}/abort_request", json={"rid": rid}, headers=headers, timeout=ABORT_TIMEOUT)
            except requests.RequestException:
                break  # this worker is gone or frozen: on to the next


def worker_urls(url: str, timeout: float = 10.0) -> list[str]:
    """The SGLang servers that requests sent to ``url`` run on: the workers an sglang-router at
    ``url`` routes to (its ``GET /workers``, healthy or not: a request may still be on one that just
    failed), or ``[url]`` for a plain SGLang server (which answers 404 there).

    The router proxies ``/generate``, ``/flush_cache``, ``/get_model_info``, ``/v1/models``,
    ``/health`` and the OpenAI routes, but not ``/abort_request``, ``/model_info``, ``/tokenize``,
    ``/server_info`` or ``/v1/loads`` (sglang-router 0.3.2, tried): those go to the workers.
    Raises ServerError when nothing answers at ``url``.
    """
    url = url.rstrip("/")
    if url in _PLAIN_SERVERS:
        return [url]
    response = request("GET", url, "/workers", timeout=timeout)
    workers = _router_workers(response)
    if workers is None:
        _PLAIN_SERVERS.add(url)
        return [url]
    return [w["url"].rstrip("/") for w in workers]


def _router_workers(response: Any) -> list[dict[str, Any]] | None:
    """The worker records of a router's ``/workers`` answer, or None if it is not one."""
    if response.status_code != 200:
        return None
    try:
        workers = response.json().get("workers")
    except (ValueError, AttributeError):
        return None
    if not isinstance(workers, list) or not all(isinstance(w, dict) and "url" in w for w in workers):
        return None
    return workers


def server_args(url: str, timeout: float = 10.0) -> dict[str, Any]:
    """The server's arguments and state (``/server_info``; for a router, its first worker's): the
    device, whether priority scheduling is on, ..."""
    worker = worker_urls(url, timeout)[0]
    response = request("GET", worker, "/server_info", timeout=timeout)
    if response.status_code != 200:
        raise ServerError(
            f"the server at {worker} answered HTTP {response.status_code} to /server_info: {response_text(response)}"
        )
    return response.json()


def priority_levels(args: dict[str, Any]) -> tuple[int, int] | None:
    """The ``priority`` values to send with requests that should go first and with the rest, on a
    server with these arguments (``/server_info``); None when its priority scheduling is off.

    SGLang schedules larger values first unless ``--schedule-low-priority-values-first``; a request
    without a priority is put last of all, so every request of a question carries one. A server
    whose priority scheduling is off may abort requests that carry one
    (``--abort-on-priority-when-disabled``), so then none is sent.
    """
    if not args.get("enable_priority_scheduling"):
        return None
    return (0, 1) if args.get("schedule_low_priority_values_first") else (1, 0)


def server_health(url: str, timeout: float = 10.0) -> None:
    """Raise ServerError unless the SGLang server at ``url`` answers ``/health`` with 200."""
    response = request("GET", url, "/health", timeout=timeout)
    if response.status_code != 200:
        raise ServerError(
            f"the SGLang server at {url} is not healthy: HTTP {response.status_code} to /health: {response_text(response)}"
        )


def server_loads(url: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The load of every worker behind ``url`` (one for a plain server), each from its ``/v1/loads``
    (first data-parallel rank), with its ``url`` added. A router has no ``/v1/loads`` of its own."""
    loads = []
    for worker in worker_urls(url, timeout):
        response = request("GET", worker, "/v1/loads?include=core", timeout=timeout)
        if response.status_code != 200:
            raise ServerError(
                f"the server at {worker} answered HTTP {response.status_code} to /v1/loads: {response_text(response)}"
            )
        loads.append({**(response.json().get("loads") or [{}])[0], "url": worker})
    return loads


def queued_requests(url: str, timeout: float = 2.0, besides: int = 0) -> float | None:
    """Requests running or waiting per worker behind ``url``, right now (one cheap ``/v1/loads``
    each), ``besides`` of them left out (a caller's own), or None when it cannot be read (an older
    server, an unreachable worker)."""
    try:
        loads = server_loads(url, timeout)
    except ServerError:
        return None
    total = sum(int(w.get("num_running_reqs", 0)) + int(w.get("num_waiting_reqs", 0)) for w in loads)
    return max(0, total - besides) / len(loads)


def _connection_cause(exc: Exception) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused (nothing is listening on that port; is the server running?)"
    if "Name or service not known" in text or "getaddrinfo" in text or "resolve" in text:
        return "the host name could not be resolved"
    if "No route to host" in text or "Network is unreachable" in text:
        return "the host is unreachable"
    return "the connection failed"


# URLs known to be plain SGLang servers (they answered 404 to /workers): asked once, not per abort.
_PLAIN_SERVERS: set[str] = set()
