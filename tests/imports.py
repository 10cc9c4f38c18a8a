"""The project's import graph, read from the source (every `import`, also those inside
functions; those under `if TYPE_CHECKING:` only when asked), for the boundary tests."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Each package's folder: the client is a distribution of its own, under clients/python.
WHERE = {"enas_client": ROOT / "clients" / "python"}
PACKAGES = ("enas_core", "enas_service", "api", "worker", "launcher", "enas_client")


def modules(packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, for every module of `packages`."""
    found = {}
    for package in packages:
        base = WHERE.get(package, ROOT)
        for path in sorted((base / package).rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, *, type_checking: bool = False) -> set[str]:
    """The absolute names `name` imports: modules, or `module.attribute` for `from m import a`
    where `a` is not a submodule. With `type_checking`, also those under `if TYPE_CHECKING:`."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    tree = ast.parse(path.read_text())
    for node in (list(ast.walk(tree)) if type_checking else _runtime_nodes(tree)):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.update(f"{module}.{alias.name}" for alias in node.names)
    return out


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under `if TYPE_CHECKING:`, which never runs."""
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
            and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
            for body in node.body for n in ast.walk(body)}
    return [node for node in ast.walk(tree) if id(node) not in skip]


def graph(packages: Iterable[str] = PACKAGES, *,
          type_checking: bool = False) -> dict[str, set[str]]:
    """Module -> the project modules it imports (a `from m import a` counts as importing `m`,
    or `m.a` where that is a module); with `type_checking`, the type checker's imports too."""
    mods = modules(packages)
    edges: dict[str, set[str]] = {}
    for name, path in mods.items():
        targets = set()
        for imported in imports(name, path, type_checking=type_checking):
            while imported and imported not in mods:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def third_party(name: str, path: Path) -> set[str]:
    """The top-level names of what a module imports from outside the project."""
    return {n.split(".")[0] for n in imports(name, path)} - set(PACKAGES) - {""}
