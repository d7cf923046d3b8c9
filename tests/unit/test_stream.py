"""Streaming: the reading-order logic on scripted event sequences (no engine needed)."""

from __future__ import annotations

import pytest

import plato_sgl
from plato_sgl.core import prompts
from plato_sgl.core.result import NodeRecord
from plato_sgl.core.scheduler import Progress
from plato_sgl.core.streaming import ReadingOrder, plato_layout
from plato_sgl.methods.plato import compose
from plato_sgl.methods.sot import LAYOUT as SOT_LAYOUT
from plato_sgl.methods.sot import compose_answer as sot_answer


def node(i, description):
    return Progress("node", 0.0, node_id=i, description=description)


def text(i, piece):
    return Progress("text", 0.0, node_id=i, text=piece)


def done(i, result):
    return Progress("done", 0.0, node_id=i, text=result)


PLANNED = Progress("planned", 0.0)


def released(order, events):
    return [order.feed(e) for e in events]


def test_the_first_section_streams_while_later_ones_wait_for_it():
    order = ReadingOrder(plato_layout("How do bees fly?"))
    out = released(
        order,
        [
            node(1, "Wings"),
            node(2, "Muscles"),
            text(2, "Muscles contract fast. "),
            text(1, "Wings beat. "),
            text(1, "They twist."),
            PLANNED,
        ],
    )
    assert out[:3] == ["", "", ""]  # node 2's text waits for node 1
    assert out[3] == "**Wings**\nWings beat."  # a first sentence with words of its own is not a restatement
    assert "".join(out) == "**Wings**\nWings beat. They twist."  # node 1's text is released as it comes
    rest = released(order, [done(1, "Wings beat. They twist."), done(2, "Muscles contract fast.")])
    assert rest[0] == "\n\n**Muscles**\nMuscles contract fast."  # node 2's text so far, as node 1 ends
    answer = prompts.compose_answer([("Wings", "Wings beat. They twist."), ("Muscles", "Muscles contract fast.")])
    assert order.released == answer and order.finish(answer) == ""


def test_an_opening_restatement_is_held_until_it_is_settled_and_then_left_out():
    order = ReadingOrder(plato_layout("How do bees fly?"))
    out = released(
        order, [node(1, "Wing beats"), text(1, "Your part"), text(1, ": Wing beats."), text(1, " They are fast.")]
    )
    assert out == ["", "**Wing beats**", "", "\nThey are fast."]
    final = "Your part: Wing beats. They are fast."
    released(order, [done(1, final), PLANNED])
    assert order.released == prompts.compose_answer(
        [("Wing beats", prompts.drop_restatement(final, "Wing beats", "How do bees fly?")[0])]
    )


def test_a_section_that_repeats_an_earlier_one_word_for_word_is_held_and_left_out():
    email = "Subject: Joint venture\n\nDear Sam, I write to propose a venture."
    order = ReadingOrder(plato_layout("Write an email proposing a joint venture."))
    out = released(
        order,
        [
            node(1, "Opening"),
            node(2, "Terms"),
            node(3, "Closing"),
            done(1, email),
            text(2, "Subject: Joint"),
            text(3, "Thanks for reading."),
        ],
    )
    assert out[-2:] == ["", ""]  # node 2 may still repeat node 1: held, and node 3 waits behind it
    tail = released(order, [done(2, email.upper()), done(3, "Thanks for reading."), PLANNED])
    assert "".join(tail) == "\n\n**Closing**\nThanks for reading."  # node 2 is left out, separator and all
    records = [
        NodeRecord(id=1, description="Opening", result=email),
        NodeRecord(id=2, description="Terms", result=email.upper()),
        NodeRecord(id=3, description="Closing", result="Thanks for reading."),
    ]
    answer, repairs = compose(records, "Write an email proposing a joint venture.")  # Plato's Result.answer
    assert answer == prompts.compose_answer([("Opening", email), ("Closing", "Thanks for reading.")])
    assert repairs == ["node 2: left out of the answer, its text repeats node 1's"]
    assert order.released == answer and order.finish(answer) == ""


def test_a_section_that_starts_like_an_earlier_one_and_then_differs_is_shown():
    order = ReadingOrder(plato_layout("How do bees fly?"))
    out = released(
        order,
        [
            node(1, "Wings"),
            node(2, "Muscles"),
            done(1, "Bees beat their wings."),
            text(2, "Bees beat"),
            text(2, " their muscles fast."),
        ],
    )
    assert out[-2] == "" and out[-1] == "\n\n**Muscles**\nBees beat their muscles fast."


@pytest.mark.parametrize(
    "text, earlier, repeated, may",
    [
        ("Dear Sam,\n\nHello.", ["Other.", "dear  sam, hello."], 1, True),
        ("Dear Sam", ["Dear Sam, hello."], None, True),
        ("Dear Pat", ["Dear Sam, hello."], None, False),
        ("", [""], None, True),  # nothing written: never a repeat, but it may become one
    ],
)
def test_repeated_sections(text, earlier, repeated, may):
    assert prompts.repeated_section(text, earlier) == repeated
    assert prompts.may_repeat(text, earlier) == may


def test_trailing_whitespace_waits_and_a_section_after_the_last_waits_for_the_plan_to_end():
    order = ReadingOrder(plato_layout("q"))
    assert released(order, [node(1, "A"), text(1, "Alpha is first.  ")]) == ["", "**A**\nAlpha is first."]
    assert order.feed(done(1, "Alpha is first.")) == ""
    assert order.feed(node(2, "B")) == ""  # known, but no text yet
    assert order.feed(text(2, "Beta.")) == "\n\n**B**\nBeta."


@pytest.mark.parametrize(
    "text, settled",
    [
        ("Wing", False),
        ("Wing beats", False),
        ("Wing beats.", False),
        ("Wing beats. ", False),  # may be a restatement
        ("Wing beats. They", True),  # a restatement followed by text: it goes
        ("Win", False),  # a word still being written that may become the topic's "wing"
        ("Wings", True),
        ("Wingspan", True),  # no topic or question word starts so: the sentence stays
        ("Your pa", False),
        ("Your part: Wing", False),
        ("Your part: Lift", True),
    ],
)
def test_when_an_opening_restatement_is_settled(text, settled):
    assert prompts.restatement_settled(text, "Wing beats", "How do bees fly?") is settled


def test_a_plain_answer_streams_as_it_comes():
    order = ReadingOrder(None)
    assert released(order, [Progress("text", 0.0, text="Hel"), Progress("text", 0.0, text="lo")]) == ["Hel", "lo"]
    assert order.finish("Hello") == ""


def test_a_method_without_text_events_gives_its_answer_at_the_end_and_a_mismatch_is_reported():
    order = ReadingOrder(None)
    assert order.feed(node(1, "x")) == "" and order.finish("whole answer") == "whole answer"
    order = ReadingOrder(None)
    order.feed(Progress("text", 0.0, text="Hi"))
    assert order.finish("Hello") is None


def test_skeleton_of_thought_points_stream_as_lines():
    order = ReadingOrder(SOT_LAYOUT)
    released(
        order, [node(1, "Wings"), node(2, "Muscles"), PLANNED, text(1, " beat"), done(1, " beat fast"), done(2, "")]
    )
    assert order.released == sot_answer([(1, "Wings", " beat fast"), (2, "Muscles", "")])


# -- against the tiny server ---------------------------------------------------------------------


def test_the_package_s_stream_is_the_function_even_after_every_module_is_imported():
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(plato_sgl.__path__):
        if module.name != "cpu_shim":
            importlib.import_module(f"plato_sgl.{module.name}")
    assert callable(plato_sgl.stream) and callable(plato_sgl.run) and callable(plato_sgl.append_answer)
