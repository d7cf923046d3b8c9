"""Plan nodes and DAG metrics on fixed shapes: chain, fully parallel, diamond, the paper's example."""

from __future__ import annotations

import pytest

from plato_sgl.core.parser import parse_plan
from plato_sgl.core.plan import (
    PlanNode,
    critical_path,
    format_plan_line,
    parallel_degree,
    ready_nodes,
    validate_dag,
)
from tests.helpers import format_plan


def dag(*deps: tuple[int, ...]) -> list[PlanNode]:
    """Nodes 1..n with the given dependency tuples."""
    return [PlanNode(k, f"Step {k}", d) for k, d in enumerate(deps, start=1)]


CHAIN = dag((), (1,), (2,), (3,))
PARALLEL = dag((), (), (), ())
DIAMOND = dag((), (1,), (1,), (2, 3))
# Paper appendix B: 1-2 and 3-4 in parallel, then 5 and 6 (its "[1]" self-dependencies fixed).
PAPER = dag((), (), (1,), (2,), (3, 4), (5,))
SHAPES = {
    "chain": (CHAIN, 4, 1.0),
    "fully parallel": (PARALLEL, 1, 4.0),
    "diamond": (DIAMOND, 3, 4 / 3),
    "paper example": (PAPER, 4, 1.5),
    "single node": (dag(()), 1, 1.0),
    "empty": ([], 0, 0.0),
}


@pytest.mark.parametrize(("nodes", "path", "degree"), SHAPES.values(), ids=SHAPES.keys())
def test_critical_path_and_parallel_degree(nodes: list[PlanNode], path: int, degree: float) -> None:
    assert critical_path(nodes) == path
    assert parallel_degree(nodes) == pytest.approx(degree)


def test_metrics_do_not_depend_on_node_order() -> None:
    assert critical_path(list(reversed(PAPER))) == 4


def test_format_plan_line_is_the_inverse_of_parsing() -> None:
    node = PlanNode(5, "Compare growth rates (A, B)", (3, 4))
    assert format_plan_line(node) == "5. Compare growth rates (A, B).[3,4]\n"
    assert format_plan_line(PlanNode(1, "Start")) == "1. Start.[]\n"
    assert parse_plan(format_plan(PAPER)) == (PAPER, [])


def test_ready_nodes_follow_the_dependencies() -> None:
    assert [n.id for n in ready_nodes(DIAMOND, set(), set())] == [1]
    assert [n.id for n in ready_nodes(DIAMOND, {1}, {1})] == [2, 3]
    assert [n.id for n in ready_nodes(DIAMOND, {1, 2}, {1, 2, 3})] == []
    assert [n.id for n in ready_nodes(DIAMOND, {1, 2, 3}, {1, 2, 3})] == [4]
    assert ready_nodes(DIAMOND, {1, 2, 3, 4}, {1, 2, 3, 4}) == []


def test_ready_nodes_are_in_id_order_and_skip_dispatched() -> None:
    assert [n.id for n in ready_nodes(list(reversed(PAPER)), set(), set())] == [1, 2]
    assert [n.id for n in ready_nodes(PAPER, set(), {1})] == [2]
    assert [n.id for n in ready_nodes(PARALLEL, set(), {2})] == [1, 3, 4]


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        (dag((), (2,)), "node 2 .*itself"),
        (dag((), (3,), ()), "node 2 .*forward dependency on node 3"),
        ([PlanNode(1, "A"), PlanNode(3, "C", (2,))], "node 3 .*unknown dependency on node 2"),
        ([PlanNode(1, "A"), PlanNode(1, "B")], "node 1 .*duplicate id"),
    ],
)
def test_validate_dag_names_the_offending_node(nodes: list[PlanNode], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_dag(nodes)
    with pytest.raises(ValueError, match=message):
        critical_path(nodes)


def test_validate_dag_accepts_valid_shapes() -> None:
    for nodes, _, _ in SHAPES.values():
        validate_dag(nodes)


def test_chain_below_counts_how_much_of_the_plan_waits_behind_a_node():
    from plato_sgl.core.plan import chain_below

    nodes = [PlanNode(1, "a"), PlanNode(2, "b"), PlanNode(3, "c", (1,)), PlanNode(4, "d", (3,)), PlanNode(5, "e", (2,))]
    assert chain_below(nodes) == {1: 3, 2: 2, 3: 2, 4: 1, 5: 1}


def test_admit_caps_nodes_while_the_plan_streams_critical_path_first():
    from plato_sgl.core.plan import admit

    nodes = [PlanNode(1, "a"), PlanNode(2, "b"), PlanNode(3, "c"), PlanNode(4, "d", (2,))]
    ready = nodes[:3]
    assert admit(ready, nodes, running=0, cap=None, streaming=True) == ready  # no cap
    assert [n.id for n in admit(ready, nodes, running=0, cap=2, streaming=True)] == [1, 2]  # 2 has node 4 behind it
    assert [n.id for n in admit(ready, nodes[:4], running=1, cap=2, streaming=True)] == [2]
    assert admit(ready, nodes, running=2, cap=2, streaming=True) == []
    assert admit(ready, nodes, running=5, cap=2, streaming=False) == ready  # the plan has ended: no cap
