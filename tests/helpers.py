"""Test helpers shared across test files: plan text from nodes, saved runs, the committed calibration sources,
server load, and the API served on a thread."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any, Iterable, Iterator

import uvicorn

from plato_sgl.core.plan import PlanNode, format_plan_line
from plato_sgl.core.result import Result
from plato_sgl.engine.http import server_loads
from plato_sgl.evaluation.calibration import SOURCES_FILE
from plato_sgl.evaluation.datasets import Question
from plato_sgl.evaluation.records import Row
from plato_sgl.serving.app import create_app
from plato_sgl.serving.local import free_port


def format_plan(nodes: Iterable[PlanNode]) -> str:
    """The plan text for ``nodes``: their lines in the given order."""
    return "".join(format_plan_line(node) for node in nodes)


def server_load(url: str) -> dict[str, Any]:
    """The load of the server at ``url`` (a router's: its first worker's): ``num_running_reqs``, ..."""
    return server_loads(url)[0]


def load_sources() -> list[dict[str, Any]]:
    """The judge calibration set's committed sources."""
    text = files("plato_sgl.data").joinpath(SOURCES_FILE).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def save_answers(folder: Path, variant: str, answers: dict[Question, str], error: str | None = None) -> None:
    """Append one saved result per question, as ``plato-sgl bench`` does (a question's last row wins)."""
    with (folder / f"{variant}.jsonl").open("a", encoding="utf-8") as f:
        for question, answer in answers.items():
            f.write(Row(question, variant, Result(question.text, variant, answer=answer, error=error)).to_json() + "\n")


@contextmanager
def api_served(backend: Any) -> Iterator[str]:
    """``plato-sgl api`` on ``backend``, served by uvicorn on a thread at a free port; yields its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(backend), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    end = time.monotonic() + 30
    while not server.started and time.monotonic() < end:
        time.sleep(0.05)
    assert server.started, "the API did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
