"""The fair benchmark's cache state, on the real tiny server: every answer starts as a question newly
arrived at a warm server (its method's static prompt text cached, its own text not), whichever
method ran before it on the same question."""

from __future__ import annotations

import pytest

from plato_sgl.evaluation.bench import run_bench, variants_for
from plato_sgl.evaluation.datasets import Question
from plato_sgl.evaluation.records import load_rows

QUESTIONS = [
    Question(id="1", text="How do bees find their way back to the hive after a long flight?"),
    Question(id="2", text="Why is the sky blue during the day but red at sunset?"),
]
SMALL = {"max_tokens": 8, "node_max_tokens": 8, "plan_max_tokens": 48, "frequency_penalty": 0}


def uncached(call) -> int:
    return call.prompt_tokens - call.cached_tokens


@pytest.fixture(scope="module")
def run(backend, tmp_path_factory):
    """ar, the same request under another name, then Plato, SoT and auto, interleaved on one server."""
    out = tmp_path_factory.mktemp("fair") / "run"
    variants = variants_for(["ar", "ar+presence_penalty=0", "plato", "sot", "auto"], options=SMALL)
    run_bench(QUESTIONS, variants, backend, out, progress_bar=False)
    return load_rows(out)


def test_two_variants_sending_identical_prompts_find_the_same_tokens_cached(run):
    for question in QUESTIONS:
        first, second = run["ar"][question.id].result, run["ar+presence_penalty=0"][question.id].result
        assert first.ok and second.ok
        a, b = first.calls[0], second.calls[0]
        assert a.prompt_tokens == b.prompt_tokens
        # before: the second found the whole prompt cached by the first (1 token uncached)
        assert (a.cached_tokens, uncached(a)) == (b.cached_tokens, uncached(b)), question.id
        assert a.cached_tokens > 0  # the system prompt is warm, as on a running server


@pytest.mark.parametrize("variant", ["ar", "ar+presence_penalty=0", "plato", "sot", "auto"])
def test_a_question_s_text_is_never_cached_when_its_first_request_is_sent(run, tokenizer, variant):
    for question in QUESTIONS:
        result = run[variant][question.id].result
        first = min(result.calls, key=lambda c: c.started_at)  # the plan, the skeleton or the answer
        own = len(tokenizer(question.text, add_special_tokens=False)["input_ids"])
        # the question and the few tokens after it (the prompt's rest, the assistant's turn) are new...
        assert own - 1 <= uncached(first), (variant, first)
        # ...and the static text before it is warm: a cold prompt would leave every token uncached
        assert first.cached_tokens >= 10 and uncached(first) <= own + 40, (variant, first)


def test_at_concurrency_2_and_through_resume_no_answer_inherits_another_s_cache(backend, tmp_path):
    # both variants of a question may be in flight at once, and a resumed run starts where it stopped
    out = tmp_path / "run"
    variants = variants_for(["ar", "ar+presence_penalty=0"], options=SMALL)
    run_bench(QUESTIONS[:1], variants, backend, out, concurrency=2, progress_bar=False)
    run_bench(QUESTIONS, variants, backend, out, concurrency=2, progress_bar=False, resume=True)
    rows = load_rows(out)
    for question in QUESTIONS:
        a, b = (rows[v][question.id].result.calls[0] for v in ("ar", "ar+presence_penalty=0"))
        assert (a.cached_tokens, uncached(a)) == (b.cached_tokens, uncached(b)) and uncached(a) > 10, question.id
