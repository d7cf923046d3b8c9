"""``plato-sgl api`` request parsing on fixed bodies, without a server."""

from __future__ import annotations

import pytest

from plato_sgl.serving.openai import BadRequest, parse_request

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
