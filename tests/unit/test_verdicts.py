"""Quality metrics on fixed inputs (no server): verdicts, swap, net win rate, GSM8K numbers."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from plato_sgl.evaluation.verdicts import (
    combine,
    debiased_preference,
    final_number,
    first_position_share,
    is_correct,
    judge_prompt,
    length_log_ratio,
    outcome_value,
    parse_verdict,
    position_preference,
    reference_number,
    tally,
)


def test_pair_v2_prompt_is_fastchats():
    prompt = judge_prompt("pair-v2")
    assert '"[[C]]" for a tie' in prompt.system
    text = prompt.render("Q?", "first", "second")
    assert text.index("first") < text.index("second") and "[User Question]\nQ?" in text
    with pytest.raises(ValueError, match="no judge prompt"):
        judge_prompt("pair-v99")


def test_the_verdict_only_prompt_is_pair_v2_asking_for_the_verdict_alone():
    full, alone = judge_prompt("pair-v2"), judge_prompt("pair-v2-verdict")
    assert full.explains and not alone.explains
    assert alone.template == full.template and alone.name == "pair-v2-verdict"
    assert "explanation" in full.system and "provide a short explanation" not in alone.system
    assert "Output only your final verdict, with no explanation," in alone.system
    assert alone.system.endswith(
        '"[[A]]" if assistant A is better, "[[B]]" if assistant B is better, and "[[C]]" for a tie.'
    )
    # every other sentence of pair-v2 is kept, word for word
    kept = [s for s in full.system.split(". ") if "explanation" not in s]
    assert all(s in alone.system for s in kept)


@pytest.mark.parametrize(
    "text, verdict",
    [
        ("Assistant A is more detailed. [[A]]", "A"),
        ("Final verdict: [[B]]", "B"),
        ("Both are equally good. [[C]]", "tie"),
        ("I prefer A.", None),
        ("[A] is better", None),
        ("", None),
    ],
)
def test_parse_verdict(text, verdict):
    assert parse_verdict(text) == verdict


def test_a_win_needs_both_orders_to_agree():
    assert combine("A", "B") == "win"  # preferred in both positions
    assert combine("B", "A") == "loss"
    assert combine("A", "A") == "tie"  # position bias: the first answer always won
    assert combine("A", "tie") == "tie"
    assert combine("tie", "tie") == "tie"


def test_net_win_rate():
    t = tally(["win", "win", "tie", "loss", "win"])
    assert (t.wins, t.ties, t.losses, t.questions) == (3, 1, 1, 5)
    assert t.net_win_rate == pytest.approx(0.4)
    assert tally([]).net_win_rate == 0.0


def test_first_position_share_counts_only_judgements_with_a_preference():
    assert first_position_share(["A", "A", "B", "tie", None, "A"]) == (3, 4)
    assert first_position_share(["tie", None]) == (0, 0)


@pytest.mark.parametrize(
    "text, number",
    [
        ("She makes 9 * 2 = $18 every day.", "18"),
        ("The total is $1,234.50.", "1234.50"),
        ("It drops to -3 degrees.", "-3"),
        ("First 5 apples, then 7; so the answer is 12.", "12"),
        ("0.5 of 10 is 5.0", "5.0"),
        ("He ran .25 miles", "0.25"),
        ("Population: 1,000,000 people", "1000000"),
        ("no digits here", None),
    ],
)
def test_final_number(text, number):
    assert final_number(text) == (None if number is None else Decimal(number))


@pytest.mark.parametrize(
    "text, number",
    [
        # a dash is a minus only when attached to the digits and not after a word character or digit
        ("- 42 apples", "42"),
        ("Between 5-10 minutes", "10"),
        ("16-3-4 = 9", "9"),
        ("-3", "-3"),
        ("it is -3 degrees", "-3"),
        ("x = -3", "-3"),
        ("The balance went to -$1,234.50", "-1234.50"),
        ("f(2)-1", "1"),
        ("(4)-1", "1"),
        ("\N{MINUS SIGN}7 below zero", "-7"),
        ("1,2345", "2345"),  # not a thousands group: no "1,234" then "5"
        # an explicit final answer wins over the last number
        ("The answer is 42. Check: 6 * 7 = 42, and 7 is prime.", "42"),
        ("So the answer is 18 dollars, from 9 pairs at $2 each", "18"),
        ("Janet keeps 3 eggs.\n#### 18\nShe sells 9 of 16 eggs.", "18"),
        ("We get $\\boxed{72}$ because 8 * 9 = 72 uses 2 numbers", "72"),
        ("**Answer:** 25% of the 80 students", "25"),
        ("**Final answer**: **$1,234.50**, about 1 thousand", "1234.50"),
        ("The answer is 5 + 7 = 12, so 2 bags", "12"),
        ("The answer is -3, since 2 - 5 = -3 and 4 more", "-3"),
        ("The answer is 2.5 km. Each lap is 0.5 km", "2.5"),
        ("Answer: 3.\nStep 2 gave 4 instead", "3"),
        ("The answer is 5. Wait, 6 is wrong too. The answer is 7 after all, not 8", "7"),  # the last statement
        ("The answer is below.\nShe has 4 apples", "4"),  # a marker without a number is skipped
        ("The answers to part 1 and 2 are 3 and 4", "4"),  # "answers" is not a marker
        ("It costs **42**.", "42"),
        ("Speed: 60 km/h", "60"),
        # hyphens and ranges, units, percent, money, markdown, a restatement after the answer
        ("It takes 2-3 hours", "3"),
        ("between 10 and 12 minutes", "12"),
        ("The answer is 10-12 people", "10"),  # a range stated as the answer: its first number
        ("A 3-day trip costs $450 in total", "450"),
        ("It is 5 km away, so the answer is 5km", "5"),
        ("So 20% of 90 is 18%.", "18"),
        ("The answer is: **$18**.", "18"),
        ("Final Answer: The final answer is $18$. I hope it is correct.", "18"),
        ("**Answer: 42**", "42"),
        ("The answer is 18 (9 x 2), not 20", "18"),
        ("Therefore, the answer is 18.\n\nNote: had she sold 10 eggs it would be 20.", "18"),
        ("1. Eggs: 16\n2. Eaten: 3\n\n**Total: 18**", "18"),
        # a label alone on its line states the next line
        ("### Final Answer\n18 eggs\n\nCheck: 9*2", "18"),
        ("**Final Answer:**\n\n$1,234\n\nThat is 2 more than 1,232.", "1234"),
        ("**Answer:**\n18\nsince 9*2", "18"),
        ("Let us find the answer\n16 - 3 = 13\n9 * 2 = 18", "18"),  # "answer" inside a sentence is no label
    ],
)
def test_final_number_on_tricky_answers(text, number):
    assert final_number(text) == Decimal(number)


def test_gsm8k_correctness():
    solution = "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = $<<9*2=18>>18.\n#### 18"
    assert reference_number(solution) == 18
    assert is_correct("So she earns $18.00 per day.", solution)
    assert not is_correct("She earns 18 dollars, or 9 pairs", solution)  # the last number counts
    assert not is_correct("", solution)
    assert reference_number("no marker 42") is None
    assert is_correct("The answer is 1,500.", "#### 1500")


P = lambda a, b, tie: {"A": a, "B": b, "tie": tie}  # noqa: E731


def test_a_pure_position_preference_cancels_in_the_debiased_preference():
    # the judge gives the first-shown answer 0.7 whichever it is: no preference for either method
    assert debiased_preference(P(0.7, 0.2, 0.1), P(0.7, 0.2, 0.1)) == pytest.approx(0.0)
    assert position_preference(P(0.7, 0.2, 0.1), P(0.7, 0.2, 0.1)) == pytest.approx(0.5)


def test_the_debiased_preference_is_the_content_part_of_both_orders():
    # content preference c for the method, position preference b for whatever is shown first:
    # P_ab(A) - P_ab(B) = c + b, P_ba(A) - P_ba(B) = -c + b
    for c, b in ((0.3, 0.2), (-0.4, 0.1), (0.0, -0.3)):
        ab = P(0.5 + (c + b) / 2, 0.5 - (c + b) / 2, 0.0)
        ba = P(0.5 + (b - c) / 2, 0.5 - (b - c) / 2, 0.0)
        assert debiased_preference(ab, ba) == pytest.approx(c)
        assert position_preference(ab, ba) == pytest.approx(b)
    assert debiased_preference(P(0.9, 0.1, 0), P(0.1, 0.9, 0)) == pytest.approx(0.8)  # preferred in both orders
    assert debiased_preference(P(0.1, 0.1, 0.8), P(0.1, 0.1, 0.8)) == 0.0  # a tie in both


def test_outcome_values_and_length_ratios():
    assert [outcome_value(o) for o in ("win", "tie", "loss")] == [1.0, 0.0, -1.0]
    assert length_log_ratio(99, 99) == 0.0
    assert length_log_ratio(199, 99) == pytest.approx(math.log(2)) == -length_log_ratio(99, 199)
    assert length_log_ratio(0, 0) == 0.0 and length_log_ratio(9, 0) == pytest.approx(math.log(10))


def test_a_pair_summary_on_fixed_questions():
    from plato_sgl.evaluation.verdicts import summarize_pair

    outcomes = ["win", "tie", "loss", "win", "error"]
    prefs = [0.6, 0.0, -0.4, 0.6, None]
    positions = [0.2, 0.4, 0.0, 0.2, None]
    ratios = [2.0, 1.0, 0.5, 2.0, 3.0]
    s = summarize_pair(outcomes, prefs, positions, ratios, resamples=200)
    assert s.questions == 4 and s.net == pytest.approx(0.25)  # the error is left out
    assert s.debiased_questions == 4 and s.debiased == pytest.approx(0.2)
    assert s.debiased_net == pytest.approx(0.25)  # by sign: win, tie, loss, win
    assert s.debiased_net_interval[0] <= s.debiased_net <= s.debiased_net_interval[1]
    assert s.position == pytest.approx(0.2) and s.median_length_ratio == pytest.approx(1.5)
    assert s.length_controlled_of == "debiased"
    assert (
        s.net_interval[0] <= s.net <= s.net_interval[1]
        and s.debiased_interval[0] <= s.debiased <= s.debiased_interval[1]
    )
    # the longer answer won here: at equal length less is left than the raw +0.2
    assert s.length_controlled < s.debiased
    low, high = s.length_controlled_interval
    assert low <= s.length_controlled <= high


def test_a_debiased_preference_decides_a_question_by_its_sign():
    from plato_sgl.evaluation.verdicts import preference_sign

    assert [preference_sign(p) for p in (0.03, -0.004, 0.0, 1e-12, -1e-12)] == [1.0, -1.0, 0.0, 0.0, 0.0]


def test_a_pair_summary_without_probabilities_keeps_the_hard_rule():
    from plato_sgl.evaluation.verdicts import summarize_pair

    s = summarize_pair(
        ["win", "loss", "win", "loss"],
        [None, 0.3, None, None],
        [None, 0.1, None, None],
        [2.0, 2.0, 0.5, 0.5],
        resamples=100,
    )
    assert s.debiased is None and s.debiased_interval is None and s.position is None and s.debiased_questions == 1
    assert s.debiased_net is None and s.debiased_net_interval is None
    assert s.length_controlled_of == "hard rule"
    assert s.length_controlled == pytest.approx(0.0, abs=1e-6)  # half won at each length: no preference either way


def test_the_shipped_gsm8k_test_split_is_graded_by_its_own_references():
    """Every one of GSM8K's 1319 reference solutions, written as an answer ("... The answer is N."),
    is graded correct against itself; the same with its last step and answer made wrong is not."""
    from plato_sgl.evaluation.calibration import gsm8k_text, wrong_solution
    from plato_sgl.evaluation.datasets import load_questions

    questions = load_questions("gsm8k")
    assert len(questions) == 1319 and [q.id for q in questions[:3]] == ["1", "2", "3"]
    assert reference_number(questions[0].reference) == 18 and len(load_questions("gsm8k", first=100)) == 100
    for q in questions:
        assert reference_number(q.reference) is not None, q.id
        assert is_correct(gsm8k_text(q.reference), q.reference), q.id
        assert not is_correct(wrong_solution(q.reference), q.reference), q.id


def test_the_first_position_share_before_and_after_removing_the_mean_position_preference():
    from plato_sgl.evaluation.verdicts import first_preferred_share

    # content preferences -0.3, -0.1, +0.1, +0.3 in both orders, plus a position preference of +0.4
    judgements = [
        P(0.5 + (s * c + 0.4) / 2, 0.5 - (s * c + 0.4) / 2, 0.0) for c in (-0.3, -0.1, 0.1, 0.3) for s in (1, -1)
    ]
    assert first_preferred_share(judgements) == (8, 8)  # every judgement prefers the first shown
    assert first_preferred_share(judgements, shift=0.4) == (4, 8)  # half, once the bias is taken out
    assert first_preferred_share([P(0.4, 0.4, 0.2)]) == (0, 0)  # no preference either way
