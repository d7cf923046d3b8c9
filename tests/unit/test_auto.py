"""``auto``: its routing decisions as pure functions."""

from __future__ import annotations

import pytest

from plato_sgl.core.options import Options
from plato_sgl.core.plan import PlanNode
from plato_sgl.methods.auto import CHAIN_MAX_PARTS, plan_route, question_route
from plato_sgl.methods.plato import single_part_route

# -- decisions, no server ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did she sell altogether in April and May?",
        "A shirt costs $20 and is 15% off. What is the total cost of 3 shirts?",
        "Given that f(x) = 5x^3 - 2x + 3, find the value of f(2).",
        "If the endpoints of a line segment are (2, -2) and (10, 4), what is the length of the segment?",
    ],
)
def test_math_word_problems_get_a_plain_answer(question: str) -> None:
    assert "math word problem" in question_route(question)


@pytest.mark.parametrize(
    "question",
    [
        "Develop a C++ program that reads a text file line by line and counts the number of occurrences of a specific word in the file.",
        "Implement a Python function to find the longest common subsequence of two input strings using dynamic programming.",
        "Implement a regular expression in Python to validate an email address.",
        "Write a program to find the nth Fibonacci number using dynamic programming.",
        "Implement a queue data structure using two stacks in Python.",
        "Please write a SQL query that lists the customers with no orders.",
    ],
)
def test_programming_tasks_get_a_plain_answer(question: str) -> None:
    assert "programming task" in question_route(question)


@pytest.mark.parametrize(
    "question",
    [
        "How can I improve my time management skills?",
        "What were the main causes of World War 1?",  # one number, no quantity asked for
        "How many pages are in all the books ever written?",  # a quantity, but no numbers to chain
        "What if Alan Turing had not cracked the Enigma code during World War II?",  # code, but no code asked for
        "Write a script for a YouTube video exploring the history and cultural significance of jazz.",
        "What are the main differences between Python and JavaScript programming languages?",
        "Write a persuasive essay. Include a short code of conduct.",  # the request for code is not in the opening sentence
    ],
)
def test_other_questions_go_on_to_the_plan(question: str) -> None:
    assert question_route(question) is None


def nodes(*deps: tuple[int, ...]) -> list[PlanNode]:
    return [PlanNode(k, f"part {k}", d) for k, d in enumerate(deps, start=1)]


def test_a_one_part_size_decision_is_answered_plainly_before_any_line() -> None:
    assert "1 part" in plan_route(1, [], done=False)


def test_platos_own_route_answers_a_one_part_plan_plainly_and_nothing_else() -> None:
    assert "1 part" in single_part_route(1, [], done=False)
    assert single_part_route(None, [], done=False) is None  # nothing read yet
    assert single_part_route(3, [], done=False) == "" and single_part_route(None, nodes(()), done=False) == ""
    assert single_part_route(None, [], done=True) == ""  # an empty plan: Plato's fallback, not a route


def test_a_plain_answer_in_platos_place_keeps_to_the_answer_budget() -> None:
    assert Options(max_tokens=1024, answer_max_tokens=768).plain_budget().max_tokens == 768
    assert Options(max_tokens=100, answer_max_tokens=768).plain_budget().max_tokens == 100


def test_a_short_or_unsized_plan_waits_for_the_second_line() -> None:
    assert plan_route(CHAIN_MAX_PARTS, [], done=False) is None
    assert plan_route(CHAIN_MAX_PARTS, nodes(()), done=False) is None
    assert plan_route(2, nodes(()), done=False) is None
    assert plan_route(None, nodes(()), done=False) is None


def test_a_plan_sized_beyond_a_chain_takes_platos_path_at_its_size_decision() -> None:
    assert plan_route(CHAIN_MAX_PARTS + 1, [], done=False) == ""  # no line read yet: the first node starts with it
    assert plan_route(CHAIN_MAX_PARTS + 1, nodes(()), done=False) == ""


def test_a_short_chain_is_answered_plainly_and_a_parallel_plan_with_plato() -> None:
    assert "chain" in plan_route(3, nodes((), (1,)), done=False)
    assert plan_route(3, nodes((), ()), done=False) == ""
    assert plan_route(CHAIN_MAX_PARTS + 1, nodes((), (1,)), done=False) == ""  # long enough to have parallel parts


def test_a_plan_that_ended_with_one_line_is_answered_plainly() -> None:
    assert "one usable part" in plan_route(None, nodes(()), done=True)
    assert plan_route(None, nodes((), ()), done=True) == ""


# -- the paths, against the tiny model -----------------------------------------------------------


def test_the_load_route_answers_plainly_only_above_the_threshold() -> None:
    from plato_sgl.methods.auto import load_route

    assert load_route(3.0, 2) == "the server is busy: 3 requests per worker running or waiting (auto_max_load 2)"
    assert load_route(2.0, 2) is None and load_route(0.0, 0) is None  # at the threshold auto still plans
    assert load_route(None, 2) is None  # the load could not be read: decide as without it
    assert load_route(50.0, None) is None  # the option is off
    with pytest.raises(ValueError, match="auto_max_load"):
        Options(auto_max_load=-1)


def test_the_load_is_read_once_more_at_the_plans_first_tokens_then_the_plan_decides() -> None:
    from plato_sgl.methods.auto import LoadRoute

    reads = []
    busy = LoadRoute(lambda: reads.append("busy") or 3.0, 2)
    assert busy(None, [], done=False).startswith("the server is busy: 3 requests per worker")
    quiet = LoadRoute(lambda: reads.append("quiet") or 1.0, 2)
    assert quiet(None, [], done=False) is None  # not busy: the plan decides, and has said nothing yet
    assert quiet(3, nodes((), ()), done=False) == ""  # a parallel plan: Plato
    assert reads == ["busy", "quiet"]  # one read per question
    assert LoadRoute(lambda: None, 2)(3, nodes((), (1,)), done=False).startswith(
        "a chain"
    )  # unread load: as without it
