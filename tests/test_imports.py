"""No import cycles among tuner's modules (imports at any depth, lazy ones included): a cycle
is a structure problem even when lazy imports keep it from failing at import time."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import tuner

ROOT = Path(tuner.__file__).resolve().parent


def _modules(root: Path) -> dict[str, tuple[Path, bool]]:
    mods = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        mods[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return mods


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the package's modules it imports. An import of a module's own ancestor
    package is left out: Python imports those first anyway."""
    mods = _modules(root)

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rsplit(".", 1)[0] if "." in name else ""
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for module, (path, is_pkg) in mods.items():
        package = module if is_pkg else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                head = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    head = ".".join(anchor + ([node.module] if node.module else []))
                targets = [head, *(f"{head}.{a.name}" for a in node.names)]
            else:
                continue
            for target in targets:
                found = resolve(target) if target.split(".")[0] == root.name else None
                if found and found != module and not module.startswith(found + "."):
                    graph[module].add(found)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None


def test_tuner_has_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 40 and graph["tuner.search.driver._driver"], "the graph was not read"
    cycle = _cycle(graph)
    assert cycle is None, f"import cycle: {' -> '.join(cycle or [])}"


def test_a_lazy_relative_import_back_is_a_cycle(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub._a import f\n")
    (pkg / "sub" / "_a.py").write_text("def f():\n    from ._b import g\n    return g\n")
    (pkg / "sub" / "_b.py").write_text("def g():\n    from pkg.sub import _a\n")
    graph = import_graph(pkg)
    assert graph["pkg.sub._a"] == {"pkg.sub._b"} and graph["pkg.sub._b"] == {"pkg.sub._a"}
    assert set(_cycle(graph) or []) == {"pkg.sub._a", "pkg.sub._b"}
