"""The modules of `scorer/core` stay small enough to read: no module over ~400 lines, no
function over ~60 lines unless a comment on its `def` line or just above it says why."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[3] / "scorer" / "core"
MODULE_LINES = 400
FUNCTION_LINES = 60


def _long_functions(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
        length = (node.end_lineno or start) - start + 1
        explained = "#" in lines[node.lineno - 1] or lines[start - 2].lstrip().startswith("#")
        name = f"{path.stem}.{node.name}"
        if length > FUNCTION_LINES and not explained:
            found.append(f"{name} ({length} lines)")
    return found


def test_no_core_module_is_over_the_limit() -> None:
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in CORE.glob("*.py")}
    assert sizes, "no modules found: check CORE"
    assert {name: n for name, n in sizes.items() if n > MODULE_LINES} == {}


def test_long_core_functions_say_why() -> None:
    long = [f for path in sorted(CORE.glob("*.py")) for f in _long_functions(path)]
    assert long == []
