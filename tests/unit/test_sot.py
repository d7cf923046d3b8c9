"""Skeleton-of-Thought: the skeleton grammar and parser alone."""

from __future__ import annotations

import pytest
import regex

from plato_sgl.methods.sot import compose_answer, parse_skeleton, point_opening, skeleton_regex

FORCED = " Worker bees.\n2. Drone bees.\n3. The queen bee.\n4. Swarming in spring."  # after "1."
POINTS = ["Worker bees.", "Drone bees.", "The queen bee.", "Swarming in spring."]


def accepts(text: str, max_points: int = 10) -> bool:
    return regex.fullmatch(skeleton_regex(max_points), text) is not None


def numbered(*points: str) -> str:
    """The skeleton text after "1.", as the model writes it."""
    return " " + "\n".join(f"{i}. {p}" if i > 1 else p for i, p in enumerate(points, 1))


# -- the skeleton grammar and parser (no server) -----------------------------------------------


def test_the_regex_accepts_3_to_max_short_numbered_points() -> None:
    assert accepts(FORCED)
    assert accepts(numbered("Dumplings.", "Noodles.", "Dim Sum."))
    assert accepts(numbered(*[f"Point {chr(65 + i)}." for i in range(10)]))
    assert accepts(numbered("A.", "B.", "C.", "D."), max_points=4)
    assert accepts(numbered("x" * 60 + ".", "Noodles.", "Dim Sum."))  # 60 characters and the period


@pytest.mark.parametrize(
    "text, max_points",
    [
        (numbered("Dumplings.", "Noodles."), 10),  # fewer than 3 points
        (numbered(*[f"Point {chr(65 + i)}." for i in range(11)]), 20),  # capped at 10
        (numbered("A.", "B.", "C.", "D.", "E."), 4),  # more than max_points
        (" Dumplings.\n3. Noodles.\n2. Dim Sum.", 10),  # numbers out of order
        (numbered("Dumplings", "Noodles.", "Dim Sum."), 10),  # a point without its period
        (numbered("U.S. food.", "Noodles.", "Dim Sum."), 10),  # a period inside a point
        (numbered(" Dumplings.", "Noodles.", "Dim Sum."), 10),  # a point starting with a space
        (numbered("x" * 61 + ".", "Noodles.", "Dim Sum."), 10),  # a point longer than 60 chars
        (FORCED + "\n", 10),  # a newline must start another point
    ],
)
def test_the_regex_rejects_malformed_skeletons(text: str, max_points: int) -> None:
    assert not accepts(text, max_points)


def test_fewer_than_3_max_points_is_also_the_minimum() -> None:
    assert accepts(numbered("A.", "B."), max_points=2)
    assert not accepts(numbered("A."), max_points=2)
    assert accepts(numbered("A."), max_points=1)


def test_xgrammar_reads_the_regex_as_python_does() -> None:
    xgr = pytest.importorskip("xgrammar")
    vocab = [chr(c) for c in range(32, 127)] + ["\n", "é", "</s>"]
    compiler = xgr.GrammarCompiler(xgr.TokenizerInfo(vocab, stop_token_ids=[len(vocab) - 1]), max_threads=1)
    grammar = compiler.compile_regex(skeleton_regex(10))
    for text, expected in [(FORCED, True), (numbered("A.", "B."), False), (numbered("A.", "B.", "C"), False)]:
        matcher = xgr.GrammarMatcher(grammar)
        assert (matcher.accept_string(text) and matcher.accept_token(len(vocab) - 1)) is expected, text


def test_parse_skeleton_reads_numbered_points_in_order() -> None:
    assert parse_skeleton("1." + FORCED) == list(enumerate(POINTS, 1))
    messy = "Here it is:\n1. First.\n\n2.  Second point.  \n4. Skipped number.\n3. Too late."
    assert parse_skeleton(messy) == [(1, "First."), (2, "Second point.")]
    assert parse_skeleton("1. A.\n2. B.\n3. C.", max_points=2) == [(1, "A."), (2, "B.")]
    assert parse_skeleton("No list at all.") == []


def test_compose_answer_keeps_point_order() -> None:
    answer = compose_answer([(1, "Workers.", " They forage.\n"), (2, "Drones.", "They mate.")])
    assert answer == "1. Workers: They forage.\n2. Drones: They mate."


def test_an_expansion_continues_its_point_after_a_colon_not_after_a_full_stop() -> None:
    # "2. Drones." reads as a finished turn: a model ends it at once (the smoke test below)
    assert point_opening(2, "Drones.") == point_opening(2, "Drones") == "2. Drones:"


# -- against the real server ------------------------------------------------------------------
