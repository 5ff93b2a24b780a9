"""The floor plan holds: no import runs back up the flow, and none makes a circle.

Floors, lowest first (README, "Architecture"): a module may import its own
floor and the floors below it, never one above. Imports made only for type
checking are left out, as they run nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import REPO

FLOORS = {
    "values": (
        "radio.tracks",
        "radio.audio",
        "radio.errors",
        "radio.settings",
        "radio.logs",
        "radio.malloc",
        "radio.heap",
    ),
    "leaves": (
        "radio.icy",
        "radio.broadcast",
        "radio.encoder",
        "radio.opus",
        "radio.hls",
        "radio.catalog",
        "radio.lineup",
        "radio.ticks",
    ),
    "stages": (
        "radio.generators",
        "radio.generators.pool",
        "radio.prepare",
        "radio.backlog",
        "radio.playout",
        "radio.scheduler",
        "radio.offline",
        "radio.retention",
        "radio.outputs",
        "radio.offload",
    ),
    "core": ("radio.core", "radio.console"),
    "edges": ("radio.server", "radio.cli", "radio.bench", "radio.doctor", "radio.shipped"),
}
LEVEL = {prefix: n for n, prefixes in enumerate(FLOORS.values()) for prefix in prefixes}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted((REPO / "radio").rglob("*.py"))}


def floor(module: str) -> int | None:
    matches = [p for p in LEVEL if module == p or module.startswith(p + ".")]
    return LEVEL[max(matches, key=len)] if matches else None


def runtime_imports(module: str) -> set[str]:
    """The radio modules `module` imports when it runs (not under TYPE_CHECKING)."""
    tree = ast.parse(MODULES[module].read_text())
    checking_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
        for node in ast.walk(block)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in checking_only:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("radio")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("radio"):
            base = str(node.module)
            for alias in node.names:  # `from radio.server import shapes` imports a module
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {m for m in found if m != module and not m.startswith(module + ".")}


def test_every_module_has_a_floor() -> None:
    homeless = [m for m in MODULES if m not in ("radio", "radio.__main__") and floor(m) is None]
    assert homeless == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_runs_up_the_flow(module: str) -> None:
    own = floor(module)
    if own is None:
        return
    upward = [m for m in runtime_imports(module) if (floor(m) or 0) > own]
    assert upward == [], f"{module} (floor {own}) imports from above"


def test_no_import_makes_a_circle() -> None:
    graph = {m: runtime_imports(m) & set(MODULES) for m in MODULES}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            pytest.fail(" -> ".join((*path[path.index(module) :], module)))
        if module in done:
            return
        for imported in graph[module]:
            visit(imported, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())
