"""The modules of `scorer/core` import each other without a cycle.

The graph is built from the import statements each module runs when it is imported (its
top-level ones); the package `__init__` only re-exports and is left out. An import
deferred into a function body is not an edge: the two that remain (`LeadState.to_record`
and `from_record`, kept for the record format's callers) are listed here on purpose.
"""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[3] / "scorer" / "core"
PACKAGE = "scorer.core"


def _modules() -> dict[str, ast.Module]:
    return {
        path.stem: ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(CORE.glob("*.py"))
        if path.stem != "__init__"
    }


def _edges(tree: ast.Module, names: set[str]) -> set[str]:
    edges: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE + "."):
                    edges.add(alias.name.split(".")[2])
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.module == PACKAGE:
                edges.update(alias.name for alias in node.names if alias.name in names)
            elif node.module.startswith(PACKAGE + "."):
                edges.add(node.module.split(".")[2])
    return edges & names


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    names = set(modules)
    return {name: _edges(tree, names) for name, tree in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle as a list of modules (the first repeated at the end), or None."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for target in sorted(graph[node]):
            cycle = visit(target)
            if cycle is not None:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle is not None:
            return cycle
    return None


def test_the_core_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    assert graph.get("lead"), "the graph found no imports: check the parser"
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
