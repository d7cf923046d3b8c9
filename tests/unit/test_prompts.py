"""Prompt texts and answer composition: the plan prompt's examples, the node prompt's order, node
budgets, restatements."""

from __future__ import annotations

import pytest
import regex

from plato_sgl.core import prompts
from plato_sgl.core.grammar import plan_regex
from plato_sgl.core.options import MIN_NODE_TOKENS, Options, node_budget, node_sentence_count
from plato_sgl.core.parser import parse_plan
from plato_sgl.methods.plato import openings


def test_the_plan_prompt_examples_are_plans_the_grammar_accepts():
    """Each worked example, as the model would write it, fits the regex it is decoded under."""
    for sized in (True, False):
        text = prompts.plan_system(sized)
        for block in text.split("\n\n")[1:]:
            plan = "\n".join(block.splitlines()[1:]) + "\n"
            assert regex.fullmatch(plan_regex(6, ascii=True, sized=sized), plan), plan
            nodes, repairs = parse_plan(plan)
            assert nodes and not repairs
        assert ("Parts:" in text) == sized


def test_rules_first_puts_the_same_text_before_every_question():
    first = prompts.node_preamble("How do bees fly?", 5, rules_first=True)
    second = prompts.node_preamble("Why is the sky blue?", 5, rules_first=True)
    static = first[: first.index("How do bees fly?")]
    assert second.startswith(static) and "Rules:" in static and "in at most 5 sentences" in static
    assert first.endswith("How do bees fly?\nParts already written:\n")


def test_question_first_puts_the_question_before_the_rules():
    text = prompts.node_preamble("How do bees fly?", 5)
    assert text.index("How do bees fly?") < text.index("Rules:") and text.endswith("Parts already written:\n")


@pytest.mark.parametrize("order, rules_first", [("question-first", False), ("rules-first", True)])
def test_the_warm_up_opens_the_node_prompt_as_questions_will(order, rules_first):
    node_prefix = [kwargs for program, kwargs in openings(Options(node_prompt=order)) if "rules_first" in kwargs]
    assert node_prefix == [{"question": "\u2205", "history": (), "sentences": 5, "rules_first": rules_first}]
    assert openings(Options(ignore_eos=True))[1][1]["sentences"] == 0  # nodes then decode free text


@pytest.mark.parametrize(
    "size, expected", [(None, 256), (1, 256), (3, 256), (4, 192), (6, 128), (100, MIN_NODE_TOKENS)]
)
def test_the_answer_budget_is_split_over_the_decided_parts(size, expected):
    assert node_budget(Options(), size) == expected


def test_a_node_budget_never_exceeds_node_max_tokens():
    assert node_budget(Options(node_max_tokens=16), 10) == 16


@pytest.mark.parametrize("size, expected", [(None, 4), (1, 4), (3, 4), (4, 3), (5, 2), (6, 2), (12, 2), (100, 2)])
def test_a_node_may_write_the_sentences_its_share_holds(size, expected):
    assert (
        node_sentence_count(Options(), size) == expected
    )  # 64 tokens a sentence; shares 256, 256, 256, 192, 153, 128, 64, 32 (never below the grammar's 2)


@pytest.mark.parametrize("size, expected", [(4, 5), (5, 5), (6, 4), (8, 3)])
def test_fewer_tokens_a_sentence_let_a_node_write_more(size, expected):
    assert node_sentence_count(Options(sentence_tokens=30), size) == expected  # shares 192, 153, 128, 96


def test_the_sentence_count_is_fixed_without_sentence_tokens_and_never_above_node_sentences():
    assert node_sentence_count(Options(sentence_tokens=None), 100) == 5
    assert node_sentence_count(Options(node_sentences=3, sentence_tokens=1), 2) == 3
    assert node_sentence_count(Options(node_sentences=1), 100) == 1  # a bound below the grammar's 2 stays


@pytest.mark.parametrize("value", [0, 1001, 2.5, True, "30"])
def test_sentence_tokens_must_be_a_number_of_tokens(value):
    with pytest.raises(ValueError, match="option sentence_tokens must be an integer from 1 to 1000"):
        Options(sentence_tokens=value)


@pytest.mark.parametrize(
    "result, description, question, expected",
    [
        ("Effects on sleep. Exercise deepens sleep.", "Effects on sleep", "", "Exercise deepens sleep."),
        ("**Effects on sleep**\n\nExercise deepens sleep.", "Effects on sleep", "", "Exercise deepens sleep."),
        (
            "To improve your time management skills, you can create a schedule. List tasks first.",
            "Create a schedule",
            "How can I improve my time management skills?",
            "List tasks first.",
        ),
        # a first sentence with content of its own stays
        ("Effects on sleep are large. Exercise deepens sleep.", "Effects on sleep", "", None),
        # nothing but the restatement: kept whole rather than emptied
        ("Effects on sleep.", "Effects on sleep", "", None),
        # an echo of the task's label goes, and a restatement after it too
        ("Your part: Exercise deepens sleep.", "Effects on sleep", "", "Exercise deepens sleep."),
        ("your part: Effects on sleep. Exercise deepens sleep.", "Effects on sleep", "", "Exercise deepens sleep."),
    ],
)
def test_a_node_that_opens_by_restating_its_topic_or_the_question_loses_that_sentence(
    result, description, question, expected
):
    text, dropped = prompts.drop_restatement(result, description, question)
    assert (text, dropped) == ((expected, True) if expected else (result, False))
