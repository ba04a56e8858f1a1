"""The runtime's modules import each other without a cycle, so that each
can be read (and replaced) on its own terms."""

from __future__ import annotations

import ast
from pathlib import Path

import foundry.actors

PACKAGE = Path(foundry.actors.__file__).parent


def _runtime_imports(path: Path) -> set[str]:
    """Modules of foundry.actors that ``path`` imports when it runs (type-
    checking-only imports excluded)."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "foundry.actors":
                found.update(f"foundry.actors.{a.name}" for a in node.names)
            elif node.module.startswith("foundry.actors."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("foundry.actors."))
    return found


def test_the_runtime_has_no_import_cycle() -> None:
    modules = {
        f"foundry.actors.{p.stem}": p for p in PACKAGE.glob("*.py") if p.stem != "__init__"
    }
    graph = {name: _runtime_imports(path) & set(modules) for name, path in modules.items()}
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        assert state.get(name) != "open", f"import cycle: {' → '.join([*path, name])}"
        state[name] = "open"
        for imported in sorted(graph[name]):
            visit(imported, [*path, name])
        state[name] = "done"
        order.append(name)

    for name in sorted(graph):
        visit(name, [])
    assert len(order) == len(modules)


def test_the_doorbell_protocol_lives_in_one_module() -> None:
    """Only doorbell.py publishes the drain task or touches doorbell counts."""
    for path in PACKAGE.glob("*.py"):
        if path.stem == "doorbell":
            continue
        text = path.read_text()
        markers = ("send_task", "apply_async", ".counts()", "RedisCounts", "import redis")
        for marker in markers:
            allowed = path.stem in ("replies", "redisclient") and marker == "import redis"
            assert marker not in text or allowed, f"{path.name} mentions {marker}"
