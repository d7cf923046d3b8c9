"""PASTA by prompting: the annotation helpers alone."""

from __future__ import annotations

import pytest

from plato_sgl.core.grammar import literal_regex
from plato_sgl.core.plan import PlanNode
from plato_sgl.methods.pasta import (
    Promise,
    Stream,
    cut_at_stop,
    describe,
    drop_partial_tag,
    matched_stop,
    render,
    split_main_regex,
    strip_tags,
    synced_ids,
)

LIST = "Three reasons:\n<scope>\n1. Eyes:<promise/>\n2. Posture:<promise/>\n</scope>\nDone."


def promise(node_id: int, *pieces, synced: bool = True) -> Promise:
    branch = Stream(prefix="", budget=0, pieces=list(pieces))
    return Promise(node=PlanNode(node_id, ""), branch=branch, synced=synced)


# -- the pure parts (no server) -----------------------------------------------------------------


def test_strip_tags_removes_every_tag_leniently() -> None:
    text = "<scope>A<promise/><async> one</async> B<promise /> <PROMISE> </ scope>C</scope>"
    assert strip_tags(text) == "A one B  C"
    assert strip_tags("no tags, but a < b > c") == "no tags, but a < b > c"


def test_drop_partial_tag_only_drops_a_cut_off_tag_at_the_end() -> None:
    assert drop_partial_tag("the end <sco") == "the end "
    assert drop_partial_tag("the end </asy") == "the end "
    assert drop_partial_tag("the end <promise/") == "the end "
    assert drop_partial_tag("a <") == "a <"  # a lone "<" may be text
    assert drop_partial_tag("a <b") == "a <b"
    assert drop_partial_tag("x <scope>") == "x <scope>"  # whole tags are strip_tags' job


def test_render_shows_a_promise_content_only_once_synchronized() -> None:
    inner = promise(2, " inner")
    outer = promise(1, " outer", inner, " tail")
    pending = promise(3, " not yet", synced=False)
    pieces = ["<scope>x", outer, " y", pending, "</scope>"]
    assert render(pieces) == (
        "<scope>x<promise/><async> outer<promise/><async> inner</async> tail</async> y<promise/></scope>"
    )
    assert strip_tags(render(pieces)) == "x outer inner tail y"
    assert synced_ids(pieces) == [1, 2]


def test_split_main_regex_cuts_after_each_action_tag() -> None:
    pieces = split_main_regex(literal_regex(LIST))
    assert "".join(pieces) == literal_regex(LIST)
    assert len(pieces) == 4  # two promises, one </scope>, then the rest
    assert pieces[0].endswith(r"<promise\/>") and pieces[2].endswith(r"<\/scope>")
    assert split_main_regex("plain text") == ["plain text"]
    assert split_main_regex("a<promise/>") == ["a<promise/>"]  # no empty piece after the last tag


def test_split_main_regex_rejects_a_tag_inside_a_group() -> None:
    with pytest.raises(ValueError, match="top-level"):
        split_main_regex("(?:a<promise/>|b)c")


def test_describe_uses_the_text_just_before_the_promise() -> None:
    assert describe("\n2. Posture:", "whatever") == "2. Posture:"
    assert describe(" <scope>B:", "A: <scope>B:") == "B:"
    assert describe("", "Intro\n<scope>x</scope>") == "x"
    assert describe("y" * 100, "") == "y" * 80


def test_matched_stop_names_only_our_tags() -> None:
    stops = ("<promise/>", "</scope>")
    assert matched_stop({"finish_reason": {"type": "stop", "matched": "</scope>"}}, stops) == "</scope>"
    assert matched_stop({"finish_reason": {"type": "stop", "matched": "<|im_end|>"}}, stops) is None
    assert matched_stop({"finish_reason": {"type": "stop", "matched": 2}}, stops) is None
    assert matched_stop({"finish_reason": {"type": "length", "length": 8}}, stops) is None
    assert matched_stop({}, stops) is None


def test_cut_at_stop_catches_a_tag_the_server_missed() -> None:
    stops = ("<promise/>", "</scope>")
    assert cut_at_stop("A:", "<promise/>", stops) == ("A:", "<promise/>")  # the server stopped there
    assert cut_at_stop("A: no tag", None, stops) == ("A: no tag", None)
    assert cut_at_stop("A:<promise/> more</scope> x", None, stops) == ("A:", "<promise/>")
    assert cut_at_stop("A:</scope> more<promise/>", "<promise/>", stops) == ("A:", "</scope>")


# -- against the real server ------------------------------------------------------------------
