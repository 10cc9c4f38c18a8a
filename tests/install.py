"""What a `pip install` line brings, read from the project's pyproject files and the installed
packages' metadata (nothing is installed or downloaded): for the tests that check that an
install the README or the Makefile gives is enough for what runs after it."""

from __future__ import annotations

import ast
import shlex
import sys
import tomllib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
# The projects of this repository, by the path a pip line names them with.
PROJECTS = {".": ROOT, "./clients/python": ROOT / "clients" / "python"}
FIRST_PARTY = {"api", "bench", "enas_client", "enas_core", "enas_service", "launcher",
               "migrations", "tests", "worker"}


def _project(folder: Path) -> dict:
    return tomllib.loads((folder / "pyproject.toml").read_text())["project"]


LOCAL = {canonicalize_name(_project(folder)["name"]): folder for folder in PROJECTS.values()}


def pip_requirements(line: str) -> list[Requirement]:
    """The requirements of a `pip install ...` line: named ones and this repository's projects
    (`-e '.[dev]'`, `./clients/python[all]`); options are skipped."""
    args = shlex.split(line)
    args = args[args.index("install") + 1:]
    found = []
    skip_next = False
    for arg in args:
        if skip_next:
            skip_next = False
            continue
        if arg in ("--index-url", "-i", "--extra-index-url", "-c", "-r", "--constraint"):
            skip_next = True
            continue
        if arg.startswith("-"):
            continue
        path, _, extras = arg.partition("[")
        if path in PROJECTS:
            name = _project(PROJECTS[path])["name"]
            arg = f"{name}[{extras}" if extras else name
        found.append(Requirement(arg))
    return found


def _requires(req: Requirement) -> list[Requirement]:
    name = canonicalize_name(req.name)
    if name in LOCAL:
        project = _project(LOCAL[name])
        optional = project.get("optional-dependencies", {})
        missing = set(req.extras) - set(optional)
        assert not missing, f"{req.name} has no extra {sorted(missing)}"
        specs = project["dependencies"] + [s for e in sorted(req.extras) for s in optional[e]]
        return [Requirement(spec) for spec in specs]
    subs = []
    for spec in metadata.distribution(req.name).requires or []:
        sub = Requirement(spec)
        if sub.marker is None or any(sub.marker.evaluate({"extra": e})
                                     for e in set(req.extras) | {""}):
            sub.marker = None
            subs.append(sub)
    return subs


def installed_by(requirements: Iterable[Requirement]) -> set[str]:
    """The distributions installing `requirements` brings, theirs included (canonical
    names), as resolved in this environment."""
    names: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = list(requirements)
    while todo:
        req = todo.pop()
        if req.marker and not req.marker.evaluate({"extra": ""}):
            continue
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        names.add(key[0])
        todo.extend(_requires(req))
    return names


def importable(distributions: set[str]) -> set[str]:
    """The top-level modules those distributions provide (the standard library's aside)."""
    found = {module for module, dists in metadata.packages_distributions().items()
             if any(canonicalize_name(d) in distributions for d in dists)}
    for name, folder in LOCAL.items():  # editable installs map no modules
        if name in distributions:
            found |= {p.name for p in folder.iterdir()
                      if (p / "__init__.py").is_file() and p.name in FIRST_PARTY}
    return found


def third_party_imports(source: str) -> set[str]:
    """The top-level modules `source` imports from outside the project and the standard
    library, `pytest.importorskip("m")` included."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "importorskip"
              and node.args and isinstance(node.args[0], ast.Constant)):
            found.add(str(node.args[0].value).split(".")[0])
    return found - set(sys.stdlib_module_names) - FIRST_PARTY
