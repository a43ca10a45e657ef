"""The store modules import by the rule of issue 12 point 3: base <- backends, never backend <-> backend.

Imports are read from the source (function-level ones count; ``if TYPE_CHECKING:`` blocks do not;
``from pkg import x`` counts as importing ``pkg/__init__``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pmresearch
import pmresearch.data.store

ROOT = Path(pmresearch.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path, modules: set[str], name: str | None = None) -> set[str]:
    """The modules of ``modules`` that ``path`` (module ``name``) imports outside ``if TYPE_CHECKING:``."""
    name = name or _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base in modules:
                found.add(base)
            for alias in node.names:  # ``from pkg import submodule``
                if f"{base}.{alias.name}" in modules:
                    found.add(f"{base}.{alias.name}")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    found.discard(name)
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    return {name: _imports(path, set(files)) for name, path in files.items()}


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return False


def test_the_walker_sees_function_level_imports_and_skips_type_checking(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pmresearch.a\n"
                     "def f():\n    from pmresearch import b\n    import pmresearch.c\n")
    mods = {"pmresearch", "pmresearch.a", "pmresearch.b", "pmresearch.c"}
    assert _imports(probe, mods, name="pmresearch.x") == {"pmresearch", "pmresearch.b", "pmresearch.c"}


def test_backends_import_the_base_and_not_each_other() -> None:
    graph = _graph()
    base, store, postgres = "pmresearch.data.base", "pmresearch.data.store", "pmresearch.data.postgres"
    assert base in graph[store] and base in graph[postgres]
    assert store not in graph[postgres] and postgres not in graph[base] and store not in graph[base]
    assert "pmresearch.data" not in graph[base] | graph[postgres] | graph[store]  # never the package __init__
    for module in (base, store, postgres):
        cycle = [dep for dep in graph[module] if _reaches(graph, dep, module)]
        assert cycle == [], f"{module} is in an import cycle through {cycle}"


def test_the_public_names_are_still_importable_from_the_old_places() -> None:
    from pmresearch import data
    from pmresearch.data import base

    for name in pmresearch.data.store.__all__:
        assert hasattr(pmresearch.data.store, name), name
    for name in base.__all__:
        assert getattr(pmresearch.data.store, name) is getattr(base, name), name
    assert data.Store is base.Store and data.TABLES is base.TABLES and data.connect is pmresearch.data.store.connect
