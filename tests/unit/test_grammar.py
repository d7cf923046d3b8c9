"""The plan regex accepts exactly the valid plans: fixed cases both ways, properties, xgrammar."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from importlib.resources import files

import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

from plato_sgl.core.grammar import (
    is_ascii,
    literal_regex,
    load_plan_grammar,
    node_regex,
    plan_line_pattern,
    plan_regex,
    split_opening,
    warm_up_regexes,
)
from plato_sgl.core.plan import PlanNode
from plato_sgl.core.question_kind import asks_for_code
from tests.helpers import format_plan

MAX_NODES = 6
DESC_MAX = 60


@lru_cache(maxsize=None)
def compiled(max_nodes: int = MAX_NODES, description_max: int = DESC_MAX) -> regex.Pattern[str]:
    return regex.compile(plan_regex(max_nodes, description_max=description_max, sized=False))


def accepts(text: str, max_nodes: int = MAX_NODES, description_max: int = DESC_MAX) -> bool:
    return compiled(max_nodes, description_max).fullmatch(text) is not None


def lines(*rows: str) -> str:
    return "".join(row + "\n" for row in rows)


# -- fixed cases ----------------------------------------------------------------------------

ACCEPTED = {
    "one line": lines("1. Answer the question.[]"),
    "brief example": lines(
        "1. List the health benefits of exercise.[]",
        "2. List the mental benefits of exercise.[]",
        "3. Summarize the benefits into a short answer.[1,2]",
    ),
    "paper shape": lines(
        "1. Fetch GDP data for Country A (2019-2023).[]",
        "2. Fetch GDP data for Country B (2019-2023).[]",
        "3. Calculate average GDP growth for Country A.[1]",
        "4. Calculate average GDP growth for Country B.[2]",
        "5. Compare growth rates, pick the stronger one.[3,4]",
        "6. Recommend an investment strategy.[5]",
    ),
    "chain": lines("1. A.[]", "2. B.[1]", "3. C.[2]", "4. D.[3]"),
    "skipping deps": lines("1. A.[]", "2. B.[]", "3. C.[]", "4. D.[1,3]"),
    "all earlier deps": lines("1. A.[]", "2. B.[1]", "3. C.[1,2]", "4. D.[1,2,3]"),
    "punctuation and unicode": lines('1. Café prices: compare, rank & plot (50%) — "why?"!.[]'),
    "inner spaces and a space before the period": lines("1. A  b .[]"),
    "description at the length bound": lines("1. " + "x" * DESC_MAX + ".[]"),
    "max_nodes lines": lines(*(f"{k}. Step {k}.[{k - 1 if k > 1 else ''}]" for k in range(1, MAX_NODES + 1))),
}

REJECTED = {
    "empty plan": "",
    "self dependency": lines("1. A.[1]"),
    "self dependency later": lines("1. A.[]", "2. B.[1,2]"),
    "forward dependency": lines("1. A.[]", "2. B.[3]", "3. C.[]"),
    "unordered dependencies": lines("1. A.[]", "2. B.[]", "3. C.[2,1]"),
    "duplicate dependency": lines("1. A.[]", "2. B.[1,1]"),
    "dependency 0": lines("1. A.[]", "2. B.[0]"),
    "leading zero in a dependency": lines("1. A.[]", "2. B.[01]"),
    "space in the dependency list": lines("1. A.[]", "2. B.[]", "3. C.[1, 2]"),
    "empty item in the dependency list": lines("1. A.[]", "2. B.[1,]"),
    "skipped id": lines("1. A.[]", "3. C.[1]"),
    "repeated id": lines("1. A.[]", "1. B.[]"),
    "ids not starting at 1": lines("2. A.[]", "3. B.[]"),
    "id 0": lines("0. A.[]"),
    "more lines than max_nodes": lines(*(f"{k}. Step {k}.[]" for k in range(1, MAX_NODES + 2))),
    "description too long": lines("1. " + "x" * (DESC_MAX + 1) + ".[]"),
    "empty description": lines("1. .[]"),
    "description starting with a space": lines("1.  A.[]"),
    "no space after the id": lines("1.A.[]"),
    "'[' in a description": lines("1. A [b].[]"),
    "']' in a description": lines("1. A b].[]"),
    "period in a description": lines("1. Use e.g. this.[]"),
    "newline in a description": "1. A\nB.[]\n",
    "carriage return in a description": lines("1. A\rB.[]"),
    "no period before the list": lines("1. A[]"),
    "space before the list": lines("1. A. []"),
    "missing dependency list": lines("1. A."),
    "missing trailing newline": "1. A.[]\n2. B.[1]",
    "blank line between lines": "1. A.[]\n\n2. B.[1]\n",
    "text after the last line": lines("1. A.[]") + "Done.",
    "windows line ending": "1. A.[]\r\n",
    "markdown bullet": lines("- 1. A.[]"),
}


@pytest.mark.parametrize("text", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepts_valid_plans(text: str) -> None:
    assert accepts(text)


@pytest.mark.parametrize("text", REJECTED.values(), ids=REJECTED.keys())
def test_rejects_invalid_plans(text: str) -> None:
    assert not accepts(text)


def test_model_may_stop_after_any_complete_line() -> None:
    plan = ACCEPTED["paper shape"]
    ends = [i + 1 for i, c in enumerate(plan) if c == "\n"]
    assert all(accepts(plan[:end]) for end in ends)
    assert not any(accepts(plan[: end - 1]) for end in ends)


def test_default_description_bound_comes_from_the_grammar_file() -> None:
    limit = load_plan_grammar().description_max
    pattern = regex.compile(plan_regex(2, sized=False))
    assert pattern.fullmatch(lines("1. " + "y" * limit + ".[]"))
    assert not pattern.fullmatch(lines("1. " + "y" * (limit + 1) + ".[]"))


def test_one_node_and_the_node_limit() -> None:
    limit = load_plan_grammar().max_nodes_limit
    assert regex.fullmatch(plan_regex(1, sized=False), lines("1. A.[]"))
    assert not regex.fullmatch(plan_regex(1, sized=False), lines("1. A.[]", "2. B.[1]"))
    big = lines(*(f"{k}. S.[{','.join(map(str, range(1, k)))}]" for k in range(1, limit + 1)))
    assert regex.fullmatch(plan_regex(limit, sized=False), big)


@pytest.mark.parametrize("bad", [0, -1, 51, 1000, True, 2.5, "10", None])
def test_max_nodes_is_validated(bad: object) -> None:
    with pytest.raises(ValueError, match="max_nodes"):
        plan_regex(bad, sized=False)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -5, 1001, 3.0])
def test_description_max_is_validated(bad: object) -> None:
    with pytest.raises(ValueError, match="description_max"):
        plan_regex(3, description_max=bad)  # type: ignore[arg-type]


def test_regex_size_grows_about_quadratically() -> None:
    sizes = {n: len(plan_regex(n, sized=False)) for n in (10, 20, 40)}
    assert 2 < sizes[20] / sizes[10] < 5 and 2 < sizes[40] / sizes[20] < 5


@pytest.mark.parametrize("name", ["plan.json", "node.json"])
def test_grammar_files_document_every_piece(name: str) -> None:
    data = json.loads(files("plato_sgl.grammars").joinpath(name).read_text(encoding="utf-8"))
    assert data["doc"] and all(piece["doc"] for piece in data.values() if isinstance(piece, dict))


# -- sized plans: the size decision, then exactly that many lines ------------------------------


def test_a_sized_plan_has_exactly_the_lines_its_size_decision_says() -> None:
    pattern = regex.compile(plan_regex(4))
    two = "Parts: 2\n" + lines("1. Causes.[]", "2. Remedies.[1]")
    assert pattern.fullmatch(two)
    assert not pattern.fullmatch("Parts: 2\n" + lines("1. Causes.[]"))  # fewer lines than decided
    assert not pattern.fullmatch("Parts: 1\n" + lines("1. Causes.[]", "2. Remedies.[1]"))  # more
    assert not pattern.fullmatch("Parts: 5\n" + lines(*(f"{k}. S{k}.[]" for k in range(1, 6))))  # above max_nodes
    assert not pattern.fullmatch("Parts: 0\n") and not pattern.fullmatch(lines("1. Causes.[]"))


def test_a_sized_plan_keeps_the_dag_rules() -> None:
    pattern = regex.compile(plan_regex(3))
    assert not pattern.fullmatch("Parts: 2\n" + lines("1. A.[]", "2. B.[2]"))
    assert not pattern.fullmatch("Parts: 2\n" + lines("1. A.[1]", "2. B.[]"))
    assert pattern.fullmatch("Parts: 3\n" + lines("1. A.[]", "2. B.[]", "3. C.[1,2]"))


def test_sized_plans_are_capped_by_the_size_limit() -> None:
    limit = load_plan_grammar().size_limit
    assert plan_regex(limit)
    with pytest.raises(ValueError, match="max_nodes"):
        plan_regex(limit + 1)


def test_a_sized_plan_s_opening_is_split_off_its_regex_to_be_written_into_the_prompt() -> None:
    opening, rest = split_opening(plan_regex(3))
    assert opening == "Parts: " and regex.fullmatch(rest, "2\n" + lines("1. A.[]", "2. B.[1]"))
    forced = literal_regex("Parts: 1\n1. A.[]\n")
    assert split_opening(forced) == ("Parts: ", literal_regex("1\n1. A.[]\n"))
    for whole in (plan_regex(3, sized=False), literal_regex("1. A.[]\n"), literal_regex("Parts: ")):
        assert split_opening(whole) == ("", whole), whole  # no literal opening, or nothing after it
    for quantified in ("Parts: ?1", "Parts: *1", "Parts: {0,2}1"):  # a quantifier on the opening's last character
        assert split_opening(quantified) == ("", quantified)


def test_ascii_descriptions_leave_out_other_scripts_and_heading_marks() -> None:
    pattern = regex.compile(plan_regex(2, ascii=True))
    assert pattern.fullmatch("Parts: 1\n" + lines("1. Costs, risks & trade-offs (2024).[]"))
    for bad in ("1. Other chronic疾病.[]", "1. Benefits: exercise helps.[]", "1. **Benefits**.[]", "1. Café.[]"):
        assert not pattern.fullmatch("Parts: 1\n" + lines(bad)), bad
    assert regex.fullmatch(plan_regex(2), "Parts: 1\n" + lines("1. Café: prix.[]"))  # any script otherwise
    assert is_ascii("How do vaccines work?") and not is_ascii("Comment ça marche ?")


# -- node results: a few sentences or code blocks -----------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Exercise lowers blood pressure. It also helps sleep.",
        "It is 3.5 km long. The team won! Why? Because of training.",
        "Note: this holds. So it does.",
        "Three ways:\n1. Plan (etc.), mostly.\n- Keep a list.\n2. Rest.",
        "Here is the code:\n\n```python\ndef f(x):\n    return x.y\n```",
        "Subject: Joint venture\n\nDear [Name],\nI propose a venture.",  # lines without a closing mark end at the break
        "I propose a venture.\nBest regards,\n",  # the last unit may end at a line break too
    ],
)
def test_node_results_accepted(text: str) -> None:
    assert regex.fullmatch(node_regex(4, ascii=True), text)


@pytest.mark.parametrize(
    "text",
    [
        "Exercise lowers blood pressure. It also",  # cut mid-sentence
        "Introduction to the knight.",  # one sentence: at least two
        "```python\nx = 1\n```",  # no code block unless the question is about code (code=False below)
        "A. B. C. D. E.",  # five sentences
        " Leading space.",
        "Line one.\n\n\nToo many newlines.",
        "Other chronic疾病.",
        "Tasks first.using a tool helps.",  # glued on after the last sentence
        "Plan your week. It is 3.5 km.",  # the last sentence cannot continue after a mark: it ends there
        "Dear [Name],\nHi.\nOne. Two. Three.",  # a line break ends a unit, and each counts
        "Dear [Name],\n\n\nHi.",
        "12. 5 things.",  # a number opens a sentence only as a list marker
    ],
)
def test_node_results_rejected(text: str) -> None:
    assert not regex.fullmatch(node_regex(4, ascii=True, code=False), text)


def test_node_regex_in_any_script() -> None:
    assert regex.fullmatch(node_regex(2), "运动有益健康。它能降低血压。")
    assert not regex.fullmatch(node_regex(1), "运动有益健康。它能降低血压。")


def test_warm_up_lists_the_default_runs_regexes() -> None:
    from plato_sgl.core.options import Options

    defaults = Options()  # 6 parts at most: shares of 256 tokens (up to 3 parts) hold 4 sentences, 192 (4) 3, less 2
    assert warm_up_regexes() == [
        split_opening(plan_regex(defaults.max_nodes, ascii=True))[1],  # what the plan request is sent with
        *(node_regex(count, ascii=True, code=code) for count in (4, 3, 2) for code in (False, True)),
    ]
    assert warm_up_regexes(3)[1:] == [node_regex(4, ascii=True, code=False), node_regex(4, ascii=True, code=True)]


def test_code_blocks_only_where_the_question_is_about_code() -> None:
    block = "Here it is:\n\n```python\nx = 1\n```"
    assert regex.fullmatch(node_regex(3, ascii=True, code=True), block)
    assert not regex.fullmatch(node_regex(3, ascii=True, code=False), block)
    assert asks_for_code("Implement a binary search algorithm in Python.")
    assert asks_for_code("Write a C++ program to read a file.")
    assert not asks_for_code("How can I improve my time management skills?")


LITERAL_PLAN = "1. Odd chars: ^$*+?{2}|\\/ (a) \t x.[]\n2. B.[1]\n"


def test_literal_regex_matches_only_its_text() -> None:
    assert regex.fullmatch(literal_regex(LITERAL_PLAN), LITERAL_PLAN)
    assert not regex.fullmatch(literal_regex(LITERAL_PLAN), LITERAL_PLAN.replace("{2}", "{22}"))


def test_line_pattern_reads_the_parts_of_a_line() -> None:
    match = plan_line_pattern().fullmatch("12. Compare (a, b).[3,11]")
    assert match and (match["id"], match["description"], match["deps"]) == ("12", "Compare (a, b)", "3,11")


# -- properties -----------------------------------------------------------------------------

FIRST_CHARS = st.characters(exclude_characters=" \t\n\r[].", exclude_categories=("Cs",))
CHARS = st.characters(exclude_characters="\n\r[].", exclude_categories=("Cs",))
DESCRIPTIONS = st.builds(str.__add__, FIRST_CHARS, st.text(CHARS, max_size=DESC_MAX - 1))


@st.composite
def valid_plans(draw: st.DrawFn, max_nodes: int = MAX_NODES) -> list[PlanNode]:
    """A random plan that satisfies every rule: ids 1..n, increasing deps on earlier ids."""
    count = draw(st.integers(1, max_nodes))
    return [
        PlanNode(k, draw(DESCRIPTIONS), tuple(sorted(draw(st.sets(st.integers(1, k - 1)))) if k > 1 else ()))
        for k in range(1, count + 1)
    ]


def _with_line(nodes: list[PlanNode], index: int, **changes: object) -> list[PlanNode]:
    return nodes[:index] + [replace(nodes[index], **changes)] + nodes[index + 1 :]


def _mutations(data: st.DataObject, nodes: list[PlanNode]) -> dict[str, object]:
    """Ways to break exactly one rule of this plan (only those that apply), as plan texts."""
    index = data.draw(st.integers(0, len(nodes) - 1), label="line")
    node = nodes[index]
    text = format_plan(nodes)
    out: dict[str, object] = {
        "self dependency": lambda: format_plan(_with_line(nodes, index, deps=node.deps + (node.id,))),
        "forward dependency": lambda: format_plan(
            _with_line(nodes, index, deps=node.deps + (node.id + data.draw(st.integers(1, 5)),))
        ),
        "skipped id": lambda: format_plan(
            nodes[:index] + [PlanNode(n.id + 1, n.description, n.deps) for n in nodes[index:]]
        ),
        "ids not starting at 1": lambda: format_plan(
            [PlanNode(n.id + data.draw(st.sampled_from([-1, 1, 2])), n.description, n.deps) for n in nodes]
        ),
        "repeated line": lambda: format_plan(nodes[: index + 1] + [node] + nodes[index + 1 :]),
        "too many lines": lambda: format_plan(
            nodes + [PlanNode(k, "More", ()) for k in range(len(nodes) + 1, MAX_NODES + 2)]
        ),
        "description too long": lambda: format_plan(
            _with_line(nodes, index, description=node.description + "z" * DESC_MAX)
        ),
        "forbidden character in a description": lambda: format_plan(
            _with_line(
                nodes,
                index,
                description=_insert(data, node.description, data.draw(st.sampled_from("[].\n\r"))),
            )
        ),
        "description starting with a space": lambda: format_plan(
            _with_line(nodes, index, description=" " + node.description)
        ),
        "space in the dependency list": lambda: text.replace("[", "[ ", 1),
        "missing trailing newline": lambda: text[:-1],
        "blank line": lambda: format_plan(nodes[: index + 1]) + "\n" + format_plan(nodes[index + 1 :]),
        "empty plan": lambda: "",
    }
    if node.deps:
        out["duplicate dependency"] = lambda: format_plan(_with_line(nodes, index, deps=node.deps + node.deps[-1:]))
    if len(node.deps) >= 2:
        out["unordered dependencies"] = lambda: format_plan(
            _with_line(nodes, index, deps=(node.deps[1], node.deps[0]) + node.deps[2:])
        )
    return out


def _insert(data: st.DataObject, text: str, char: str) -> str:
    at = data.draw(st.integers(0, len(text)), label="position")
    return text[:at] + char + text[at:]


@given(valid_plans())
def test_valid_plans_always_match(nodes: list[PlanNode]) -> None:
    assert accepts(format_plan(nodes))


@given(valid_plans(), st.data())
def test_a_broken_rule_never_matches(nodes: list[PlanNode], data: st.DataObject) -> None:
    mutations = _mutations(data, nodes)
    name = data.draw(st.sampled_from(sorted(mutations)), label="mutation")
    text = mutations[name]()
    assert not accepts(text), (name, text)


# -- xgrammar -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xgrammar_compiler():
    xgr = pytest.importorskip("xgrammar")
    vocab = [chr(c) for c in range(32, 127)] + ["\n", "é", ".[", "],", " the", "</s>"]
    info = xgr.TokenizerInfo(vocab, stop_token_ids=[len(vocab) - 1])
    return xgr, xgr.GrammarCompiler(info, max_threads=1), len(vocab) - 1


@pytest.mark.parametrize("max_nodes", [10, 20])
def test_xgrammar_compiles_the_regex(xgrammar_compiler, max_nodes: int) -> None:
    xgr, compiler, _ = xgrammar_compiler
    assert compiler.compile_regex(plan_regex(max_nodes, sized=False)) is not None


def test_xgrammar_agrees_with_python_regex(xgrammar_compiler) -> None:
    """Both dialects read the regex the same way on the fixed cases (as a whole plan)."""
    xgr, compiler, stop = xgrammar_compiler
    grammar = compiler.compile_regex(plan_regex(MAX_NODES, description_max=DESC_MAX, sized=False))

    def xgrammar_accepts(text: str) -> bool:
        matcher = xgr.GrammarMatcher(grammar)
        return matcher.accept_string(text) and matcher.accept_token(stop)

    for name, text in ACCEPTED.items():
        assert xgrammar_accepts(text), name
    for name, text in REJECTED.items():
        assert not xgrammar_accepts(text), name


def test_xgrammar_agrees_with_python_regex_on_sized_plans_and_node_results(xgrammar_compiler) -> None:
    xgr, compiler, stop = xgrammar_compiler

    def agree(pattern: str, texts: list[str]) -> None:
        grammar = compiler.compile_regex(pattern)
        for text in texts:
            matcher = xgr.GrammarMatcher(grammar)
            ours = matcher.accept_string(text) and matcher.accept_token(stop)
            assert ours == (regex.fullmatch(pattern, text) is not None), text

    agree(
        plan_regex(3, ascii=True),
        ["Parts: 2\n1. A b.[]\n2. C.[1]\n", "Parts: 2\n1. A b.[]\n", "Parts: 1\n1. A: b.[]\n"],
    )
    agree(
        node_regex(2, ascii=True),
        [
            "It is 3.5 km. Yes!",
            "One. Two. Three.",
            "No end",
            "Code:\n\n```py\nx = 1\n```",
            "Ways:\n1. One.",
            "A 3.5 b.",
            "Dear Sam,\nThanks.",
            "Dear Sam,\n",
            "Dear Sam,\nA.\nB.",
        ],
    )


def test_xgrammar_reads_a_literal_plan_as_python_does(xgrammar_compiler) -> None:
    xgr, compiler, stop = xgrammar_compiler
    matcher = xgr.GrammarMatcher(compiler.compile_regex(literal_regex(LITERAL_PLAN)))
    assert matcher.accept_string(LITERAL_PLAN) and matcher.accept_token(stop)
