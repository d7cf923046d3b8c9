"""Prompt texts and answer composition: the plan prompt's examples, node budgets, restatements."""

from __future__ import annotations

import pytest

from plato_sgl import prompts
from plato_sgl.grammar import plan_regex
from plato_sgl.methods.plato import MIN_NODE_TOKENS, node_budget
from plato_sgl.options import Options
from plato_sgl.parser import parse_plan

import regex


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


@pytest.mark.parametrize("size, expected", [(None, 256), (1, 256), (3, 256), (4, 192), (6, 128), (100, MIN_NODE_TOKENS)])
def test_the_answer_budget_is_split_over_the_decided_parts(size, expected):
    assert node_budget(Options(), size) == expected


def test_a_node_budget_never_exceeds_node_max_tokens():
    assert node_budget(Options(node_max_tokens=16), 10) == 16


@pytest.mark.parametrize("result, description, question, expected", [
    ("Effects on sleep. Exercise deepens sleep.", "Effects on sleep", "", "Exercise deepens sleep."),
    ("**Effects on sleep**\n\nExercise deepens sleep.", "Effects on sleep", "", "Exercise deepens sleep."),
    ("To improve your time management skills, you can create a schedule. List tasks first.",
     "Create a schedule", "How can I improve my time management skills?", "List tasks first."),
    # a first sentence with content of its own stays
    ("Effects on sleep are large. Exercise deepens sleep.", "Effects on sleep", "", None),
    # nothing but the restatement: kept whole rather than emptied
    ("Effects on sleep.", "Effects on sleep", "", None),
    # an echo of the task's label goes, and a restatement after it too
    ("Your part: Exercise deepens sleep.", "Effects on sleep", "", "Exercise deepens sleep."),
    ("your part: Effects on sleep. Exercise deepens sleep.", "Effects on sleep", "", "Exercise deepens sleep."),
])
def test_a_node_that_opens_by_restating_its_topic_or_the_question_loses_that_sentence(result, description, question, expected):
    text, dropped = prompts.drop_restatement(result, description, question)
    assert (text, dropped) == ((expected, True) if expected else (result, False))
