"""The package's layers: every import, including a deferred one, points down or sideways, never up,
and no modules import each other in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import plato_sgl

PACKAGE = Path(plato_sgl.__file__).parent
# Lowest first; a module may import its own layer and those below it.
LAYERS = ["data", "core", "engine", "methods", "api", "evaluation", "serving", "cli"]


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts == ["plato_sgl"]:  # the facade: its exports load lazily, from every layer
        return LAYERS.index("cli")
    if parts[0] != "plato_sgl" or len(parts) < 2 or parts[1] not in LAYERS:
        return None
    return LAYERS.index(parts[1])


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports: ``from a import b`` counts as ``a.b`` when that is a module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & modules
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(node.module)
    return found & modules


def _graph() -> dict[str, set[str]]:
    paths = {_module(p): p for p in PACKAGE.rglob("*.py") if "cpu_shim" not in p.parts}
    return {name: _imports(path, set(paths)) - {name} for name, path in paths.items()}


def test_every_module_has_a_layer():
    assert [m for m in _graph() if _layer(m) is None] == []


def test_no_import_points_up():
    upward = [
        f"{source} imports {target}"
        for source, targets in _graph().items()
        for target in targets
        if _layer(target) > _layer(source)
    ]
    assert upward == []


def test_no_import_circle():
    graph = _graph()
    visiting: list[str] = []
    done: set[str] = set()
    circles = []

    def visit(module: str) -> None:
        if module in visiting:
            circles.append(visiting[visiting.index(module) :] + [module])
            return
        if module in done:
            return
        visiting.append(module)
        for target in sorted(graph[module]):
            visit(target)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    assert circles == []
