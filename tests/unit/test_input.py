"""What users type: bad input is refused before any request."""

from __future__ import annotations

import pytest

import plato_sgl


class NoRequests:
    """Stands in for a backend where a request must never be made: any use fails loudly."""

    def __getattr__(self, name):
        raise AssertionError(f"a request was attempted (backend.{name}) before the input was validated")


@pytest.mark.parametrize(
    "question, options, message",
    [
        ("", {}, "the question is empty"),
        ("  \n\t ", {}, "the question is empty"),
        (None, {}, "must be a string, got NoneType"),
        (b"bytes", {}, "must be a string, got bytes"),
        (["a list"], {}, "must be a string, got list"),
        ("ok?", {"method": "beam"}, "unknown method 'beam'"),
        ("ok?", {"max_nodes": 0}, "max_nodes must be a positive integer, got 0"),
        ("ok?", {"node_max_tokens": -5}, "node_max_tokens must be a positive integer, got -5"),
        ("ok?", {"plan_max_tokens": 2.5}, "plan_max_tokens must be a positive integer"),
        ("ok?", {"max_tokens": True}, "max_tokens must be a positive integer"),
        ("ok?", {"temperature": -1}, "temperature must be a number from 0 to 2"),
        ("ok?", {"top_p": 0}, "top_p must be a number above 0 and at most 1"),
        ("ok?", {"top_k": 0}, r"top_k must be -1 \(no limit\) or a positive integer"),
        ("ok?", {"stop": ["", "x"]}, "stop must be a string or a list of non-empty strings"),
        ("ok?", {"history": "hi"}, "history must be a list of"),
        ("ok?", {"history": [("assistant", "hello")]}, "turn 1 must be the user's"),
        ("ok?", {"history": [("user", "hi")]}, "must end with the assistant's turn"),
        (
            "ok?",
            {"history": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": " "}]},
            r"turn 2 \(assistant\) must be non-empty",
        ),
        ("ok?", {"timeout": 0}, "timeout"),
        ("ok?", {"context": "everything"}, "context"),
        ("ok?", {"node_prompt": "last"}, "option node_prompt must be one of question-first, rules-first, got 'last'"),
        ("ok?", {"prefix_prefill": "never"}, "option prefix_prefill must be one of at-start, on-parts, got 'never'"),
        ("ok?", {"max_node": 3}, r"unknown option\(s\): max_node;"),
    ],
)
def test_bad_input_is_refused_before_any_request(question, options, message):
    with pytest.raises(ValueError, match=message):
        plato_sgl.run(question, backend=NoRequests(), **options)


def test_run_batch_checks_every_question_before_the_first_request():
    with pytest.raises(ValueError, match="question 3 of 3: the question is empty"):
        plato_sgl.run_batch(["fine", "also fine", " "], backend=NoRequests(), progress_bar=False)
