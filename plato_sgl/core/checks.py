"""The one check of a numeric argument: its type and range, refused with a message that names it."""

from __future__ import annotations

from typing import Any, Callable

_KINDS = {"integer": (int,), "number": (int, float)}


def check_number(
    name: str,
    value: Any,
    words: str,
    valid: Callable[[Any], bool] = lambda v: True,
    *,
    kind: str = "integer",
    optional: bool = False,
) -> Any:
    """Return ``value`` if it is an ``kind`` ("integer" or "number"; never a bool) for which
    ``valid`` holds, or None when ``optional``; else raise ValueError: "``name`` must be ``words``, got ...".
    """
    if value is None and optional:
        return value
    if isinstance(value, bool) or not isinstance(value, _KINDS[kind]) or not valid(value):
        raise ValueError(f"{name} must be {words}, got {value!r}")
    return value


def positive(value: Any) -> bool:
    return value >= 1
