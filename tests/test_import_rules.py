"""The package's imports form no cycle (issue "Structure and hardening", point 3).

The rule: every ``import`` / ``from ... import`` of a ``pmresearch`` module outside ``if TYPE_CHECKING:`` blocks is
an edge, function-level imports included; ``from pkg import x`` is an edge to ``pkg`` (its ``__init__``) and, when
``x`` is a submodule, to ``pkg.x`` as well; ``import a.b.c`` is an edge to ``a.b.c``. No cycle may exist among these
edges, and no module may import its own package's ``__init__``. The graph is read from the source with ``ast``
(nothing is imported), so the test also sees imports that only run inside functions.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "pmresearch"


def _modules(root: Path) -> dict[str, Path]:
    out = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def _targets(node: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = (module if is_package else module.rpartition(".")[0]).split(".")
            base = base[: len(base) - (node.level - 1)]
            name = ".".join(base + ([node.module] if node.module else []))
        else:
            name = node.module or ""
        yield name
        yield from (f"{name}.{alias.name}" for alias in node.names)


def import_graph(root: Path = ROOT) -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    """Edges module -> imported pmresearch module, and the (module, package) pairs where a module imports its own
    package's ``__init__``."""
    modules = _modules(root)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    own_init = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        package = module if is_package else module.rpartition(".")[0]
        skip = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            for target in _targets(node, module, is_package):
                if target in modules and target != module:
                    graph[module].add(target)
                    if target == package and not is_package:
                        own_init.append((module, target))
    return graph, own_init


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan 1972), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles() -> None:
    graph, _ = import_graph()
    assert len(graph) > 50  # the walk found the package
    cycles = find_cycles(graph)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_module_imports_its_own_package_init() -> None:
    _, own = import_graph()
    assert not own, "modules importing their own package's __init__: " + ", ".join(f"{m} -> {p}" for m, p in own)


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


def test_store_backends_import_the_base_and_not_each_other() -> None:
    """``data/base.py`` holds the abstract store; DuckDB (``store.py``) and PostgreSQL (``postgres.py``) import it,
    never each other (``connect()`` reaches PostgreSQL through a function-level import of the backend only)."""
    graph, _ = import_graph()
    base, store, postgres = "pmresearch.data.base", "pmresearch.data.store", "pmresearch.data.postgres"
    assert base in graph[store] and base in graph[postgres]
    assert store not in graph[postgres] and not graph[base] & {store, postgres, "pmresearch.data"}
    assert not _reaches(graph, postgres, store)


def test_the_data_layer_never_imports_labels_or_features() -> None:
    """The label-flip checks live in ``labels/``; ``data/`` (the base of the tiers) reaches neither layer above it,
    through any chain of imports."""
    graph, _ = import_graph()
    data = [m for m in graph if m == "pmresearch.data" or m.startswith("pmresearch.data.")]
    assert "pmresearch.data.quality" in data
    above = ("pmresearch.labels", "pmresearch.features", "pmresearch.models", "pmresearch.backtest",
             "pmresearch.experiments", "pmresearch.reports", "pmresearch.cli")
    offenders = {m: sorted(t for t in graph if t.startswith(above) and _reaches(graph, m, t)) for m in data}
    assert {m: t for m, t in offenders.items() if t} == {}


def test_store_names_are_still_importable_from_the_old_places() -> None:
    import pmresearch.data as data
    import pmresearch.data.base as base
    import pmresearch.data.store as store

    for name in store.__all__:
        assert hasattr(store, name), name
    for name in base.__all__:
        assert getattr(store, name) is getattr(base, name), name
    assert data.Store is base.Store and data.TABLES is base.TABLES and data.connect is store.connect


def _write(tmp: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp / PACKAGE / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp


@pytest.mark.parametrize(("files", "cycle"), [
    # a function-level import closes a cycle
    ({"__init__.py": "", "a.py": "import pmresearch.b\n", "b.py": "def f():\n    from pmresearch import a\n"},
     ["pmresearch.a", "pmresearch.b"]),
    # `from pkg import x` imports pkg/__init__, which imports the module back
    ({"__init__.py": "", "p/__init__.py": "from pmresearch.p.m import f\n", "p/m.py": "from pmresearch.q import g\n",
      "q.py": "from pmresearch.p import m\n"},
     ["pmresearch.p", "pmresearch.p.m", "pmresearch.q"]),
    # relative imports resolve like absolute ones
    ({"__init__.py": "", "p/__init__.py": "", "p/a.py": "from . import b\n", "p/b.py": "from .a import x\n"},
     ["pmresearch.p.a", "pmresearch.p.b"]),
])
def test_the_walk_finds_planted_cycles(tmp_path: Path, files: dict[str, str], cycle: list[str]) -> None:
    """Controls: cycles planted in a throw-away package are found (the test can fail)."""
    graph, _ = import_graph(_write(tmp_path, files))
    assert cycle in find_cycles(graph)


def test_type_checking_imports_are_not_edges(tmp_path: Path) -> None:
    files = {"__init__.py": "", "a.py": "import pmresearch.b\n",
             "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pmresearch import a\n"}
    graph, _ = import_graph(_write(tmp_path, files))
    assert find_cycles(graph) == [] and graph["pmresearch.a"] == {"pmresearch.b"}


def test_reach_follows_chains(tmp_path: Path) -> None:
    files = {"__init__.py": "", "a.py": "import pmresearch.b\n", "b.py": "def f():\n    import pmresearch.c\n",
             "c.py": ""}
    graph, _ = import_graph(_write(tmp_path, files))
    assert _reaches(graph, "pmresearch.a", "pmresearch.c") and not _reaches(graph, "pmresearch.c", "pmresearch.a")


def test_own_init_import_is_found(tmp_path: Path) -> None:
    files = {"__init__.py": "", "p/__init__.py": "", "p/m.py": "from pmresearch.p import helper\n"}
    _, own = import_graph(_write(tmp_path, files))
    assert own == [("pmresearch.p.m", "pmresearch.p")]
