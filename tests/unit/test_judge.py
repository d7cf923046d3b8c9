"""The judge's pure parts: pool size, verdict probabilities, judge labels."""

from __future__ import annotations

import math

import pytest

from plato_sgl.evaluation.judge import (
    JUDGE_CALL_TOKENS,
    Judgement,
    judge_flags,
    judge_label,
    judge_pool_tokens,
    judges_of,
    verdict_probabilities,
)


def test_a_local_judge_pool_fits_every_call_in_flight():
    assert judge_pool_tokens(1) == 8192  # the servers' default is the floor
    assert judge_pool_tokens(4) == 4 * JUDGE_CALL_TOKENS > 4 * 4400


MASKED = -3.4028234663852886e38  # SGLang's logprob of a token the regex rules out


def test_verdict_probabilities_are_read_where_the_letter_is_chosen():
    top = [
        [(0.0, 61, "["), (MASKED, 1, "<|im_start|>")],  # "[" forced
        [(0.0, 61, "["), (MASKED, 3, "!")],
        [(math.log(0.5), 35, "A"), (math.log(0.3), 36, "B"), (math.log(0.1), 37, "C"), (MASKED, 4, '"')],
        [(0.0, 63, "]"), (MASKED, 35, "A")],
    ]  # a masked letter later counts for nothing
    assert verdict_probabilities(top) == pytest.approx({"A": 0.5 / 0.9, "B": 0.3 / 0.9, "tie": 0.1 / 0.9})


def test_verdict_probabilities_merge_tokens_of_one_letter_and_tokens_that_carry_the_brackets():
    top = [None, [(math.log(0.2), 9, "[[A"), (math.log(0.2), 10, "A]]"), (math.log(0.6), 11, "[[C")]]
    assert verdict_probabilities(top) == pytest.approx({"A": 0.4, "B": 0.0, "tie": 0.6})
    assert verdict_probabilities([[(0.0, 61, "[")], [(MASKED, 35, "A")]]) is None  # no letter offered
    assert verdict_probabilities([]) is None


def test_a_judge_is_a_model_and_a_prompt_format():
    made = [
        Judgement(str(n), "1", "plato:ar", "ab", judge, "A", "[[A]]", prompt=prompt)
        for n, (judge, prompt) in enumerate(
            [("m", "pair-v2"), ("m", "pair-v2-verdict"), ("m", "pair-v2"), ("k", "pair-v2")]
        )
    ]
    assert judges_of(made) == [("k", "pair-v2"), ("m", "pair-v2"), ("m", "pair-v2-verdict")]
    assert (
        Judgement(
            **{
                "key": "k",
                "question_id": "1",
                "pair": "a:b",
                "order": "ab",
                "judge": "m",
                "verdict": "A",
                "text": "[[A]]",
            }
        ).prompt
        == "pair-v2"
    )  # a judgement cached before the prompt was recorded
    assert (judge_label("m"), judge_label("m", "pair-v2-verdict")) == ("m", "m, pair-v2-verdict")
    assert (judge_flags("m"), judge_flags("m", "pair-v2-verdict")) == (
        "--judge-model m",
        "--judge-model m --judge-prompt pair-v2-verdict",
    )
