"""No import cycle among sfstream's modules.

The graph is read from the source with ``ast`` (nothing is imported). The rule:

* Every ``import`` and ``from ... import`` is an edge, wherever it stands: at module level, in
  a class body, or inside a function. A lazy import inside a function only runs when the
  function is called, but the package does not rely on when that is: a function may be called
  while the other module is still importing (at import time, or from another thread), so a
  cycle hidden behind a lazy import counts as a cycle.
* Imports under ``if TYPE_CHECKING:`` never run and are not edges.
* ``from package import name`` is an edge to the submodule ``package.name`` when there is one,
  else to ``package`` itself (the name is read from its ``__init__``).
* Importing ``a.b.c`` also loads the packages ``a`` and ``a.b`` first, but that is not an edge:
  Python registers a package before running its ``__init__``, so a submodule whose package is
  still importing finds it loaded. A submodule that takes a *name* from its package's
  ``__init__`` (``from sfstream.collect import something``) is an edge, and its package
  importing it then makes a cycle.
* Extension modules (``_core``, known from its ``.pyi`` stub) are leaves.
* Imports by string (``importlib.import_module``) are not seen.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "sfstream"


def _module_names(root: Path) -> dict[str, Path]:
    """Dotted name of every module of the package at ``root`` (``.pyi`` stubs of extension
    modules included)."""
    names: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py*")):
        if path.suffix not in (".py", ".pyi") or "__pycache__" in path.parts:
            continue
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.setdefault(".".join(parts), path)
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of a module, except those under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (see the module docstring)."""
    modules = _module_names(root)

    def known(name: str) -> str | None:
        while name and name not in modules:
            if "." not in name:
                return None
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        if path.suffix == ".pyi":
            continue
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text("utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.append(full if full in modules else base)
            for target in targets:
                resolved = known(target)
                if resolved is not None and resolved != name:
                    graph[name].add(resolved)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def test_sfstream_has_no_import_cycle() -> None:
    graph = import_graph(PACKAGE)
    assert "sfstream.generate" in graph and "sfstream.backends.openai" in graph
    assert "sfstream.backends.base" in graph["sfstream.backends.openai"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_backends_do_not_import_the_stage() -> None:
    graph = import_graph(PACKAGE)
    for name, targets in graph.items():
        if name.startswith("sfstream.backends"):
            assert "sfstream.generate" not in targets, name
            assert "sfstream" not in targets, name


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


@pytest.mark.parametrize(
    ("files", "cycle"),
    [
        # A lazy import inside a function counts.
        (
            {
                "pkg/__init__.py": "",
                "pkg/a.py": "from pkg.b import f\n",
                "pkg/b.py": "def f():\n    from pkg import a\n    return a\n",
            },
            ["pkg.a", "pkg.b", "pkg.a"],
        ),
        # A submodule taking a name from its importing package's __init__.
        (
            {
                "pkg/__init__.py": "from pkg.sub.x import X\nY = 1\n",
                "pkg/sub/__init__.py": "",
                "pkg/sub/x.py": "from pkg import Y\nX = Y\n",
            },
            ["pkg", "pkg.sub.x", "pkg"],
        ),
        # Relative imports resolve like absolute ones.
        (
            {
                "pkg/__init__.py": "",
                "pkg/sub/__init__.py": "from .x import X\nZ = 0\n",
                "pkg/sub/x.py": "from . import Z\nX = Z\n",
            },
            ["pkg.sub", "pkg.sub.x", "pkg.sub"],
        ),
    ],
)
def test_cycles_are_found(tmp_path: Path, files: dict[str, str], cycle: list[str]) -> None:
    assert find_cycle(import_graph(_write(tmp_path, files))) == cycle


def test_what_is_not_an_edge(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            # The package imports its submodule, which imports a sibling: the implicit load
            # of the package is not an edge back to it.
            "pkg/__init__.py": "from pkg.sub.x import X\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/x.py": "from pkg.sub import y\nX = y.Y\n",
            "pkg/sub/y.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from pkg.sub.x import X\n"
                "Y = 1\n"
            ),
        },
    )
    graph = import_graph(root)
    assert graph["pkg.sub.x"] == {"pkg.sub.y"}
    assert graph["pkg.sub.y"] == set()
    assert find_cycle(graph) is None
