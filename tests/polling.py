"""Bounded polls of a real server, shared by the tests that wait for it to start or stop decoding.

A poll waits at most ``within`` seconds for a condition and says whether it held: a bound on a
wait, never a timing check.
"""

from __future__ import annotations

import time
from typing import Callable

from plato_sgl.engine.http import server_loads


def until(condition: Callable[[], bool], within: float, step: float = 0.1) -> bool:
    """Whether ``condition()`` holds within ``within`` seconds, asked every ``step`` seconds."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(step)
    return False


def busy(url: str) -> int:
    """Requests running or waiting on the server at ``url`` (on every worker, behind a router)."""
    return sum(
        int(load.get("num_running_reqs", 0)) + int(load.get("num_waiting_reqs", 0)) for load in server_loads(url)
    )
