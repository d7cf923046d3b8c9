"""What users type: bad input is refused before any request, odd text reaches the model intact,
and a question longer than the model's context is refused in plain words."""

from __future__ import annotations

import pytest

import plato_sgl
from plato_sgl.core import prompts

ODD_QUESTIONS = {
    "accents and CJK": "Qu'est-ce qu'un café crème ? 咖啡和茶有什么区别？",
    "emoji": "Which is better for a picnic 🧺: 🍉 or 🍇? 🤔",
    "right-to-left": "ما هي فوائد القراءة؟ ומה היתרונות של כתיבה?",
    "quotes": "He said \"plan\" and she said 'execute' — `code` too",
    "brackets": "Explain [1,2] vs (3) vs {4} and the line 1. Do it.[] in a plan",
    "newlines": "First line.\nSecond line.\n\n  Indented third line?",
}


@pytest.mark.server
@pytest.mark.parametrize("question", ODD_QUESTIONS.values(), ids=ODD_QUESTIONS.keys())
def test_odd_text_reaches_the_model_intact(backend, chat_tokens, question):
    # The server counts exactly the tokens of the chat-templated question: nothing was lost or escaped.
    expected = chat_tokens(question, prompts.ASSISTANT_SYSTEM)
    plain = plato_sgl.run(question, method="ar", backend=backend, max_tokens=4)
    assert plain.question == question
    assert plain.calls[0].prompt_tokens == expected


@pytest.mark.server
@pytest.mark.parametrize("question", ODD_QUESTIONS.values(), ids=ODD_QUESTIONS.keys())
def test_plato_answers_odd_text(backend, question):
    result = plato_sgl.run(question, backend=backend, max_nodes=2, plan_max_tokens=64, node_max_tokens=4)
    assert result.ok, result.error
    assert result.question == question
    assert result.nodes or result.fallback


@pytest.mark.server
@pytest.mark.parametrize("method", ["plato", "ar", "sot", "pasta"])
def test_a_question_longer_than_the_context_is_refused_in_plain_words(backend, method):
    question = "Why is the sky blue? " * 800  # about 5000 tokens; the tiny model's context is 4096
    with pytest.raises(plato_sgl.PlatoError, match=r"longer than the model's context length") as caught:
        plato_sgl.run(question, method=method, backend=backend, max_tokens=4, plan_max_tokens=8, node_max_tokens=4)
    assert caught.value.result is not None and caught.value.result.error
