"""Plan nodes and the DAG arithmetic the scheduler and the report need.

A plan is a list of PlanNode; node ``k`` may depend only on nodes with smaller ids (the plan
grammar's rule), which makes every valid plan a DAG whose id order is a topological order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from plato_sgl.core.grammar import load_plan_grammar


@dataclass(frozen=True)
class PlanNode:
    """One sub-task: its id, its description (without the closing period) and its dependency ids."""

    id: int
    description: str
    deps: tuple[int, ...] = ()


def format_plan_line(node: PlanNode) -> str:
    """The plan line for ``node``, newline included: ``<id>. <description>.[<deps>]\\n``.

    The inverse of parsing: ``parse_plan(format_plan_line(n))`` gives back ``n``.
    """
    g = load_plan_grammar()
    deps = g.deps_separator.join(str(d) for d in node.deps)
    return (
        f"{node.id}{g.id_separator}{node.description}{g.description_end}{g.deps_open}{deps}{g.deps_close}{g.line_end}"
    )


def validate_dag(nodes: Sequence[PlanNode]) -> None:
    """Raise ValueError naming the first offending node: duplicate id, self, forward or unknown dep.

    Dependencies only on existing, smaller ids make a plan acyclic.
    """
    ids: set[int] = set()
    for node in nodes:
        if node.id in ids:
            raise ValueError(f"node {node.id} ({node.description!r}): duplicate id")
        ids.add(node.id)
    for node in nodes:
        for dep in node.deps:
            if dep == node.id:
                problem = "depends on itself"
            elif dep > node.id:
                problem = f"forward dependency on node {dep}"
            elif dep not in ids:
                problem = f"unknown dependency on node {dep}"
            else:
                continue
            raise ValueError(f"node {node.id} ({node.description!r}): {problem}")


def critical_path(nodes: Sequence[PlanNode]) -> int:
    """Number of nodes on the longest dependency chain (0 for no nodes); validates the DAG first."""
    validate_dag(nodes)
    depth: dict[int, int] = {}
    for node in sorted(nodes, key=lambda n: n.id):  # deps have smaller ids: already measured
        depth[node.id] = 1 + max((depth[d] for d in node.deps), default=0)
    return max(depth.values(), default=0)


def parallel_degree(nodes: Sequence[PlanNode]) -> float:
    """Nodes / critical path, the paper's parallelism degree (section 5.4); 0.0 for no nodes."""
    path = critical_path(nodes)
    return len(nodes) / path if path else 0.0


def ready_nodes(nodes: Iterable[PlanNode], finished: set[int], dispatched: set[int]) -> list[PlanNode]:
    """Nodes not yet dispatched whose dependencies are all finished, in id order."""
    return sorted(
        (n for n in nodes if n.id not in dispatched and finished.issuperset(n.deps)),
        key=lambda n: n.id,
    )


def chain_below(nodes: Sequence[PlanNode]) -> dict[int, int]:
    """For each node, the number of nodes on the longest chain that starts at it and runs through
    nodes depending on it (1 for a node nothing depends on): how much of the plan waits behind it."""
    children: dict[int, list[int]] = {n.id: [] for n in nodes}
    for n in nodes:
        for dep in n.deps:
            children.setdefault(dep, []).append(n.id)
    depth: dict[int, int] = {}
    for n in sorted(nodes, key=lambda n: n.id, reverse=True):  # dependencies point backwards
        depth[n.id] = 1 + max((depth[c] for c in children[n.id] if c in depth), default=0)
    return depth


def admit(
    ready: Sequence[PlanNode], nodes: Sequence[PlanNode], running: int, cap: int | None, streaming: bool
) -> list[PlanNode]:
    """Which of the ``ready`` nodes to start now (in id order). While the plan is ``streaming`` and
    ``cap`` is set, at most ``cap`` nodes run at once and the ready ones with the longest chain
    behind them go first (ties: plan order), so the plan's own decoding shares the batch with fewer
    nodes; once the plan has ended, every ready node starts."""
    if cap is None or not streaming:
        return list(ready)
    depth = chain_below(nodes)
    chosen = sorted(ready, key=lambda n: (-depth.get(n.id, 1), n.id))[: max(0, cap - running)]
    return sorted(chosen, key=lambda n: n.id)
