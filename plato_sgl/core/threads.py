"""The one way to wait for a call with a deadline: it runs on a daemon thread, so a call stuck on a
hung server never keeps the program from exiting."""

from __future__ import annotations

import threading
from typing import Any, Callable


class TimedOut(TimeoutError):
    """The call did not return within its timeout; it may still be running on its thread."""


def call_with_timeout(name: str, timeout: float | None, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` on a daemon thread called ``name``, waited for at most ``timeout``
    seconds (None: no limit). Returns its value or raises its exception in the caller's thread;
    raises TimedOut when the time is up."""
    outcome: list[tuple[bool, Any]] = []

    def work() -> None:
        try:
            outcome.append((True, fn(*args, **kwargs)))
        except BaseException as exc:  # raised again in the caller's thread
            outcome.append((False, exc))

    thread = threading.Thread(target=work, daemon=True, name=name)
    thread.start()
    thread.join(timeout)
    if not outcome:
        raise TimedOut(f"{name} did not return within {timeout:g} s")
    ok, value = outcome[0]
    if not ok:
        raise value
    return value
