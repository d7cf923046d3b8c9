"""The judge calibration set: built deterministically from the committed sources, scored on fixed verdicts."""

from __future__ import annotations

import pytest

from plato_sgl.evaluation.calibration import (
    KINDS,
    PASS_BAR,
    build_pairs,
    choose_pairs,
    duplicate_sections,
    gsm8k_text,
    load_pairs,
    pairs_jsonl,
    score,
    sections,
    select_sources,
    truncate_mid_sentence,
    verdict_lines,
    wrong_solution,
)
from plato_sgl.evaluation.verdicts import final_number, reference_number
from tests.helpers import load_sources

SOLUTION = (
    "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n"
    "She makes 9 * 2 = $<<9*2=18>>18 every day at the farmer's market.\n#### 18"
)


def test_the_committed_set_is_what_the_builder_makes_of_the_committed_sources():
    from importlib.resources import files

    committed = files("plato_sgl.data").joinpath("judge_calibration.jsonl").read_text(encoding="utf-8")
    assert pairs_jsonl(build_pairs(load_sources())) == committed
    assert build_pairs(load_sources()) == build_pairs(load_sources())  # deterministic


def test_the_committed_set_has_every_kind_from_real_answers():
    pairs = load_pairs()
    counts = {k: sum(p.kind == k for p in pairs) for k in KINDS}
    assert counts == {"truncated": 6, "duplicated": 6, "off_topic": 6, "empty": 6, "wrong_answer": 6}
    assert len({p.id for p in pairs}) == len(pairs)
    sources = load_sources()
    assert len({s["category"] for s in sources if s["set"] == "vicuna80"}) == 6  # one answer per category
    for pair in pairs:
        assert pair.better.strip() and pair.better != pair.worse


def test_truncation_cuts_mid_sentence_before_half():
    answer = "One two three. Four five six seven. Eight nine ten eleven twelve. Thirteen fourteen."
    cut = truncate_mid_sentence(answer)
    assert answer.startswith(cut) and len(cut.split()) < len(answer.split()) / 2 + 1
    assert (
        cut[-1] not in ".!?:,;" and cut == "One two three. Four five six"
    )  # 45% of 14 words is word 6; "three." ends a sentence
    assert (
        truncate_mid_sentence("Done. Yes. Ok.") == "Done. Yes. Ok."
    )  # no word but sentence ends: nothing left to cut into


def test_duplication_writes_the_body_twice():
    answer = "Intro.\n\n1. First point.\n\n2. Second point."
    assert (
        duplicate_sections(answer)
        == "Intro.\n\n1. First point.\n\n2. Second point.\n\n1. First point.\n\n2. Second point."
    )
    assert sections("a\nb\nc") == ["a", "b", "c"]  # one paragraph: its lines


def test_a_wrong_gsm8k_answer_changes_the_last_step_and_the_final_number():
    right, wrong = gsm8k_text(SOLUTION), wrong_solution(SOLUTION)
    assert "<<" not in right and right.endswith("The answer is 18.") and "$18 every day" in right
    assert wrong.endswith("The answer is 22.") and "9 * 2 = $22 every day" in wrong
    assert final_number(right) == reference_number(SOLUTION) != final_number(wrong)
    assert wrong_solution("So profit is 200,000-130,000=$<<200000-130000=70000>>70,000\n#### 70000").endswith(
        "=$87500\nThe answer is 87500."
    )


def test_sources_are_the_first_fitting_answer_of_each_category():
    words = " ".join(["word"] * 120)
    good = f"{words}\n\nsecond\n\nthird"
    answers = [
        {"question_id": "3", "category": "b", "question": "q3", "answer": good, "truncated": False},
        {"question_id": "1", "category": "a", "question": "q1", "answer": "too short\n\nx\n\ny", "truncated": False},
        {"question_id": "2", "category": "a", "question": "q2", "answer": good, "truncated": True},  # cut at its cap
        {"question_id": "4", "category": "a", "question": "q4", "answer": good, "truncated": False},
        {"question_id": "5", "category": "a", "question": "q5", "answer": good, "truncated": False},  # a second of "a"
    ]
    gsm8k = [{"question": f"p{i}", "answer": f"#### {i}"} for i in range(1, 5)]
    sources = select_sources(answers, gsm8k, per_set=2)
    assert [(s["set"], s["id"]) for s in sources] == [
        ("vicuna80", "3"),
        ("vicuna80", "4"),
        ("gsm8k", "1"),
        ("gsm8k", "2"),
    ]
    pairs = build_pairs(sources)
    off = [p for p in pairs if p.kind == "off_topic"]
    assert [p.worse for p in off] == [good, good]  # the other question's answer
    assert [p.id for p in pairs][:2] == ["truncated:vicuna80-3", "truncated:vicuna80-4"]


def test_choose_pairs_by_kind_and_count():
    pairs = load_pairs()
    chosen = choose_pairs(pairs, ["empty", "wrong_answer"], first=2)
    assert [p.kind for p in chosen] == ["empty", "empty", "wrong_answer", "wrong_answer"]
    assert choose_pairs(pairs) == pairs
    with pytest.raises(ValueError, match="unknown calibration kind bogus"):
        choose_pairs(pairs, ["bogus"])
    with pytest.raises(ValueError, match="positive"):
        choose_pairs(pairs, None, first=0)


def test_scores_per_kind_and_order():
    judged = [
        ("empty", "A", "B", 0.9),
        ("empty", "A", "B", 0.8),
        ("empty", "A", "A", 0.1),
        ("empty", "A", "B", 0.7),
        ("empty", "A", "B", 0.6),
        ("truncated", "A", "A", 0.0),
        ("truncated", "A", "A", -0.1),  # a judge that always picks the first shown
    ]
    truncated, empty = score(judged)  # in KINDS order
    assert (empty.kind, empty.pairs, empty.first, empty.second, empty.both) == ("empty", 5, 1.0, 0.8, 0.8)
    assert empty.debiased == 1.0 and empty.mean_preference == pytest.approx(0.62) and empty.passed
    assert (truncated.first, truncated.second, truncated.both, truncated.debiased) == (1.0, 0.0, 0.0, 0.0)
    assert not truncated.passed
    text = "\n".join(verdict_lines([empty, truncated], "j"))
    assert "**Judge `j` FAILS the calibration set**" in text and "truncated (0%)" in text
    assert "| empty | 5 | 100% | 80% | 80% | 100% | +0.62 | yes |" in text
    assert "passes the calibration set" in "\n".join(verdict_lines([empty], "j"))


def test_without_probabilities_the_bar_is_the_both_orders_rule():
    [s] = score([("empty", "A", "B", None)] * 4 + [("empty", "B", "B", None)])
    assert s.debiased is None and s.both == 0.8 and s.passed == (0.8 >= PASS_BAR)
    [s] = score([("empty", None, "B", None)])  # no verdict: wrong
    assert s.first == 0.0 and not s.passed
