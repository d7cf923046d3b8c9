"""plato-sgl: Plato (plan, then decode the independent parts of an answer in parallel) on SGLang.

    import sglang as sgl, plato_sgl
    sgl.set_default_backend(plato_sgl.connect("http://127.0.0.1:30000"))
    result = plato_sgl.run("How do vaccines work?")
    print(result.answer)

Exports load on first use: importing SGLang imports torch (seconds), which the pure modules
(grammar, parser, plan, metrics) and ``plato-sgl --help`` do not need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "METHODS": "plato_sgl.methods.registry",
    "run": "plato_sgl.api",
    "run_batch": "plato_sgl.api",
    "run_many": "plato_sgl.api",
    "append_answer": "plato_sgl.api",
    "stream": "plato_sgl.api",
    "StreamEvent": "plato_sgl.core.streaming",
    "Task": "plato_sgl.api",
    "PlanFormatError": "plato_sgl.core.errors",
    "PlatoError": "plato_sgl.core.errors",
    "PlatoTimeout": "plato_sgl.core.errors",
    "ServerError": "plato_sgl.core.errors",
    "Options": "plato_sgl.core.options",
    "Call": "plato_sgl.core.result",
    "NodeRecord": "plato_sgl.core.result",
    "Result": "plato_sgl.core.result",
    "LocalServer": "plato_sgl.serving.local",
    "connect": "plato_sgl.serving.local",
    "open_backend": "plato_sgl.serving.local",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # re-exports for type checkers; __getattr__ loads them at run time
    from plato_sgl.api import Task, append_answer, run, run_batch, run_many, stream
    from plato_sgl.core.errors import PlanFormatError, PlatoError, PlatoTimeout, ServerError
    from plato_sgl.core.options import Options
    from plato_sgl.core.result import Call, NodeRecord, Result
    from plato_sgl.core.streaming import StreamEvent
    from plato_sgl.methods.registry import METHODS
    from plato_sgl.serving.local import LocalServer, connect, open_backend


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'plato_sgl' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
