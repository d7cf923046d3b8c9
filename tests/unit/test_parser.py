"""The streaming plan parser: strict and tolerant modes, chunking invariance, repairs, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plato_sgl.core.errors import PlanFormatError
from plato_sgl.core.parser import PlanParser, description_key, parse_plan
from plato_sgl.core.plan import PlanNode, validate_dag
from tests.helpers import format_plan

PLAN = "1. List the health benefits.[]\n2. List the mental benefits.[]\n3. Summarize them.[1,2]\n"
PLAN_NODES = [
    PlanNode(1, "List the health benefits"),
    PlanNode(2, "List the mental benefits"),
    PlanNode(3, "Summarize them", (1, 2)),
]


def feed_chunks(parser: PlanParser, chunks: list[str]) -> list[list[PlanNode]]:
    """What each feed() returned, then what close() returned."""
    return [parser.feed(chunk) for chunk in chunks] + [parser.close()]


# -- strict ---------------------------------------------------------------------------------


def test_strict_parses_a_plan() -> None:
    assert parse_plan(PLAN) == (PLAN_NODES, [])


def test_strict_emits_a_node_at_its_closing_bracket() -> None:
    parser = PlanParser()
    assert parser.feed("1. List the health benefits.[") == []
    assert parser.feed("]") == PLAN_NODES[:1]
    assert parser.feed("\n2. List the mental benefits.[]\n3. Summarize them.[1,") == PLAN_NODES[1:2]
    assert parser.feed("2]") == PLAN_NODES[2:]
    assert parser.feed("\n") == [] and parser.close() == []
    assert parser.nodes == PLAN_NODES and parser.repairs == [] and parser.text == PLAN


def test_strict_drops_a_cut_off_last_line_as_a_repair() -> None:
    parser = PlanParser()
    parser.feed(PLAN + "4. Conclude wi")
    assert parser.close() == []
    assert parser.nodes == PLAN_NODES
    assert parser.repairs == ["line 4: dropped incomplete last line '4. Conclude wi'"]


def test_strict_keeps_a_last_line_cut_after_its_bracket() -> None:
    assert parse_plan(PLAN.rstrip("\n")) == (PLAN_NODES, [])


BROKEN_LINES = {
    "text after the bracket": ("1. A.[]x", 1),
    "line without a dependency list": ("1. A.[]\n2. B\n", 2),
    "blank line": ("1. A.[]\n\n", 2),
    "carriage return": ("1. A.[]\r\n", 1),
    "id out of order": ("1. A.[]\n3. C.[1]", 2),
    "first id not 1": ("2. A.[]", 1),
    "self dependency": ("1. A.[]\n2. B.[2]", 2),
    "forward dependency": ("1. A.[]\n2. B.[3]", 2),
    "unordered dependencies": ("1. A.[]\n2. B.[]\n3. C.[2,1]", 3),
    "duplicate dependency": ("1. A.[]\n2. B.[1,1]", 2),
    "space in the dependency list": ("1. A.[]\n2. B.[ 1]", 2),
    "bracket in a description": ("1. A [x].[]", 1),
    "period in a description": ("1. Use e.g. this.[]", 1),
    "description starting with a space": ("1.  A.[]", 1),
    "markdown": ("**1.** A.[]", 1),
}


@pytest.mark.parametrize(("text", "line"), BROKEN_LINES.values(), ids=BROKEN_LINES.keys())
def test_strict_raises_on_a_broken_line_naming_it(text: str, line: int) -> None:
    with pytest.raises(PlanFormatError, match=f"^plan line {line}: "):
        parse_plan(text)


# -- tolerant -------------------------------------------------------------------------------

VARIANTS = {
    "canonical": ("1. Do A.[]", PlanNode(1, "Do A")),
    "leading whitespace": ("   1. Do A.[]", PlanNode(1, "Do A")),
    "bullet": ("- 1. Do A.[]", PlanNode(1, "Do A")),
    "bold id": ("**1.** Do A. []", PlanNode(1, "Do A")),
    "bold description": ("1. **Do A**.[]", PlanNode(1, "Do A")),
    "heading": ("### Step 1: Do A", PlanNode(1, "Do A")),
    "parenthesis": ("1) Do A [ ]", PlanNode(1, "Do A")),
    "colon": ("1: Do A.[none]", PlanNode(1, "Do A")),
    "step": ("Step 1: Do A.", PlanNode(1, "Do A")),
    "subtask dash": ("Subtask 1 - Do A (dependencies: none)", PlanNode(1, "Do A")),
    "no space after the id": ("1.Do A.[]", PlanNode(1, "Do A")),
    "no trailing period": ("1. Do A[]", PlanNode(1, "Do A")),
    "periods in the description": ("1. Use e.g. the U.S. data.[]", PlanNode(1, "Use e.g. the U.S. data")),
    "brackets in the description": ("1. Solve f[x] = 0.[]", PlanNode(1, "Solve f[x] = 0")),
    "spaced list": ("3. Do C. [ 1 , 2 ]", PlanNode(3, "Do C", (1, 2))),
    "list with and": ("3. Do C [1 and 2].", PlanNode(3, "Do C", (1, 2))),
    "labelled list": ("3. Do C (depends on 1, 2)", PlanNode(3, "Do C", (1, 2))),
    "bracketed label": ("3. Do C [deps: 2]", PlanNode(3, "Do C", (2,))),
    "windows line ending": ("3. Do C.[1,2]\r", PlanNode(3, "Do C", (1, 2))),
}


@pytest.mark.parametrize(("line", "node"), VARIANTS.values(), ids=VARIANTS.keys())
def test_tolerant_reads_format_variants(line: str, node: PlanNode) -> None:
    prefix = "" if node.id == 1 else "1. A.[]\n2. B.[]\n"
    nodes, _ = parse_plan(prefix + line + "\n", tolerant=True)
    assert nodes[-1] == node


def test_tolerant_emits_at_the_newline_or_at_close() -> None:
    parser = PlanParser(tolerant=True)
    assert parser.feed("1. A.[]") == []
    assert parser.feed("\n2. B.[1]") == [PlanNode(1, "A")]
    assert parser.close() == [PlanNode(2, "B", (1,))]


def test_tolerant_reads_a_canonical_plan_without_repairs() -> None:
    assert parse_plan(PLAN, tolerant=True) == (PLAN_NODES, [])


REPAIRS = {
    "not a plan line": ("Here is the plan:\n1. A.[]\n", "line 1: skipped, not a plan line: 'Here is the plan:'"),
    "format variant": ("1) A [ ]\n", "line 1: read '1) A [ ]' as '1. A.[]'"),
    "no dependency list": ("1. A\n", "line 1: no dependency list; assumed none"),
    "unclosed list": ("1. A.[]\n2. B.[1,", "line 2: unclosed dependency list"),
    "self dependency": ("1. A.[1]\n", "line 1: node 1: dropped self dependency on 1"),
    "forward dependency": ("1. A.[]\n2. B.[3]\n", "line 2: node 2: dropped forward dependency on 3"),
    "unknown dependency": ("1. A.[]\n3. C.[2]\n", "line 2: node 3: dropped unknown dependency on 2"),
    "repeated dependency": ("1. A.[]\n2. B.[1,1]\n", "line 2: node 2: dropped repeated dependency on 1"),
    "unordered dependencies": ("1. A.[]\n2. B.[]\n3. C.[2,1]\n", "line 3: node 3: dependencies sorted"),
    "duplicate id": (
        "1. A.[]\n1. B.[]\n",
        "line 2: id 1 repeats an earlier node; merged into it (descriptions joined, dependencies unioned)",
    ),
}


@pytest.mark.parametrize(("text", "repair"), REPAIRS.values(), ids=REPAIRS.keys())
def test_tolerant_records_each_kind_of_repair(text: str, repair: str) -> None:
    assert repair in parse_plan(text, tolerant=True)[1]


def test_tolerant_merges_a_duplicate_id_into_the_emitted_node_and_emits_it_again() -> None:
    parser = PlanParser(tolerant=True)
    assert parser.feed("1. A.[]\n2. B.[]\n3. C.[1]\n") == [PlanNode(1, "A"), PlanNode(2, "B"), PlanNode(3, "C", (1,))]
    # the merged node comes back, so the scheduler can wait for the dependency the repeat added
    assert parser.feed("3. More C.[2,3,5]\n4. D.[3]\n") == [PlanNode(3, "C; More C", (1, 2)), PlanNode(4, "D", (3,))]
    assert parser.nodes == [
        PlanNode(1, "A"),
        PlanNode(2, "B"),
        PlanNode(3, "C; More C", (1, 2)),
        PlanNode(4, "D", (3,)),
    ]
    assert "line 4: node 3: dropped self dependency on 3" in parser.repairs
    assert "line 4: node 3: dropped forward dependency on 5" in parser.repairs


def test_tolerant_does_not_repeat_the_description_of_a_repeated_line() -> None:
    nodes, _ = parse_plan("1. A.[]\n1. A.[]\n", tolerant=True)
    assert nodes == [PlanNode(1, "A")]


def test_tolerant_ignores_blank_lines_silently() -> None:
    assert parse_plan("\n\n1. A.[]\n  \n\n2. B.[1]\n\n", tolerant=True) == (
        [PlanNode(1, "A"), PlanNode(2, "B", (1,))],
        [],
    )


def test_tolerant_skips_lines_that_only_look_numbered() -> None:
    text = "2019-2023 figures are below.\n1.5 liters of water.\n12345678901. Too big an id.[]\n1. Real.[]\n"
    nodes, repairs = parse_plan(text, tolerant=True)
    assert nodes == [PlanNode(1, "Real")]
    assert sum("skipped" in r for r in repairs) == 3


# Hand-written, realistic outputs of models that were not decoding under the regex.
CHATTY_MARKDOWN = """Sure! Here's a plan to answer the question:

**Plan:**
1. **Define photosynthesis** and its overall equation. [ ]
2. **Explain the light-dependent reactions**, e.g. how ATP and NADPH are made. [1]
3. **Explain the Calvin cycle**. [1]
4. **Summarize** how both stages work together. [2, 3]

Note: steps 2 and 3 can run in parallel.
"""

PAPER_EXAMPLE_COPY = """1. Fetch GDP data for Country A (2019-2023).[1]
2. Fetch GDP data for Country B (2019-2023).[1]
3. Calculate average GDP growth for Country A.[1]
4. Calculate average GDP growth for Country B.[2]
5. Compare growth rates and identify higher-performing country.[3,4]
6. Recommend investment strategy based on comparison.[5]

Note: Subtasks 1-2 and 3-4 can run in parallel; 1/2-3/4-5-6 form the critical path."""

STEPS_CUT_OFF = """```
Step 1: Identify the main causes of World War I (Dependencies: none)
Step 2: Describe the alliance system (depends on 1)
Step 3: Explain the assassination in Sarajevo. [1]
Step 2: Describe how the alliances escalated the crisis [1, 4]
Step 4: Summarize how these led to war [2, 3]
Step 5: Conclude with a short answer [4"""

MESSY = {
    "chatty markdown": (
        CHATTY_MARKDOWN,
        [
            PlanNode(1, "Define photosynthesis and its overall equation"),
            PlanNode(2, "Explain the light-dependent reactions, e.g. how ATP and NADPH are made", (1,)),
            PlanNode(3, "Explain the Calvin cycle", (1,)),
            PlanNode(4, "Summarize how both stages work together", (2, 3)),
        ],
        [
            "line 1: skipped, not a plan line: \"Sure! Here's a plan",
            "line 3: skipped, not a plan line: '**Plan:**'",
            "line 9: skipped, not a plan line: 'Note: steps 2 and 3",
        ],
    ),
    "paper example copied with its self dependency": (
        PAPER_EXAMPLE_COPY,
        [
            PlanNode(1, "Fetch GDP data for Country A (2019-2023)"),
            PlanNode(2, "Fetch GDP data for Country B (2019-2023)", (1,)),
            PlanNode(3, "Calculate average GDP growth for Country A", (1,)),
            PlanNode(4, "Calculate average GDP growth for Country B", (2,)),
            PlanNode(5, "Compare growth rates and identify higher-performing country", (3, 4)),
            PlanNode(6, "Recommend investment strategy based on comparison", (5,)),
        ],
        ["line 1: node 1: dropped self dependency on 1", "line 8: skipped, not a plan line: 'Note:"],
    ),
    "steps with a duplicate, a forward dependency and a cut-off end": (
        STEPS_CUT_OFF,
        [
            PlanNode(1, "Identify the main causes of World War I"),
            PlanNode(2, "Describe the alliance system; Describe how the alliances escalated the crisis", (1,)),
            PlanNode(3, "Explain the assassination in Sarajevo", (1,)),
            PlanNode(4, "Summarize how these led to war", (2, 3)),
            PlanNode(5, "Conclude with a short answer", (4,)),
        ],
        [
            "line 1: skipped, not a plan line: '```'",
            "line 5: node 2: dropped forward dependency on 4",
            "line 5: id 2 repeats an earlier node; merged",
            "line 7: unclosed dependency list",
        ],
    ),
}


@pytest.mark.parametrize(("text", "nodes", "repairs"), MESSY.values(), ids=MESSY.keys())
def test_tolerant_reads_messy_model_output(text: str, nodes: list[PlanNode], repairs: list[str]) -> None:
    got_nodes, got_repairs = parse_plan(text, tolerant=True)
    assert got_nodes == nodes
    for repair in repairs:
        assert any(repair in r for r in got_repairs), (repair, got_repairs)
    validate_dag(got_nodes)


# -- properties -----------------------------------------------------------------------------

# Trailing spaces are left out: strict mode keeps them, tolerant mode trims them (as a repair).
DESCRIPTIONS = st.from_regex(r"[A-Za-z(](?:[A-Za-z0-9 ,()'é-]{0,20}[A-Za-z0-9()'é-])?", fullmatch=True)


@st.composite
def plan_texts(draw: st.DrawFn) -> str:
    """A plan the regex would accept, without repeated descriptions (the parser drops those)."""
    count = draw(st.integers(1, 8))
    descriptions = draw(st.lists(DESCRIPTIONS, min_size=count, max_size=count, unique_by=description_key))
    return format_plan(
        PlanNode(k, descriptions[k - 1], tuple(sorted(draw(st.sets(st.integers(1, k - 1)))) if k > 1 else ()))
        for k in range(1, count + 1)
    )


PLAN_LIKE_LINES = st.from_regex(
    r"[ \t]*(?:- |\*\*|## )?(?:Step |\()?\d{1,2}(?:\.|\)|:|\*\*)? ?[A-Za-z .,é\[\]]{0,15}"
    r"(?:\.?\[[\d, ]{0,6}\]?|\(depends on [\d, ]{0,5}\))?\.?\r?",
    fullmatch=True,
)
MESSY_TEXTS = st.lists(st.one_of(PLAN_LIKE_LINES, st.text(max_size=30)), max_size=12).map("\n".join)


def chunked(data: st.DataObject, text: str) -> list[str]:
    """``text`` split at random places (any place: inside numbers, between '.' and '[', ...)."""
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(text) - 1)), max_size=len(text)), label="cuts"))
    bounds = [0, *(c for c in cuts if c < len(text)), len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:])]


@given(plan_texts(), st.data())
def test_strict_any_chunking_gives_the_same_nodes_at_their_brackets(text: str, data: st.DataObject) -> None:
    chunks = chunked(data, text)
    parser = PlanParser()
    emitted = feed_chunks(parser, chunks)
    assert parser.nodes == parse_plan(text)[0] and parser.text == text
    bracket_chunk = [index for index, chunk in enumerate(chunks) for _ in range(chunk.count("]"))]
    assert [i for i, nodes in enumerate(emitted) for _ in nodes] == bracket_chunk


@given(plan_texts(), st.data())
def test_tolerant_any_chunking_gives_the_same_nodes(text: str, data: st.DataObject) -> None:
    parser = PlanParser(tolerant=True)
    emitted = feed_chunks(parser, chunked(data, text))
    assert parser.nodes == sum(emitted, []) == parse_plan(text)[0]
    assert parse_plan(text, tolerant=True) == (parser.nodes, [])


@given(MESSY_TEXTS, st.data())
def test_tolerant_never_raises_and_always_yields_a_dag(text: str, data: st.DataObject) -> None:
    parser = PlanParser(tolerant=True)
    emitted = feed_chunks(parser, chunked(data, text))
    assert (parser.nodes, parser.repairs) == parse_plan(text, tolerant=True)
    assert {n.id for n in sum(emitted, [])} == {n.id for n in parser.nodes}
    validate_dag(parser.nodes)
    assert all(n.description for n in parser.nodes)


@given(st.text(max_size=200), st.data())
def test_strict_only_raises_plan_format_errors(text: str, data: st.DataObject) -> None:
    parser = PlanParser()
    try:
        feed_chunks(parser, chunked(data, text))
    except PlanFormatError:
        return
    validate_dag(parser.nodes)


# -- sized plans and repeated lines -----------------------------------------------------------


def test_strict_reads_the_size_decision_and_no_node_from_it():
    parser = PlanParser()
    assert parser.feed("Parts: 2\n1. Causes.[]") == [PlanNode(1, "Causes", ())]
    assert parser.size == 2
    assert parser.feed("\n2. Remedies.[1]\n") == [PlanNode(2, "Remedies", (1,))]


def test_a_size_no_further_digit_can_keep_within_the_largest_is_read_at_its_digit():
    parser = PlanParser(max_size=6)
    assert parser.feed("Parts: ") == [] and parser.size is None
    parser.feed("1")
    assert parser.size == 1  # "10" would be over 6: decided before the newline
    assert parser.feed("\n1. Causes.[]\n") == [PlanNode(1, "Causes", ())] and parser.size == 1
    wide = PlanParser(max_size=12)
    wide.feed("Parts: 1")
    assert wide.size is None  # "10" to "12" are still possible
    wide.feed("2")
    assert wide.size == 12
    late = PlanParser(max_size=12)
    late.feed("Parts: 1\n")
    assert late.size == 1
    unbounded = PlanParser()
    unbounded.feed("Parts: 3")
    assert unbounded.size is None  # no largest size given: read at the newline
    unbounded.feed("\n")
    assert unbounded.size == 3


def test_a_size_line_after_the_first_line_is_a_format_error():
    with pytest.raises(PlanFormatError):
        parse_plan("1. Causes.[]\nParts: 2\n")


def test_a_repeated_description_is_dropped_and_later_dependencies_point_to_the_first():
    text = "Parts: 4\n1. Improved mood.[]\n2. Better sleep.[]\n3. improved  mood.[]\n4. Summary.[2,3]\n"
    for tolerant in (False, True):
        nodes, repairs = parse_plan(text, tolerant=tolerant)
        assert [(n.id, n.deps) for n in nodes] == [(1, ()), (2, ()), (4, (1, 2))]
        assert any("dropped node 3" in r and "repeat of node 1" in r for r in repairs)


def test_strict_trims_a_description_cut_at_the_length_bound():
    nodes, _ = parse_plan("1. Factors such as income,  .[]\n")
    assert nodes[0].description == "Factors such as income"


def test_tolerant_reads_a_size_line_without_a_repair():
    parser = PlanParser(tolerant=True)
    parser.feed("**Parts:** 3\n1. A.[]\n")
    assert parser.size == 3 and parser.repairs == [] and [n.id for n in parser.nodes] == [1]
