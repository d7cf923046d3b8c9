"""The fields a question's ``/generate`` requests carry beyond the frontend's: request id, sampling
seed, priority, cache namespace and routing header.

SGLang's frontend builds each request body inside ``RuntimeEndpoint.generate``/``generate_stream``
and posts it with ``sglang.utils.http_request``, and has no parameter for these fields; the only
way to add one is to wrap that call. :func:`install` puts :func:`http_request` in
``runtime_endpoint``'s namespace (``plato_sgl.engine.endpoint`` does it when it is imported); it adds what the
sending thread set in :data:`sending`, and passes every other call through untouched.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from typing import Any

import orjson
import requests
from sglang.lang.backend import runtime_endpoint
from sglang.utils import HttpResponse

sending = threading.local()  # .rid, .seed, ...: what the current thread's next /generate carries
_sglang_http_request = runtime_endpoint.http_request
ROUTING_KEY_HEADER = "X-SMG-Routing-Key"  # sglang-router's manual policy: one key, one worker


def http_request(url, json=None, **kwargs):
    """``sglang.utils.http_request`` with the sending thread's fields added to a question's /generate."""
    rid = getattr(sending, "rid", None)
    if rid is not None and isinstance(json, dict) and url.endswith("/generate") and isinstance(json.get("text"), str):
        json = {**json, "rid": rid}
        if sending.seed is not None:
            json["sampling_params"] = {**json.get("sampling_params", {}), "sampling_seed": sending.seed}
        if getattr(sending, "priority", None) is not None:  # only where the server schedules by priority
            json["priority"] = sending.priority
        if getattr(sending, "cache_key", None) is not None:
            json["extra_key"] = sending.cache_key
        if getattr(sending, "route", None) is not None:
            return post_with_header(url, json, ROUTING_KEY_HEADER, sending.route, **kwargs)
    return _sglang_http_request(url, json=json, **kwargs)


def post_with_header(
    url: str,
    json: dict,
    name: str,
    value: str,
    stream: bool = False,
    api_key: str | None = None,
    verify: Any = None,
    method: str | None = None,
) -> Any:
    """``sglang.utils.http_request`` with one header more (it takes no headers): the same clients
    (requests for a stream, urllib otherwise) and the same response type."""

    headers = {"Content-Type": "application/json; charset=utf-8", name: value}
    if api_key is not None:
        headers["Authorization"] = f"Bearer {api_key}"
    if stream:
        return requests.post(url, json=json, stream=True, headers=headers)
    request = urllib.request.Request(url, headers=headers, method=method, data=orjson.dumps(json))
    try:
        return HttpResponse(urllib.request.urlopen(request, cafile=verify if isinstance(verify, str) else None))
    except urllib.error.HTTPError as exc:
        return HttpResponse(exc)


def install() -> None:
    """Send the frontend's requests through :func:`http_request` (idempotent)."""
    runtime_endpoint.http_request = http_request
