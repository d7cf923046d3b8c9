"""Chat template detection: the served model's own template, verified against the server.

The pure parts (candidate order, the frontend's rendering) run without a server. The rest runs on
real SGLang servers: the session's ``tiny-random`` (ChatML) and, here, one ``tiny-random-llama3``
(Llama-3-Instruct's format) and one ``tiny-random-custom`` (a format no SGLang template writes).
"""

from __future__ import annotations

import json

import pytest
import requests

import plato_sgl
from plato_sgl import cli
from plato_sgl.core import prompts
from plato_sgl.core.errors import PlatoError, ServerError
from plato_sgl.engine import backend as backends
from plato_sgl.engine import chat_template
from plato_sgl.engine.connect import connect
from plato_sgl.serving import local as serving
from plato_sgl.serving.local import LocalServer, open_backend

QUESTION = "How do I make a cup of tea?"


# ---------------------------------------------------------------- without a server


@pytest.fixture(scope="module")
def llama3_server():
    """A LocalServer on tiny-random with Llama-3-Instruct's chat format (not ChatML)."""
    with LocalServer("tiny-random-llama3") as server:
        yield server


@pytest.fixture(scope="module")
def custom_server():
    """A LocalServer on tiny-random with a chat format that no SGLang chat template writes."""
    with LocalServer("tiny-random-custom") as server:
        yield server


def chat_prompt_tokens(server: LocalServer, messages: list[dict]) -> int:
    """What the server itself counts for ``messages`` under the model's own chat template."""
    response = requests.post(
        server.url + "/v1/chat/completions",
        json={"model": server.model, "messages": messages, "max_tokens": 1, "temperature": 0},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    return response.json()["usage"]["prompt_tokens"]


def ar_messages(question: str) -> list[dict]:
    """The conversation the ``ar`` method sends (system prompt, then the question)."""
    return [{"role": "system", "content": prompts.ASSISTANT_SYSTEM}, {"role": "user", "content": question}]


@pytest.mark.server
def test_chatml_is_detected_for_tiny_random(tiny_server):
    assert chat_template.detect_chat_template(tiny_server.url) == "chatml"
    assert chat_template.detect_chat_template(tiny_server.url, via="counts") == "chatml"
    assert connect(tiny_server.url).chat_template.name == "chatml"  # no template given: detected
    with open_backend(url=tiny_server.url) as backend:
        assert backends.chat_template_of(backend) == "chatml"


@pytest.mark.server
def test_llama3_is_detected_and_the_server_counts_the_same_prompt(llama3_server):
    assert llama3_server.chat_template is None  # the model folder's tokenizer is not ChatML
    assert chat_template.detect_chat_template(llama3_server.url) == "llama-3-instruct"
    assert chat_template.detect_chat_template(llama3_server.url, via="counts") == "llama-3-instruct"
    backend = connect(llama3_server.url)
    assert backend.chat_template.name == "llama-3-instruct"
    assert llama3_server.endpoint().chat_template.name == "llama-3-instruct"

    result = plato_sgl.run(QUESTION, backend=backend, method="ar", max_tokens=8)
    assert result.ok, result.error
    served = chat_prompt_tokens(llama3_server, ar_messages(QUESTION))
    assert result.calls[0].prompt_tokens == served
    # The check can tell: the old default (ChatML) sends this server a different prompt.
    wrong = plato_sgl.run(
        QUESTION, backend=connect(llama3_server.url, chat_template="chatml"), method="ar", max_tokens=1
    )
    assert wrong.ok, wrong.error
    assert wrong.calls[0].prompt_tokens != served


@pytest.mark.server
def test_open_backend_and_the_cli_detect_llama3(llama3_server, capsys):
    with open_backend(url=llama3_server.url) as backend:
        assert backends.chat_template_of(backend) == "llama-3-instruct"
    with open_backend(url=llama3_server.url, chat_template="chatml") as backend:  # given: used as given
        assert backends.chat_template_of(backend) == "chatml"
    assert "llama-3-instruct (detected" in serving._template_line(llama3_server)

    code = cli.main(["ask", QUESTION, "--url", llama3_server.url, "--method", "ar", "--max-tokens", "4", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["calls"][0]["prompt_tokens"] == chat_prompt_tokens(llama3_server, ar_messages(QUESTION))


@pytest.mark.server
def test_a_model_whose_template_matches_none_is_refused(custom_server, capsys):
    assert custom_server.chat_template is None
    for attempt in (
        lambda: connect(custom_server.url),
        custom_server.endpoint,
        lambda: chat_template.detect_chat_template(custom_server.url, via="counts"),
    ):
        with pytest.raises(ServerError) as caught:
            attempt()
        message = str(caught.value)
        assert isinstance(caught.value, PlatoError)
        assert "'tiny-random-custom'" in message and custom_server.url in message
        assert "matches none of SGLang's" in message
        assert "chat_template=NAME" in message and "--chat-template NAME" in message
        assert "llama-3-instruct" in message  # the names to choose from
    # With /tokenize the message shows how the server's own template writes the probe.
    with pytest.raises(ServerError, match=r"<\|turn\|>system says: "):
        connect(custom_server.url)
    assert "none detected" in serving._template_line(custom_server)

    # An explicit template is used as given, without detection.
    assert connect(custom_server.url, chat_template="chatml").chat_template.name == "chatml"

    assert cli.main(["ask", QUESTION, "--url", custom_server.url, "--method", "ar"]) == 1
    err = capsys.readouterr().err
    assert "plato-sgl: error:" in err and "'tiny-random-custom'" in err and "--chat-template NAME" in err
