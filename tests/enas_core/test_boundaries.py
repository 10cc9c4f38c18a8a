"""The engine is a library: it must not depend on the service around it."""

import ast
import subprocess
import sys
from pathlib import Path

import enas_core
from enas_core.spaces import space_names

FORBIDDEN = {"api", "worker", "launcher", "enas_service", "sqlalchemy", "celery", "kombu",
             "fastapi", "alembic", "psycopg", "redis", "pydantic", "pydantic_settings"}


def test_no_engine_module_imports_the_service():
    root = Path(enas_core.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_importing_the_engine_loads_no_service_module():
    code = ("import sys, enas_core.pipeline, enas_core.cli, enas_core.macro; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(FORBIDDEN)!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_nothing_outside_a_space_branches_on_its_name():
    """`x == "macro"` and the like belong in the space's own module (enas_core/spaces/)."""
    from tests.imports import modules

    names = set(space_names())
    offenders = []
    for module, path in modules().items():
        if module.startswith("enas_core.spaces."):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                values = [node.left, *node.comparators]
                values += [e for v in values if isinstance(v, ast.Tuple | ast.List | ast.Set)
                           for e in v.elts]
                if any(isinstance(v, ast.Constant) and v.value in names for v in values):
                    offenders.append(f"{module}:{node.lineno}")
    assert offenders == []


def test_the_space_registry_and_the_options_import_no_torch():
    code = ("import sys, enas_core.spaces, enas_core.options; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
