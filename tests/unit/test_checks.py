"""The shared checks: a numeric argument's type and range, and a call waited for with a deadline."""

from __future__ import annotations

import threading
import time

import pytest

from plato_sgl.core.checks import check_number, positive
from plato_sgl.core.threads import TimedOut, call_with_timeout


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "3", None])
def test_a_bad_count_is_refused_by_name(value):
    with pytest.raises(ValueError, match=r"^workers must be a positive integer, got "):
        check_number("workers", value, "a positive integer", positive)


def test_a_good_value_passes_and_none_only_when_optional():
    assert check_number("n", 3, "a positive integer", positive) == 3
    assert check_number("t", 0.5, "a positive number", lambda v: v > 0, kind="number") == 0.5
    assert check_number("cap", None, "a positive integer or None", positive, optional=True) is None


def test_a_call_returns_its_value_and_raises_its_exception_in_the_caller():
    assert call_with_timeout("add", 5, lambda a, b: a + b, 2, b=3) == 5
    with pytest.raises(KeyError, match="boom"):
        call_with_timeout("fail", 5, lambda: {}["boom"])


def test_a_call_past_its_deadline_is_left_on_a_daemon_thread():
    release = threading.Event()
    with pytest.raises(TimedOut):
        call_with_timeout("stuck", 0.2, release.wait)
    stuck = [t for t in threading.enumerate() if t.name == "stuck"]
    assert stuck and all(t.daemon for t in stuck)  # it never keeps the program from exiting
    release.set()
    deadline = time.monotonic() + 5
    while any(t.name == "stuck" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)
