"""What kind of SGLang backend a question runs on: the runtime or an OpenAI-style API, the served
model's name, and (for the runtime) the chat template its prompts are rendered with.

The lowest layer that knows about backends: methods, the benchmark and the judge ask here rather
than inspecting backend classes themselves.
"""

from __future__ import annotations

from typing import Any

from sglang.lang.backend.runtime_endpoint import RuntimeEndpoint


def is_sglang_runtime(backend: Any) -> bool:
    """Whether ``backend`` is SGLang's own runtime: it alone enforces ``gen(regex=...)`` and lets a
    program prefill a prefix (OpenAI-style APIs, including SGLang's own /v1, do neither)."""
    return isinstance(getattr(backend, "endpoint", backend), RuntimeEndpoint)


def model_name(backend: Any) -> str:
    """The served model's name (``--served-model-name``, by default its path). OpenAI-style backends
    keep it in ``model_name`` (the ``get_model_name`` they inherit raises NotImplementedError);
    SGLang's runtime reports it in ``model_info`` (its ``get_model_name`` is the model's path)."""
    endpoint = getattr(backend, "endpoint", backend)
    info = getattr(endpoint, "model_info", None) or {}
    return getattr(endpoint, "model_name", None) or info.get("served_model_name") or endpoint.get_model_name()
