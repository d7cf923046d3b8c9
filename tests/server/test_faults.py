"""Real faults injected into real SGLang servers: killed while planning, killed while nodes decode,
killed in the middle of a batch, hung past the per-question timeout. Each case must end in one
PlatoError naming what failed (a batch: in the failed questions' Results), with the finished work
attached, quickly, and with no thread left behind or keeping the program from exiting."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

import plato_sgl
from plato_sgl.core.grammar import literal_regex
from plato_sgl.serving.local import LocalServer

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
        plato_sgl.run(
            "A question for a server about to die", backend=backend, plan_regex=literal_regex(plan), node_max_tokens=4
        )
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
        plato_sgl.run(
            "Another question",
            backend=backend,
            plan_regex=literal_regex(PLAN),
            node_max_tokens=2000,
            ignore_eos=True,
            pipeline=False,
        )
    killer.join()
    assert time.monotonic() - started < 30
    partial = caught.value.result
    assert [n.id for n in partial.nodes] == [1, 2, 3]  # every parsed node, finished or not
    assert partial.plan == PLAN
    assert _threads_settle(before) == before


def test_a_node_the_server_refuses_is_named(backend):
    # 5000 new tokens cannot fit the tiny model's 4096-token context: the server refuses the node
    with pytest.raises(plato_sgl.PlatoError, match=r"node 1 .*refused request .*context length"):
        plato_sgl.run(
            "A question with an impossible node", backend=backend, plan_regex=literal_regex(PLAN), node_max_tokens=5000
        )


def test_a_hung_server_hits_the_question_timeout_of_every_method(victim):
    backend, existing = victim.endpoint(), set(threading.enumerate())
    freezer = _signal_server_after(victim, 1.0, signal.SIGSTOP)  # the server stops answering, connections stay open
    try:
        for method, options in [
            (
                "plato",
                dict(plan_regex=literal_regex(PLAN), node_max_tokens=2000, ignore_eos=True, frequency_penalty=0.0),
            ),  # unpenalised: under a penalty the tiny model's noise can reach the template's stop string early
            ("ar", {}),
            ("sot", {}),
            ("pasta", {}),
        ]:
            started = time.monotonic()
            with pytest.raises(plato_sgl.PlatoTimeout, match="timed out after 3 s") as caught:
                plato_sgl.run(
                    f"A question for a frozen server ({method})", method=method, backend=backend, timeout=3, **options
                )
            assert time.monotonic() - started < 3 + 1 + 1, method
            partial = caught.value.result
            # the method's own deadline fired (not the backstop in api._answer), with its partial Result
            assert "its own deadline did not fire" not in str(caught.value), method
            assert partial.error and partial.method == method, method
            assert partial.calls or method == "ar", method  # the parallel methods' plan or skeleton request
        waiting = [t for t in threading.enumerate() if t not in existing and t is not freezer]
        assert waiting and all(t.daemon for t in waiting), (
            waiting
        )  # still waiting, but never keeping Python from exiting
    finally:
        freezer.join()
        os.killpg(os.getpgid(victim.process.pid), signal.SIGKILL)  # its connections close...
    assert _threads_settle(len(existing)) == len(existing)  # ...and every thread that waited on it ends


EXIT_AFTER_TIMEOUTS = """
import sys
import plato_sgl
from plato_sgl.engine.connect import connect

backend = connect(sys.argv[1])
print("connected", flush=True)
sys.stdin.readline()  # meanwhile the test freezes the server
for method in ("plato", "ar"):
    try:
        plato_sgl.run("A question for a frozen server", method=method, backend=backend, timeout=2)
    except plato_sgl.PlatoError as exc:
        print(exc, flush=True)
"""


def test_a_program_exits_after_timing_out_on_a_hung_server(victim):
    child = subprocess.Popen(
        [sys.executable, "-c", EXIT_AFTER_TIMEOUTS, victim.url],
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    group = os.getpgid(victim.process.pid)
    try:
        assert child.stdout.readline() == "connected\n"
        os.killpg(group, signal.SIGSTOP)
        output = child.communicate("go\n", timeout=120)[0]  # TimeoutExpired if a thread kept it alive
    finally:
        child.kill()
        os.killpg(group, signal.SIGCONT)
    assert child.returncode == 0
    assert output.count("timed out after 2 s") == 2, output


def _kill_on_request(server: LocalServer, text: str, stop: threading.Event) -> threading.Thread:
    """SIGKILL ``server`` as soon as its request log shows a request containing ``text`` arriving."""

    def watch():
        while not stop.wait(0.05):
            log = server.log_path.read_text(errors="replace")
            if any(text in line for line in log.splitlines() if "Receive:" in line):
                os.killpg(os.getpgid(server.process.pid), signal.SIGKILL)
                return

    thread = threading.Thread(target=watch)
    thread.start()
    return thread


def test_run_batch_keeps_going_when_the_server_dies_partway():
    questions = [f"How many legs has animal number {i}? (batch question {i})" for i in range(5)]
    stop = threading.Event()
    with LocalServer("tiny-random", extra_args=["--log-requests", "--log-requests-level", "3"]) as server:
        backend, before = server.endpoint(), threading.active_count()
        killer = _kill_on_request(server, "(batch question 2)", stop)  # one at a time: 0 and 1 are done by then
        try:
            results = plato_sgl.run_batch(
                questions,
                backend=backend,
                num_threads=1,
                progress_bar=False,
                plan_regex=literal_regex(PLAN),
                node_max_tokens=8,
                ignore_eos=True,
            )
        finally:
            stop.set()
            killer.join()
    assert [r.question for r in results] == questions
    for finished in results[:2]:  # intact
        assert finished.ok and finished.plan == PLAN
        assert [n.id for n in finished.nodes] == [1, 2, 3]
        assert all(
            n.finished and n.completion_tokens == 8 and n.result.strip() in finished.answer for n in finished.nodes
        )
    assert re.search(r"plan request failed|node \d \('\w+'\) failed", results[2].error)  # in flight when it died
    for later in results[3:]:  # the server was dead or dying when they started
        assert re.search(r"the plan request failed.*Connection (refused|reset|aborted)", later.error), later.error
    assert _threads_settle(before) == before, [(t.name, t.daemon) for t in threading.enumerate()]
