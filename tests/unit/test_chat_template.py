"""Chat template detection, the pure parts: candidate order and the frontend's rendering."""

from __future__ import annotations

import pytest
import sglang as sgl
from sglang.lang.backend.base_backend import BaseBackend
from sglang.lang.chat_template import get_chat_template

from plato_sgl import cli
from plato_sgl.engine import chat_template


def test_candidates_put_the_name_guess_first_and_list_every_template_once():
    every = chat_template.chat_template_names()
    assert "chatml" in every and "llama-3-instruct" in every and "mistral" in every
    for name, first in [
        ("meta-llama/Meta-Llama-3-8B-Instruct", "llama-3-instruct"),
        ("/models/Mistral-7B-Instruct-v0.3", "mistral"),
        ("Qwen/Qwen2.5-7B-Instruct", "qwen"),
    ]:
        candidates = chat_template.candidate_templates(None, name)
        assert candidates[0] == first, (name, candidates[:3])
        assert sorted(candidates) == sorted(every)  # then every other template, each once
    # A name SGLang does not recognise: every template, in SGLang's registration order.
    assert chat_template.candidate_templates("tiny-random-llama3", "/cache/models/tiny-random-llama3") == every


def test_first_match_takes_the_first_equal_rendering():
    assert chat_template.first_match(["a", "b", "c"], [[1], [2, 3], [2, 3]], [2, 3]) == "b"
    assert chat_template.first_match(["a", "b"], [5, 6], 6) == "b"  # counts, for servers without /tokenize
    assert chat_template.first_match(["a", "b"], [[1], [2]], [3]) is None


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


@pytest.mark.parametrize("name", chat_template.chat_template_names())
def test_render_chat_is_the_text_the_frontend_sends(name):
    """The probe is rendered exactly as SGLang's interpreter renders plato-sgl's programs."""
    system, user = (m["content"] for m in chat_template.PROBE_MESSAGES)
    recorder = _RecordingBackend(name)
    state = _probe_program.run(system=system, user=user, backend=recorder)
    assert state.error() is None, state.error()
    assert recorder.sent == [chat_template.render_chat(name)]


def test_an_unknown_template_name_is_refused_with_the_names():
    with pytest.raises(ValueError, match=r"unknown chat template 'chat-ml'.*chatml, .*llama-3-instruct"):
        chat_template.check_chat_template_name("chat-ml")
    with pytest.raises(ValueError, match="unknown chat template"):
        chat_template.render_chat("chat-ml")


def test_cli_chat_template_defaults_to_detection():
    parser = cli.build_parser()
    assert parser.parse_args(["ask", "Q", "--url", "http://x"]).chat_template is None
    assert parser.parse_args(["ask", "Q", "--chat-template", "mistral"]).chat_template == "mistral"
    assert parser.parse_args(["judge", "DIR", "--judge-url", "http://x"]).chat_template is None


# ---------------------------------------------------------------- real servers
