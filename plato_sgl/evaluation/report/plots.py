"""The report's PNG plots, drawn only when the optional ``report`` extra (matplotlib, networkx) is installed."""

from __future__ import annotations

import importlib.util
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from plato_sgl.core.result import Result
from plato_sgl.evaluation.records import BASELINE

if TYPE_CHECKING:
    from matplotlib.axes import Axes

NO_PLOTS_NOTE = (
    "Plots need the `report` extra (`pip install 'plato-sgl[report]'`: matplotlib, networkx); this report has none."
)


def plots_available() -> bool:
    """Whether the plotting extra is installed; without it reports are Markdown tables only."""
    return all(importlib.util.find_spec(name) is not None for name in ("matplotlib", "networkx"))


@contextmanager
def figure(path: Path, size: tuple[float, float], *, tight: bool = True, crop: bool = False) -> Iterator[Axes]:
    """The axes of a new figure of ``size`` inches, saved to ``path`` (120 dpi) when the block ends.
    ``tight``: fit the layout to the labels before saving; ``crop``: crop the image to what was drawn,
    for legends and labels that reach past the axes."""
    # deferred: matplotlib is the optional `report` extra
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size)
    try:
        yield ax
        if tight:
            fig.tight_layout()
        fig.savefig(path, dpi=120, bbox_inches="tight" if crop else None)
    finally:
        plt.close(fig)


def plot_category_speedups(speedups: dict[str, dict[str, float]], path: Path, baseline: str = BASELINE) -> None:
    """Latency speed-up over ``baseline`` per category, one bar per method."""
    categories = sorted(speedups)
    variants = sorted({v for per in speedups.values() for v in per})
    width = 0.8 / max(1, len(variants))
    with figure(path, (max(6, 1.1 * len(categories)), 4)) as ax:
        for i, variant in enumerate(variants):
            xs = [c + i * width for c in range(len(categories))]
            ax.bar(xs, [speedups[c].get(variant, 0) for c in categories], width, label=variant)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xticks(
            [c + width * (len(variants) - 1) / 2 for c in range(len(categories))], categories, rotation=30, ha="right"
        )
        ax.set_ylabel(f"latency speed-up vs {baseline}")
        ax.legend()


def plot_timeline(result: Result, path: Path, ar_done: float | None = None, baseline: str = BASELINE) -> None:
    """Gantt chart: the plan stream, then per node its wait for the first token and its decoding;
    ``ar_done``: when AR's answer to the same question was complete (a vertical line), if known."""
    nodes = result.nodes
    with figure(path, (9, max(3.0, 1 + 0.45 * (len(nodes) + 1))), crop=True) as ax:  # the legend is below the axes
        plan_start = result.plan_first_token_at or 0.0
        ax.barh(0, (result.plan_done_at or 0) - plan_start, left=plan_start, color="#999999")
        for n in nodes:
            ax.plot([n.parsed_at], [0], marker="|", color="black", markersize=12)
        for row, n in enumerate(nodes, start=1):
            if None in (n.dispatched_at, n.started_at, n.finished_at):
                continue
            ax.barh(row, n.started_at - n.dispatched_at, left=n.dispatched_at, color="#f4b183")
            ax.barh(row, n.finished_at - n.started_at, left=n.started_at, color="#2e75b6")
            for dep in n.deps:
                ax.annotate(
                    "",
                    xy=(n.dispatched_at, row),
                    xytext=(result.node(dep).finished_at, nodes.index(result.node(dep)) + 1),
                    arrowprops=dict(arrowstyle="->", color="#555555", lw=0.7),
                )
        ax.set_yticks(range(len(nodes) + 1), ["plan"] + [f"{n.id}. {n.description[:28]}" for n in nodes])
        ax.invert_yaxis()
        done = result.wall_time
        ax.axvline(
            done, color="black", linestyle=":", linewidth=1.2, label=f"{result.method} answer complete ({done:.0f} s)"
        )
        if ar_done is not None:
            ax.axvline(
                ar_done,
                color="#c00000",
                linestyle="--",
                linewidth=1.2,
                label=f"{baseline} answer complete ({ar_done:.0f} s)",
            )
        ax.set_xlim(left=0)  # the user waits from the moment the question is sent
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=8, frameon=False)
        ax.set_xlabel("seconds since the question was sent")
        ax.set_title(
            "plan stream (grey, ticks: lines complete), node wait for first token (orange), decoding (blue)",
            fontsize=9,
        )


def plot_dag(result: Result, path: Path) -> None:
    """The plan's dependency graph, one column per depth."""
    import networkx as nx  # deferred: networkx is the optional `report` extra

    graph = nx.DiGraph()
    depth: dict[int, int] = {}
    for n in result.nodes:
        depth[n.id] = 1 + max((depth[d] for d in n.deps if d in depth), default=0)
        graph.add_node(n.id, layer=depth[n.id])
        graph.add_edges_from((d, n.id) for d in n.deps)
    positions = nx.multipartite_layout(graph, subset_key="layer")
    size = (2.5 + 2 * max(depth.values(), default=1), max(3.0, 1 + 0.7 * len(result.nodes)))
    with figure(path, size, tight=False, crop=True) as ax:  # labels may reach past the axes
        nx.draw_networkx(graph, positions, ax=ax, node_color="#2e75b6", font_color="white", node_size=500, arrows=True)
        for n in result.nodes:
            x, y = positions[n.id]
            ax.annotate(
                n.description[:34],
                (x, y),
                xytext=(0, -14),
                textcoords="offset points",
                ha="center",
                va="top",
                fontsize=7,
            )
        ax.set_title(f"critical path {result.critical_path}, parallel degree {result.parallel_degree:.2f}", fontsize=9)
        ax.margins(0.15)
        ax.axis("off")


def plot_load(series: dict[str, list[tuple[int, float, float | None]]], path: Path) -> None:
    """Mean latency (solid) and p90 (dashed) against concurrency, one colour per method."""
    with figure(path, (6.5, 4)) as ax:
        for variant, points in sorted(series.items()):
            levels = [p[0] for p in points]
            (line,) = ax.plot(levels, [p[1] for p in points], marker="o", label=f"{variant} (mean)")
            p90 = [(level, p[2]) for level, p in zip(levels, points) if p[2] is not None]
            if p90:
                ax.plot(
                    [level for level, _ in p90],
                    [v for _, v in p90],
                    linestyle="--",
                    color=line.get_color(),
                    alpha=0.7,
                    label=f"{variant} (p90)",
                )
        levels = sorted({p[0] for points in series.values() for p in points})
        ax.set_xscale("log", base=2)
        ax.set_xticks(levels, [str(level) for level in levels])
        ax.set_xlabel("concurrency (questions of one method sent together)")
        ax.set_ylabel("latency per question (s)")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)


def plot_win_rates(counts: dict, path: Path) -> None:
    """Each judged pair's shares of wins, ties and losses over all questions, as stacked bars."""
    labels = [f"{a} vs {b}" for a, b in counts]
    with figure(path, (7, 1 + 0.6 * len(labels)), tight=False, crop=True) as ax:
        left = [0.0] * len(labels)
        for name, color in (("wins", "#2e75b6"), ("ties", "#bfbfbf"), ("losses", "#c00000")):
            shares = [getattr(by["all"], name) / max(1, by["all"].questions) for by in counts.values()]
            ax.barh(labels, shares, left=left, color=color, label=name)
            left = [start + s for start, s in zip(left, shares)]
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of questions")
        ax.legend(loc="lower right", fontsize=8)
