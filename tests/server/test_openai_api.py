"""``plato-sgl api`` on the tiny real SGLang server: the real ``openai`` client's plain and streamed
completions, many clients at once, a client that goes away, bad input; and the event stream
(``POST /v1/plato/events``) read as Server-Sent Events."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from plato_sgl.core.grammar import literal_regex
from tests.helpers import api_served
from tests.polling import busy, until

USER = {"role": "user", "content": "How do bees fly?"}


PLAN = "Parts: 2\n1. Wings.[]\n2. Muscles.[]\n"


@pytest.fixture(scope="module")
def api_url(backend):
    with api_served(backend) as url:
        yield url


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


def _sse(response) -> list[tuple[str, dict]]:
    """The (event, data) pairs of a Server-Sent Events response, pings skipped."""
    import json

    pairs, name = [], None
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            pairs.append((name, json.loads(line[len("data: ") :])))
    return pairs


EVENTS_BODY = {
    "model": "plato",
    "messages": [USER],
    "plan_regex": literal_regex(PLAN),
    "node_max_tokens": 6,
    "ignore_eos": True,
}


@pytest.mark.server
def test_the_event_stream_gives_plan_nodes_text_and_result_in_order(api_url):
    import requests

    with requests.post(f"{api_url}/v1/plato/events", json=EVENTS_BODY, stream=True, timeout=120) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        pairs = _sse(response)
    names = [name for name, _ in pairs]
    assert names[0] == "start" and pairs[0][1] == {"method": "plato", "question": USER["content"]}
    assert names[-1] == "result" and names.count("result") == 1
    kinds = [(data["kind"], data["node_id"]) for name, data in pairs if name == "progress"]
    assert kinds.index(("node", 1)) < kinds.index(("node", 2)) < kinds.index(("planned", None))
    for node in (1, 2):  # each node is dispatched, streams its text, then is done
        dispatched = next(
            i for i, (name, data) in enumerate(pairs) if data.get("kind") == "dispatched" and node in data["node_ids"]
        )
        text = next(i for i, (name, data) in enumerate(pairs) if data.get("kind") == "text" and data["node_id"] == node)
        done = next(i for i, (name, data) in enumerate(pairs) if data.get("kind") == "done" and data["node_id"] == node)
        assert dispatched < text < done
    result, figures = pairs[-1][1]["result"], pairs[-1][1]["figures"]
    assert "".join(data["text"] for name, data in pairs if name == "text") == result["answer"]
    assert result["answer"].startswith("**Wings**\n") and figures["decoded_tokens"] == result["completion_tokens"]
    assert figures["parallel_degree"] >= 1 and figures["latency"] > 0


@pytest.mark.server
def test_the_event_stream_refuses_bad_input_with_a_400(api_url):
    import requests

    reply = requests.post(f"{api_url}/v1/plato/events", json={**EVENTS_BODY, "max_nodes": 0}, timeout=30)
    assert reply.status_code == 400 and "max_nodes must be a positive integer" in reply.json()["error"]["message"]
    reply = requests.post(f"{api_url}/v1/plato/events", json={**EVENTS_BODY, "model": "gpt-4"}, timeout=30)
    assert reply.status_code == 400 and "unknown model" in reply.json()["error"]["message"]


@pytest.mark.server
def test_an_event_stream_client_that_goes_away_has_its_requests_aborted(api_url, backend):
    import requests

    until(lambda: busy(backend.base_url) == 0, 30)  # the server is idle before
    body = {**EVENTS_BODY, "max_tokens": 3000, "node_max_tokens": 3000, "frequency_penalty": 0.0}
    response = requests.post(f"{api_url}/v1/plato/events", json=body, stream=True, timeout=120)
    lines = response.iter_lines(decode_unicode=True)
    next(line for line in lines if '"kind": "text"' in line)  # nodes are decoding
    assert busy(backend.base_url) > 0
    response.close()  # the client goes away
    assert until(lambda: busy(backend.base_url) == 0, 10), "the server kept decoding the departed client's question"
