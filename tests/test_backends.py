"""Chat template detection: the served model's own template, verified against the server.

The pure parts (candidate order, the frontend's rendering) run without a server. The rest runs on
real SGLang servers: the session's ``tiny-random`` (ChatML) and, here, one ``tiny-random-llama3``
(Llama-3-Instruct's format) and one ``tiny-random-custom`` (a format no SGLang template writes).
"""

from __future__ import annotations

import json

import pytest
import requests
import sglang as sgl
from sglang.lang.backend.base_backend import BaseBackend
from sglang.lang.chat_template import get_chat_template

import plato_sgl
from plato_sgl import backends, cli, prompts, serving
from plato_sgl.errors import PlatoError, ServerError
from plato_sgl.serving import LocalServer, connect, open_backend

QUESTION = "How do I make a cup of tea?"


# ---------------------------------------------------------------- without a server


def test_candidates_put_the_name_guess_first_and_list_every_template_once():
    every = backends.chat_template_names()
    assert "chatml" in every and "llama-3-instruct" in every and "mistral" in every
    for name, first in [
        ("meta-llama/Meta-Llama-3-8B-Instruct", "llama-3-instruct"),
        ("/models/Mistral-7B-Instruct-v0.3", "mistral"),
        ("Qwen/Qwen2.5-7B-Instruct", "qwen"),
    ]:
        candidates = backends.candidate_templates(None, name)
        assert candidates[0] == first, (name, candidates[:3])
        assert sorted(candidates) == sorted(every)  # then every other template, each once
    # A name SGLang does not recognise: every template, in SGLang's registration order.
    assert backends.candidate_templates("tiny-random-llama3", "/cache/models/tiny-random-llama3") == every


def test_first_match_takes_the_first_equal_rendering():
    assert backends.first_match(["a", "b", "c"], [[1], [2, 3], [2, 3]], [2, 3]) == "b"
    assert backends.first_match(["a", "b"], [5, 6], 6) == "b"  # counts, for servers without /tokenize
    assert backends.first_match(["a", "b"], [[1], [2]], [3]) is None


class _RecordingBackend(BaseBackend):
    """Records the text SGLang's interpreter sends at the first ``gen``."""

    def __init__(self, template_name: str):
        super().__init__()
        self.chat_template = get_chat_template(template_name)
        self.sent: list[str] = []

    def generate(self, s, sampling_params):
        self.sent.append(s.text_)
        return "", {}


@sgl.function
def _probe_program(s, system, user):
    s += sgl.system(system)
    s += sgl.user(user)
    s += sgl.assistant(sgl.gen("reply", max_tokens=1))


@pytest.mark.parametrize("name", backends.chat_template_names())
def test_render_chat_is_the_text_the_frontend_sends(name):
    """The probe is rendered exactly as SGLang's interpreter renders plato-sgl's programs."""
    system, user = (m["content"] for m in backends.PROBE_MESSAGES)
    recorder = _RecordingBackend(name)
    state = _probe_program.run(system=system, user=user, backend=recorder)
    assert state.error() is None, state.error()
    assert recorder.sent == [backends.render_chat(name)]


def test_an_unknown_template_name_is_refused_with_the_names():
    with pytest.raises(ValueError, match=r"unknown chat template 'chat-ml'.*chatml, .*llama-3-instruct"):
        backends.check_chat_template_name("chat-ml")
    with pytest.raises(ValueError, match="unknown chat template"):
        backends.render_chat("chat-ml")


def test_cli_chat_template_defaults_to_detection():
    parser = cli.build_parser()
    assert parser.parse_args(["ask", "Q", "--url", "http://x"]).chat_template is None
    assert parser.parse_args(["ask", "Q", "--chat-template", "mistral"]).chat_template == "mistral"
    assert parser.parse_args(["judge", "DIR", "--judge-url", "http://x"]).chat_template is None


# ---------------------------------------------------------------- real servers


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
    assert backends.detect_chat_template(tiny_server.url) == "chatml"
    assert backends.detect_chat_template(tiny_server.url, via="counts") == "chatml"
    assert connect(tiny_server.url).chat_template.name == "chatml"  # no template given: detected
    with open_backend(url=tiny_server.url) as backend:
        assert backends.chat_template_of(backend) == "chatml"


@pytest.mark.server
def test_llama3_is_detected_and_the_server_counts_the_same_prompt(llama3_server):
    assert llama3_server.chat_template is None  # the model folder's tokenizer is not ChatML
    assert backends.detect_chat_template(llama3_server.url) == "llama-3-instruct"
    assert backends.detect_chat_template(llama3_server.url, via="counts") == "llama-3-instruct"
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
        lambda: backends.detect_chat_template(custom_server.url, via="counts"),
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
