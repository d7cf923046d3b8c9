"""``plato-sgl api``: request parsing on fixed bodies, then the real ``openai`` client against the
API on the tiny real SGLang server: plain and streamed completions, many clients at once, a client
that goes away, bad input."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from polling import busy, until

from plato_sgl.grammar import literal_regex
from plato_sgl.service import BadRequest, parse_request

USER = {"role": "user", "content": "How do bees fly?"}


def test_the_model_is_the_method_and_the_last_user_message_the_question():
    body = {
        "model": "auto",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is a bee?"},
            {"role": "assistant", "content": "An insect."},
            USER,
        ],
        "max_tokens": 100,
        "temperature": 0.5,
        "stop": ["END"],
        "max_nodes": 3,
        "seed": 7,
    }
    method, question, options, stream = parse_request(body)
    assert (method, question, stream) == ("auto", "How do bees fly?", False)
    assert options == {
        "max_tokens": 100,
        "answer_max_tokens": 100,
        "temperature": 0.5,
        "stop": ["END"],
        "max_nodes": 3,
        "seed": 7,
        "history": [("user", "What is a bee?"), ("assistant", "An insect.")],
    }


@pytest.mark.parametrize(
    "body, message",
    [
        ({"model": "gpt-4", "messages": [USER]}, "unknown model 'gpt-4'"),
        ({"model": "plato", "messages": []}, "messages must be a non-empty list"),
        (
            {"model": "plato", "messages": [USER, {"role": "assistant", "content": "x"}]},
            "last message must be the user's",
        ),
        ({"model": "plato", "messages": [{"role": "tool", "content": "x"}]}, "role system, user or assistant"),
        ({"model": "plato", "messages": [USER], "max_node": 3}, "unknown field"),
        ({"model": "plato", "messages": [USER], "seed": 1.5}, "seed must be a 64-bit integer"),
        ({"model": "plato", "messages": [USER], "n": 2}, "only n = 1"),
        ({"model": "plato", "messages": [USER], "max_nodes": 0}, "max_nodes must be a positive integer"),
        ({"model": "plato", "messages": [{"role": "user", "content": "  "}]}, "the question is empty"),
        (
            {"model": "plato", "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},
            "must alternate",
        ),
    ],
)
def test_bad_requests_are_refused_with_the_reason(body, message):
    with pytest.raises(BadRequest, match=message):
        parse_request(body)


# -- the real client against the API on the tiny server -------------------------------------------

PLAN = "Parts: 2\n1. Wings.[]\n2. Muscles.[]\n"


@pytest.fixture(scope="module")
def api_url(backend):
    import uvicorn

    from plato_sgl.service import create_app
    from plato_sgl.serving import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(backend), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    end = time.monotonic() + 30
    while not server.started and time.monotonic() < end:
        time.sleep(0.05)
    assert server.started, "the API did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def client(api_url):
    from openai import OpenAI

    return OpenAI(base_url=f"{api_url}/v1", api_key="none", max_retries=0)


@pytest.mark.server
def test_models_and_health(client, api_url):
    import requests

    assert {m.id for m in client.models.list()} == {"plato", "auto", "ar", "cot", "sot", "pasta"}
    assert requests.get(f"{api_url}/health", timeout=10).json()["status"] == "ok"


@pytest.mark.server
def test_a_plato_completion_with_usage(client):
    reply = client.chat.completions.create(
        model="plato",
        messages=[USER],
        max_tokens=12,
        extra_body={"plan_regex": literal_regex(PLAN), "node_max_tokens": 6, "ignore_eos": True},
    )
    text = reply.choices[0].message.content
    assert text.startswith("**Wings**\n") and "\n\n**Muscles**\n" in text
    assert reply.model == "plato" and reply.choices[0].finish_reason == "length"  # every node ran to its cap
    assert (
        reply.usage.completion_tokens > 12
        and reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    )


@pytest.mark.server
def test_a_streamed_completion_is_the_same_answer_in_pieces(client):
    settings = dict(
        model="plato",
        messages=[USER],
        max_tokens=12,
        extra_body={"plan_regex": literal_regex(PLAN), "node_max_tokens": 6, "ignore_eos": True},
    )
    whole = client.chat.completions.create(**settings).choices[0].message.content
    chunks = list(client.chat.completions.create(stream=True, **settings))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(pieces) > 1 and "".join(pieces) == whole
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[-1].choices[0].finish_reason == "length"


@pytest.mark.server
def test_many_clients_at_once_share_the_server(client):
    def ask(i):
        return client.chat.completions.create(
            model="ar",
            messages=[{"role": "user", "content": f"Name colour {i}. (api)"}],
            max_tokens=6,
            extra_body={"ignore_eos": True},
        )

    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(ask, range(6)))
    assert all(r.choices[0].message.content and r.usage.completion_tokens == 6 for r in replies)


@pytest.mark.server
def test_a_client_that_goes_away_has_its_requests_aborted(client, backend):
    until(lambda: busy(backend.base_url) == 0, 30)  # the server is idle before
    stream = client.chat.completions.create(
        model="plato",
        messages=[USER],
        stream=True,
        max_tokens=3000,
        extra_body={
            "plan_regex": literal_regex(PLAN),
            "node_max_tokens": 3000,
            "ignore_eos": True,
            "frequency_penalty": 0.0,
        },
    )  # unpenalised: under a penalty the tiny model's noise can reach the template's stop string early
    next(c for c in stream if c.choices and c.choices[0].delta.content)  # nodes are decoding
    assert busy(backend.base_url) > 0
    stream.close()  # the client goes away
    assert until(lambda: busy(backend.base_url) == 0, 10), "the server kept decoding the departed client's question"


@pytest.mark.server
def test_bad_input_is_a_400_in_openai_s_shape(client):
    import openai

    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="plato", messages=[USER], extra_body={"max_nodes": 0})
    assert "max_nodes must be a positive integer" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError, match="unknown model"):
        client.chat.completions.create(model="gpt-4", messages=[USER])
