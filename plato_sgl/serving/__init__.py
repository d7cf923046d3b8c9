"""Serving: local SGLang servers and sglang-router clusters, the model registry, the OpenAI-compatible API."""

from plato_sgl.serving.local import LocalServer, connect, open_backend

__all__ = ["LocalServer", "connect", "open_backend"]
