"""Local serving: start/stop with no orphans, clear errors, Ctrl-C, and the CPU sgl_kernel stand-in."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from plato_sgl.core.errors import ServerError
from plato_sgl.core.result import Result
from plato_sgl.engine.backend import model_name
from plato_sgl.engine.connect import connect
from plato_sgl.evaluation.datasets import Question
from plato_sgl.evaluation.judge import judge_pool_tokens
from plato_sgl.evaluation.records import JUDGEMENTS_FILE, Row, load_rows
from plato_sgl.serving.local import LocalServer


def process_tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants, as they are now."""
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def still_running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those that still run (a reaped or zombie process does not count: it runs no code)."""
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive


def default_ctrl_c() -> None:
    """Popen's preexec_fn: Ctrl-C as in a terminal. A shell's background job (``cmd &``) runs with
    SIGINT ignored, its children inherit that, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def reap():
    """Call it with a server's pid: that server's process group is killed at teardown, after the
    test's own checks, so a failed test leaves no server behind either."""
    groups: list[int] = []
    yield groups.append
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:  # gone already, as a passing test leaves it
            pass


def group_members(pgid: int) -> list[int]:
    """Pids of running processes in process group ``pgid`` (the server's own group)."""
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass
    return members


# ---------------------------------------------------------------- the real server


@pytest.mark.server
def test_exception_in_with_block_stops_the_whole_tree():
    with pytest.raises(RuntimeError, match="boom"):
        with LocalServer("tiny-random") as server:
            tree = process_tree(server.process.pid)
            assert len(tree) >= 3  # launcher, scheduler, detokenizer
            raise RuntimeError("boom")
    assert still_running(tree) == []
    assert group_members(server.process.pid) == []
    server.stop()  # idempotent
    assert server.process.returncode is not None


@pytest.mark.server
def test_ctrl_c_stops_the_server(tmp_path, reap):
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent("""
            import time
            from plato_sgl.serving.local import LocalServer
            with LocalServer("tiny-random") as server:
                print(server.process.pid, flush=True)
                time.sleep(600)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        preexec_fn=default_ctrl_c,
    )
    try:
        server_pid = int(child.stdout.readline())
        reap(server_pid)
        tree = process_tree(server_pid)
        child.send_signal(signal.SIGINT)
        child.wait(timeout=60)
    finally:
        child.kill()
    assert still_running(tree) == []
    assert group_members(server_pid) == []


def _server_of(command: subprocess.Popen, timeout: float = 300) -> psutil.Process:
    """The SGLang server a CLI command started, once it is up (its log says so)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert command.poll() is None, "the command ended before its server was seen"
        for child in psutil.Process(command.pid).children(recursive=True):
            if "sglang.launch_server" in " ".join(child.cmdline()):
                return child
        time.sleep(0.5)
    raise AssertionError("no server process appeared")


def interrupt_stops_its_server_at_once(args: list[str], saved: Path, sig: int, reap) -> list[str]:
    """Run ``plato-sgl ARGS`` (it starts a server), send ``sig`` once ``saved`` has a line, and check
    it ends at once with 130, leaves no server behind and keeps what it saved. Returns the server's
    command line."""
    command = subprocess.Popen(
        [sys.executable, "-m", "plato_sgl.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=default_ctrl_c,
    )
    try:
        server = _server_of(command)
        reap(server.pid)
        tree = process_tree(server.pid)
        server_command = server.cmdline()
        while not (saved.exists() and saved.read_text().strip()):  # some work saved: the run is under way
            assert command.poll() is None, command.stdout.read()
            time.sleep(0.2)
        command.send_signal(sig)
        output = command.communicate(timeout=120)[0]
    finally:
        command.kill()
    assert command.returncode == 130, output
    assert "plato-sgl: interrupted" in output
    assert still_running(tree) == [] and group_members(server.pid) == []
    assert saved.read_text().strip()  # what finished before the interrupt is still on disk
    return server_command


@pytest.mark.server
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_an_interrupted_bench_stops_its_server_at_once(tmp_path, sig, reap):
    # A long bench on a server it started: interrupted mid-run, it must not wait for the question in
    # flight, and must leave no server behind (SIGTERM included: a server in its own session would
    # otherwise outlive the command).
    out = tmp_path / "run"
    interrupt_stops_its_server_at_once(
        [
            "bench",
            "--model",
            "tiny-random",
            "--methods",
            "plato",
            "--out",
            str(out),
            "--node-max-tokens",
            "256",
            "--plan-max-tokens",
            "512",
        ],
        out / "plato.jsonl",
        sig,
        reap,
    )
    assert load_rows(out)["plato"]


@pytest.mark.server
def test_a_killed_judge_stops_its_server_at_once(tmp_path, reap):
    # Judging a folder with its own judge server: SIGTERM must not wait for the judgements in flight
    # (SGLang's run_batch did, for minutes with a real judge), and saved judgements stay.
    out = tmp_path / "run"
    out.mkdir()
    for method in ("plato", "ar"):
        with (out / f"{method}.jsonl").open("w", encoding="utf-8") as f:
            for n in range(12):
                question = Question(str(n), f"Question number {n}?")
                f.write(
                    Row(question, method, Result(question.text, method, answer=f"{method} answers {n}.")).to_json()
                    + "\n"
                )
    server_command = interrupt_stops_its_server_at_once(
        ["judge", str(out), "--pairs", "plato:ar", "--judge-model", "tiny-random", "--num-threads", "3"],
        out / JUDGEMENTS_FILE,
        signal.SIGTERM,
        reap,
    )
    # its KV pool fits the 3 judge calls at once (long answers: several thousand tokens each)
    assert server_command[server_command.index("--max-total-tokens") + 1] == str(judge_pool_tokens(3))


@pytest.mark.server
def test_startup_deadline_raises_and_leaves_nothing(tmp_path):
    log = tmp_path / "server.log"
    server = LocalServer("tiny-random", startup_timeout=3, log_path=log)
    with pytest.raises(ServerError, match="not ready within 3 s") as caught:
        server.start()
    assert str(log) in str(caught.value)
    assert server.process.returncode is not None
    assert group_members(server.process.pid) == []


@pytest.mark.server
def test_server_that_dies_at_start_quotes_its_log(tmp_path):
    model = tmp_path / "broken-model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    server = LocalServer(model)
    with pytest.raises(ServerError) as caught:
        server.start()
    message = str(caught.value)
    assert "exited with code" in message
    assert "Last lines of its log" in message
    assert server.log_tail(5).splitlines()[-1] in message
    assert "no-such-architecture" in message
    assert group_members(server.process.pid) == []


@pytest.mark.server
def test_connect_uses_the_chosen_chat_template(tiny_server):
    assert connect(tiny_server.url).chat_template.name == "chatml"
    assert connect(tiny_server.url + "/", chat_template="llama-2-chat").chat_template.name == "llama-2-chat"


@pytest.mark.server
def test_a_registry_model_is_served_under_its_name(tiny_server):
    """Its name, not the machine's cache path, labels results and keys the judge's cache."""
    endpoint = tiny_server.endpoint()
    assert model_name(endpoint) == "tiny-random"
    assert endpoint.get_model_name() == str(tiny_server.model_dir)  # SGLang's own answer: the path


# ---------------------------------------------------------------- the CPU sgl_kernel stand-in
