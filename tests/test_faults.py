"""Real faults injected into real SGLang servers: killed while planning, killed while nodes decode,
hung past the per-question timeout. Each case must end in one PlatoError naming what failed, with
the finished work attached, quickly, and with no thread left behind."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import plato_sgl
from plato_sgl.grammar import literal_regex
from plato_sgl.serving import LocalServer

pytestmark = pytest.mark.server

LONG_LINE = "Describe this part of the answer in a long line so that decoding the plan takes a while"
PLAN = "1. Alpha.[]\n2. Beta.[]\n3. Gamma.[1,2]\n"


@pytest.fixture
def victim():
    """A server of this test's own, which the test may kill or freeze."""
    with LocalServer("tiny-random") as server:
        yield server


def _signal_server_after(server: LocalServer, seconds: float, sig: int) -> threading.Thread:
    def act():
        time.sleep(seconds)
        os.killpg(os.getpgid(server.process.pid), sig)

    thread = threading.Thread(target=act)
    thread.start()
    return thread


def _threads_settle(expected: int, within: float = 10.0) -> int:
    deadline = time.monotonic() + within
    while threading.active_count() > expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return threading.active_count()


def test_server_killed_while_planning(victim):
    backend, before = victim.endpoint(), threading.active_count()
    plan = "".join(f"{i}. {LONG_LINE}.[]\n" for i in range(1, 9))
    killer = _signal_server_after(victim, 1.0, signal.SIGKILL)
    started = time.monotonic()
    with pytest.raises(plato_sgl.PlatoError, match="plan request failed|node .* failed") as caught:
        plato_sgl.run("A question for a server about to die", backend=backend, plan_regex=literal_regex(plan), node_max_tokens=4)
    killer.join()
    assert time.monotonic() - started < 30
    partial = caught.value.result
    assert partial is not None and partial.error
    assert len(partial.nodes) < 8  # the plan was cut short...
    assert all(n.result for n in partial.nodes if n.finished)  # ...and what finished is kept
    assert _threads_settle(before) == before


def test_server_killed_while_nodes_decode(victim):
    backend, before = victim.endpoint(), threading.active_count()
    killer = _signal_server_after(victim, 6.0, signal.SIGKILL)  # the plan takes ~1 s, nodes ~10 s
    started = time.monotonic()
    with pytest.raises(plato_sgl.PlatoError, match=r"node \d \('\w+'\) failed") as caught:
        plato_sgl.run("Another question", backend=backend, plan_regex=literal_regex(PLAN), node_max_tokens=2000,
                      ignore_eos=True, pipeline=False)
    killer.join()
    assert time.monotonic() - started < 30
    partial = caught.value.result
    assert [n.id for n in partial.nodes] == [1, 2, 3]  # every parsed node, finished or not
    assert partial.plan == PLAN
    assert _threads_settle(before) == before


def test_a_node_the_server_refuses_is_named(backend):
    # 5000 new tokens cannot fit the tiny model's 4096-token context: the server refuses the node
    with pytest.raises(plato_sgl.PlatoError, match=r"node 1 .*refused request .*context length"):
        plato_sgl.run("A question with an impossible node", backend=backend, plan_regex=literal_regex(PLAN), node_max_tokens=5000)


def test_a_hung_server_hits_the_question_timeout(victim):
    backend = victim.endpoint()
    freezer = _signal_server_after(victim, 1.0, signal.SIGSTOP)  # the server stops answering, connections stay open
    started = time.monotonic()
    try:
        with pytest.raises(plato_sgl.PlatoError, match="timed out after 5 s") as caught:
            plato_sgl.run("A question for a frozen server", backend=backend, plan_regex=literal_regex(PLAN),
                          node_max_tokens=2000, ignore_eos=True, timeout=5)
        assert time.monotonic() - started < 8
        assert caught.value.result.error
    finally:
        freezer.join()
        os.killpg(os.getpgid(victim.process.pid), signal.SIGCONT)
