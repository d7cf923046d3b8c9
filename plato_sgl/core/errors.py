"""The library's error types: one family, so callers catch one thing."""

from __future__ import annotations

from typing import Any


class PlatoError(RuntimeError):
    """A plato-sgl call failed. ``result`` holds the partial Result (finished work) when there is one."""

    def __init__(self, message: str, result: Any = None):
        super().__init__(message)
        self.result = result


class ServerError(PlatoError):
    """An SGLang server could not be started, reached or kept alive."""


class PlanFormatError(PlatoError, ValueError):
    """A plan line that must be well-formed (decoded under the plan regex) is not."""


class PlatoTimeout(PlatoError, TimeoutError):
    """A question ran past its ``timeout``; ``result`` holds what was done by then."""
