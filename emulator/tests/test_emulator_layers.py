"""The emulator reads top-down and stands alone: no import circle, nothing but the standard library."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = "sequentum_emulator"
SANDBOX = Path(__file__).resolve().parents[1] / PACKAGE


def modules() -> dict[str, Path]:
    return {path.stem: path for path in sorted(SANDBOX.glob("*.py"))}


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, wherever the import sits (TYPE_CHECKING blocks included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name} uses a relative import"
            assert node.module is not None
            found.add(node.module)
            # `from package import module` imports that module.
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def graph() -> dict[str, set[str]]:
    names = modules()
    edges: dict[str, set[str]] = {}
    for name, path in names.items():
        targets = set()
        for imported in imports_of(path):
            prefix, _, rest = imported.partition(f"{PACKAGE}.")
            if prefix == "" and rest.split(".")[0] in names:
                targets.add(rest.split(".")[0])
        edges[name] = targets - {name}
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for target in sorted(edges.get(node, ())):
            cycle = visit(target, [*path, node])
            if cycle:
                return cycle
        done.add(node)
        return None

    for start in sorted(edges):
        cycle = visit(start, [])
        if cycle:
            return cycle
    return None


def test_the_checker_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_sandbox_modules_import_without_a_circle():
    edges = graph()
    assert {"app", "server", "api", "storage", "dataset"} <= set(edges)
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges) or [])


def test_layers_point_down():
    edges = graph()
    assert "server" in edges["app"]
    assert {"api", "storage"} <= edges["server"]
    top = {"app", "server", "__init__", "__main__"}
    lower = ("api", "storage", "billing", "dataset", "messages", "faults", "tables", "demo")
    for name in lower:
        assert name in edges
        assert not edges[name] & top, name


def test_emulator_imports_only_the_standard_library():
    for name, path in modules().items():
        for imported in imports_of(path):
            top = imported.split(".")[0]
            if top in sys.stdlib_module_names or top == "__future__":
                continue
            inside = imported == PACKAGE or imported.startswith(f"{PACKAGE}.")
            assert inside, f"{name}.py imports {imported}"
