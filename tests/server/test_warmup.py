"""Warm-up: ``connect`` has the server compile the default Plato grammars before the first
question, one one-token request per regex; the serving layer's ``connect`` (and ``open_backend``)
also has it cache the default methods' static prompt text; ``warm_up=False`` sends nothing.

The requests are observed where SGLang's frontend sends them (``runtime_endpoint.http_request``,
the function plato_sgl.engine.endpoint wraps too), so the assertions are about what reached the server.
"""

from __future__ import annotations

import pytest
from sglang.lang.backend import runtime_endpoint

import plato_sgl
from plato_sgl.core import grammar, prompts
from plato_sgl.core.errors import ServerError
from plato_sgl.core.grammar import literal_regex
from plato_sgl.engine import warmup
from plato_sgl.engine.connect import connect
from plato_sgl.serving import connect as serving_connect
from plato_sgl.serving.local import open_backend


@pytest.fixture
def sent(monkeypatch) -> list[dict]:
    """The bodies of the /generate requests the frontend sends while the test runs."""
    bodies: list[dict] = []
    send = runtime_endpoint.http_request

    def recording(url, json=None, **kwargs):
        if url.endswith("/generate") and isinstance(json, dict):
            bodies.append(json)
        return send(url, json=json, **kwargs)

    monkeypatch.setattr(runtime_endpoint, "http_request", recording)
    return bodies


def test_connect_compiles_each_warm_up_regex_with_one_one_token_request(tiny_server, sent):
    expected = grammar.warm_up_regexes()
    assert expected  # a default Plato run decodes under at least its plan grammar
    backend = connect(tiny_server.url)
    assert backend.chat_template.name == "chatml"
    assert [body["sampling_params"].get("regex") for body in sent] == expected
    assert all(body["sampling_params"]["max_new_tokens"] == 1 for body in sent)


def test_warm_up_false_sends_no_request(tiny_server, sent):
    connect(tiny_server.url, warm_up=False)
    with open_backend(url=tiny_server.url, warm_up=False):
        pass
    tiny_server.endpoint(warm_up=False)
    assert sent == []


def test_open_backend_warms_up_by_default(tiny_server, sent):
    with open_backend(url=tiny_server.url) as backend:
        assert backend.chat_template.name == "chatml"
    compiled = [body["sampling_params"].get("regex") for body in sent if body["sampling_params"].get("regex")]
    assert compiled == grammar.warm_up_regexes()
    prefilled = [body["text"] for body in sent if body["sampling_params"]["max_new_tokens"] == 0]
    assert all(warmup.PLACEHOLDER in text for text in prefilled)  # the static text, and no real question
    assert any(prompts.plan_system() in text for text in prefilled)  # the plan's instructions and examples
    assert any(prompts.ASSISTANT_SYSTEM in text and "Rules:" not in text for text in prefilled)  # a plain answer's


def test_the_first_question_after_connect_prefills_only_its_own_text(tiny_server, tokenizer):
    question = "How do owls see so well in the dark forest at night?"
    own = len(tokenizer(question, add_special_tokens=False)["input_ids"])
    plan = literal_regex("Parts: 2\n1. Eyes.[]\n2. Ears.[]\n")
    uncached = {}
    for warm in (False, True):  # each time on a server whose cache was just emptied, as a fresh one
        tiny_server.endpoint(warm_up=False).flush_cache()
        backend = serving_connect(tiny_server.url, chat_template="chatml", warm_up=warm)
        result = plato_sgl.run(question, backend=backend, plan_regex=plan, node_max_tokens=4, ignore_eos=True)
        first = result.calls[0]  # the plan
        uncached[warm] = first.prompt_tokens - first.cached_tokens
    assert uncached[False] > own + 100  # cold: the plan's instructions and worked examples too
    assert own - 1 <= uncached[True] <= own + 12, uncached  # warm: the question and its turn's end


def test_a_grammar_the_server_cannot_compile_is_a_server_error_naming_it(tiny_server, monkeypatch):
    broken_plan = grammar.plan_regex(3) + "(("  # opens like a plan, unbalanced at the end
    monkeypatch.setattr(grammar, "warm_up_regexes", lambda max_nodes=None: [grammar.plan_regex(2), broken_plan])
    with pytest.raises(
        ServerError, match=r"grammar warm-up of the plan grammar \(warm-up grammar 2 of 2.* failed: "
    ) as caught:
        connect(tiny_server.url)
    assert "warm_up=False" in str(caught.value)
    monkeypatch.setattr(grammar, "warm_up_regexes", lambda max_nodes=None: ["[a-z"])
    with pytest.raises(ServerError, match=r"warm-up grammar 1 of 1 \(regex '\[a-z'\)"):
        connect(tiny_server.url)
    connect(tiny_server.url, warm_up=False)  # without the warm-up nothing is compiled: no error


def test_warm_up_sends_nothing_for_no_regex_or_a_backend_that_compiles_no_grammar(backend, sent):
    warmup.warm_up(backend, [])
    warmup.warm_up(object(), ["(("])  # not SGLang's runtime: it would not enforce a regex anyway
    assert sent == []
