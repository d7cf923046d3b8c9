"""What kind of SGLang backend a question runs on: the runtime or an OpenAI-style API, the served
model's name and the chat template its prompts are rendered with.

Methods, the benchmark and the judge ask here rather than inspecting backend classes themselves.
"""

from __future__ import annotations

from typing import Any

# SGLang is imported inside the functions that use it, deferred on purpose: it imports torch (seconds),
# and the command line loads this module before any backend is made.


def is_sglang_runtime(backend: Any) -> bool:
    """Whether ``backend`` is SGLang's own runtime: it alone enforces ``gen(regex=...)`` and lets a
    program prefill a prefix (OpenAI-style APIs, including SGLang's own /v1, do neither)."""
    from sglang.lang.backend.runtime_endpoint import RuntimeEndpoint

    return isinstance(getattr(backend, "endpoint", backend), RuntimeEndpoint)


def go_first(backend: Any, regex: str | None) -> None:
    """Tell a question's endpoint that requests decoded under ``regex`` (a plan, a skeleton) unblock
    its others, so admission and the server's priority scheduling put them first
    (``plato_sgl.engine.endpoint.QuestionEndpoint.go_first``); any other backend ignores it."""
    mark = getattr(backend, "go_first", None)
    if mark is not None and regex is not None:
        mark(regex)


def stop_first(backend: Any) -> list[str]:
    """Abort a question's requests in flight that go first (its plan) because their text is no
    longer needed (``plato_sgl.engine.endpoint.QuestionEndpoint.stop_first``); returns the aborted request
    ids. Any other backend cannot abort one request and lets it run to its end (returns [])."""
    stop = getattr(backend, "stop_first", None)
    return stop() if stop is not None else []


def model_name(backend: Any) -> str:
    """The served model's name (``--served-model-name``, by default its path). OpenAI-style backends
    keep it in ``model_name`` (the ``get_model_name`` they inherit raises NotImplementedError);
    SGLang's runtime reports it in ``model_info`` (its ``get_model_name`` is the model's path)."""
    endpoint = getattr(backend, "endpoint", backend)
    info = getattr(endpoint, "model_info", None) or {}
    return getattr(endpoint, "model_name", None) or info.get("served_model_name") or endpoint.get_model_name()


def chat_template_of(backend: Any) -> str | None:
    """The name of the SGLang chat template ``backend`` renders prompts with (None if it has none)."""
    endpoint = getattr(backend, "endpoint", backend)
    return getattr(getattr(endpoint, "chat_template", None), "name", None)
