"""`python -m dispatch.tools.structure`: how far the code is from the house rules.

Prints, for `dispatch/` and `geo/` (tests and migrations aside): modules over 600 lines,
functions over 80 lines, import cycles between project modules (module-level imports,
`TYPE_CHECKING` blocks aside), and function-local imports of project modules. Figures, not
a verdict: the rules are in the README's Development section.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

__all__ = ["Structure", "main", "measure"]

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("dispatch", "geo")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


@dataclass
class Structure:
    """What `measure` found."""

    modules: int = 0
    long_modules: list[tuple[str, int]] = field(default_factory=list)
    long_functions: list[tuple[str, int]] = field(default_factory=list)
    cycles: list[list[str]] = field(default_factory=list)
    local_imports: list[tuple[str, int, str]] = field(default_factory=list)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def _project(name: str | None) -> bool:
    return bool(name) and str(name).split(".")[0] in PACKAGES


def _imported(node: ast.Import | ast.ImportFrom, module: str) -> list[str]:
    """The project modules an import statement names (absolute or relative)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if _project(a.name)]
    base = node.module or ""
    if node.level:
        package = module.split(".")[: -node.level] if node.level else []
        base = ".".join([*package, base] if base else package)
    if not _project(base):
        return []
    return [base]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_imports(tree: ast.Module, module: str) -> list[str]:
    found: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found += _imported(node, module)
        elif isinstance(node, ast.If) and not _is_type_checking(node):
            for inner in node.body:
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    found += _imported(inner, module)
    return found


def _functions(tree: ast.Module) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _measure_module(path: Path, found: Structure, graph: nx.DiGraph) -> None:
    text = path.read_text(encoding="utf-8")
    module = _module_name(path)
    rel = str(path.relative_to(ROOT))
    tree = ast.parse(text, filename=rel)
    found.modules += 1
    lines = len(text.splitlines())
    if lines > MAX_MODULE_LINES:
        found.long_modules.append((rel, lines))
    graph.add_node(module)
    for target in _top_imports(tree, module):
        if target != module:
            graph.add_edge(module, target)
    for function in _functions(tree):
        length = (function.end_lineno or function.lineno) - function.lineno + 1
        if length > MAX_FUNCTION_LINES:
            found.long_functions.append((f"{rel}:{function.lineno} {function.name}", length))
        for node in ast.walk(function):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _imported(node, module):
                    found.local_imports.append((rel, node.lineno, target))


def _resolve(graph: nx.DiGraph) -> nx.DiGraph:
    """Edges to `a.b.c` where only `a.b` is a module (a name imported from it) go to `a.b`."""
    modules = set(graph.nodes)
    resolved = nx.DiGraph()
    resolved.add_nodes_from(modules)
    for source, target in graph.edges:
        name = target
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name and name != source:
            resolved.add_edge(source, name)
    return resolved


def measure() -> Structure:
    """Measure `dispatch/` and `geo/` as they are on disk."""
    found = Structure()
    graph: nx.DiGraph = nx.DiGraph()
    for path in _sources():
        _measure_module(path, found, graph)
    graph = _resolve(graph)
    for component in nx.strongly_connected_components(graph):
        if len(component) > 1:
            found.cycles.append(sorted(component))
    found.long_modules.sort(key=lambda x: -x[1])
    found.long_functions.sort(key=lambda x: -x[1])
    return found


def main() -> int:
    found = measure()
    print(f"{found.modules} modules in {', '.join(PACKAGES)} (tests and migrations aside)")
    print(f"modules over {MAX_MODULE_LINES} lines: {len(found.long_modules)}")
    for name, lines in found.long_modules:
        print(f"  {lines:5d}  {name}")
    print(f"functions over {MAX_FUNCTION_LINES} lines: {len(found.long_functions)}")
    for name, lines in found.long_functions:
        print(f"  {lines:5d}  {name}")
    print(f"import cycles between project modules: {len(found.cycles)}")
    for cycle in found.cycles:
        print("  " + " <-> ".join(cycle))
    print(f"function-local imports of project modules: {len(found.local_imports)}")
    by_file: dict[str, int] = {}
    for rel, _, _ in found.local_imports:
        by_file[rel] = by_file.get(rel, 0) + 1
    for rel, n in sorted(by_file.items(), key=lambda x: -x[1]):
        print(f"  {n:4d}  {rel}")
    print("identical duplicate pairs: run `duplicates --most 200` (the library's command)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
