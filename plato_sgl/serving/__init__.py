"""Serving: local SGLang servers and sglang-router clusters, the model registry, the OpenAI-compatible API."""

from plato_sgl.engine.connect import connect  # the import path a local server's start-up message prints
from plato_sgl.serving.local import LocalServer, open_backend

__all__ = ["LocalServer", "connect", "open_backend"]
