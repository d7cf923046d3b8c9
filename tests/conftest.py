"""Shared fixtures: one real SGLang server on the tiny model per test session, always stopped.

``tiny_server``/``backend`` start lazily with the first test that asks for them; ``openai_backend``
reaches the same server through its OpenAI-compatible ``/v1``; ``smollm_server`` and ``judge_server``
(real small instruct models) only with the smoke tests. Tests that use any of them are marked
``server`` automatically, so ``pytest -m "not server"`` runs the quick tests alone. A ``kill`` of
the run stops them too.
"""

from __future__ import annotations

import os

import openai
import pytest
import sglang as sgl
import tiktoken
from sglang.lang.chat_template import get_chat_template

from plato_sgl.serving.local import LocalCluster, LocalServer, sigterm_as_interrupt

# The suite runs several tiny servers and the client on 2 cores at once: one thread each keeps
# them from fighting over the cores (a user's single server takes every core by default).
os.environ.setdefault("PLATO_SGL_THREADS", "1")

_SERVER_FIXTURES = {"tiny_server", "backend", "openai_backend", "smollm_server", "judge_server", "router_cluster"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "server: needs a real SGLang server (started by the session fixture)")
    config.addinivalue_line("markers", "smoke: runs a real small instruct model")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)


@pytest.fixture(scope="session", autouse=True)
def _stopped_on_sigterm():
    """A ``kill`` of the test run (a CI time limit, say) ends it as Ctrl-C does: pytest tears the
    session down, so every server a fixture started is stopped, not orphaned."""
    with sigterm_as_interrupt():
        yield


@pytest.fixture(scope="session")
def tiny_server():
    """A LocalServer on ``tiny-random`` (random weights: tests mechanics, not answers)."""
    with LocalServer("tiny-random") as server:
        yield server


@pytest.fixture(scope="session")
def backend(tiny_server):
    """The tiny server's ``sgl.RuntimeEndpoint``, with the ChatML template chosen explicitly."""
    assert tiny_server.chat_template == "chatml"
    return tiny_server.endpoint()


@pytest.fixture(scope="session")
def router_cluster():
    """Two ``tiny-random`` workers behind a real sglang-router (``plato-sgl serve --workers 2``'s
    LocalCluster, default policy). Only tests/test_router.py uses it; its last test kills a worker.
    The workers log each request's id (``--log-requests``, metadata only), so a test can tell which
    worker ran which request."""
    with LocalCluster("tiny-random", workers=2, extra_args=["--log-requests", "--log-requests-level", "0"]) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def smollm_server():
    """A LocalServer on SmolLM2-135M-Instruct (built from its PyPI wheel on first use)."""
    with LocalServer("smollm2-135m") as server:
        yield server


@pytest.fixture(scope="session")
def judge_server():
    """A LocalServer on Qwen2.5-Coder-1.5B-Instruct (the strongest local model), the judge of the
    judge sanity test (tests/test_judge.py)."""
    with LocalServer("qwen2.5-coder-1.5b") as server:
        yield server


def _offline_cl100k() -> None:
    """``sgl.OpenAI`` loads tiktoken's cl100k_base in its constructor, only to build a logit bias for
    integer ``gen(dtype=int)``/``select`` on OpenAI's own models, which plato-sgl never uses. tiktoken
    downloads that file, and this machine is offline; when the real file cannot be had, register a
    byte-level stand-in under the same name. Nothing here tokenizes text sent to the server."""
    try:
        tiktoken.get_encoding("cl100k_base")
    except Exception:  # no network: tiktoken raises whatever requests raised
        stand_in = tiktoken.Encoding(
            name="cl100k_base",
            pat_str=r"""\S+|\s+""",
            mergeable_ranks={bytes([i]): i for i in range(256)},
            special_tokens={"<|endoftext|>": 256},
        )
        tiktoken.registry.ENCODINGS["cl100k_base"] = stand_in


@pytest.fixture(scope="session")
def openai_backend(tiny_server):
    """An ``sgl.OpenAI`` backend on the tiny server's own ``/v1`` endpoint: OpenAI-style, so
    ``gen(regex=...)`` is not enforced (the random model writes whatever it writes)."""
    _offline_cl100k()
    base_url = f"{tiny_server.url}/v1"
    [model] = [m.id for m in openai.OpenAI(base_url=base_url, api_key="none").models.list()]
    return sgl.OpenAI(model, base_url=base_url, api_key="none", chat_template=get_chat_template("chatml"))


@pytest.fixture(scope="session")
def tokenizer(tiny_server):
    """The tiny model's own tokenizer, to count what the server should have received."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_server.model_dir)


@pytest.fixture(scope="session")
def chat_tokens(tokenizer):
    """How many prompt tokens the server should count for a system + user chat (ChatML, generation prompt)."""

    def count(user: str, system: str) -> int:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return count


@pytest.fixture
def sent_generate(monkeypatch):
    """The bodies of the /generate requests a question sends from here on, recorded on their way to
    the real server (every request of a question goes through ``request_fields.post_with_header``)."""
    from plato_sgl.engine import request_fields

    sent: list[dict] = []
    real = request_fields.post_with_header

    def recording(url, json, *args, **kwargs):
        if url.endswith("/generate"):
            sent.append(json)
        return real(url, json, *args, **kwargs)

    monkeypatch.setattr(request_fields, "post_with_header", recording)
    return sent
