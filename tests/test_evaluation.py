"""Quality metrics on fixed inputs (no server): verdicts, swap, net win rate, GSM8K numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from plato_sgl.evaluation import combine, final_number, first_position_share, is_correct, judge_prompt, parse_verdict, reference_number, tally


def test_pair_v2_prompt_is_fastchats():
    prompt = judge_prompt("pair-v2")
    assert '"[[C]]" for a tie' in prompt.system
    text = prompt.render("Q?", "first", "second")
    assert text.index("first") < text.index("second") and "[User Question]\nQ?" in text
    with pytest.raises(ValueError, match="no judge prompt"):
        judge_prompt("pair-v99")


@pytest.mark.parametrize("text, verdict", [
    ("Assistant A is more detailed. [[A]]", "A"),
    ("Final verdict: [[B]]", "B"),
    ("Both are equally good. [[C]]", "tie"),
    ("I prefer A.", None),
    ("[A] is better", None),
    ("", None),
])
def test_parse_verdict(text, verdict):
    assert parse_verdict(text) == verdict


def test_a_win_needs_both_orders_to_agree():
    assert combine("A", "B") == "win"    # preferred in both positions
    assert combine("B", "A") == "loss"
    assert combine("A", "A") == "tie"    # position bias: the first answer always won
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


@pytest.mark.parametrize("text, number", [
    ("She makes 9 * 2 = $18 every day.", "18"),
    ("The total is $1,234.50.", "1234.50"),
    ("It drops to -3 degrees.", "-3"),
    ("First 5 apples, then 7; so the answer is 12.", "12"),
    ("0.5 of 10 is 5.0", "5.0"),
    ("He ran .25 miles", "0.25"),
    ("Population: 1,000,000 people", "1000000"),
    ("no digits here", None),
])
def test_final_number(text, number):
    assert final_number(text) == (None if number is None else Decimal(number))


@pytest.mark.parametrize("text, number", [
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
])
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
