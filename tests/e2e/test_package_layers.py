"""The top level shows the design: no package imports one that imports it back (function-local imports count)."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("specs", "adaptors", "vertex_emulator", "local_cloud", "state", "objective", "search_spaces", "trial", "trainers_jax", "latency",
            "backends", "reconciler", "pricing", "trainer_image", "nasctl")


def _imports(package: str) -> set[str]:
    """The other packages of this project that any module of `package` imports, anywhere in its code."""
    found = set()
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
            found |= {name.split(".")[0] for name in names} & set(PACKAGES)
    return found - {package}


def test_no_two_packages_import_each_other() -> None:
    graph = {package: _imports(package) for package in PACKAGES}
    cycles = []
    for start in PACKAGES:  # depth-first search for a path that leads back to `start`
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    cycles.append(" → ".join([*path, start]))
                elif nxt not in path:
                    stack.append((nxt, [*path, nxt]))
    assert not cycles, "import cycles between packages:\n" + "\n".join(sorted(set(cycles)))


def test_the_api_types_import_nothing_of_the_implementation() -> None:
    assert _imports("specs") == set()
