"""The engine is a library: it must not depend on the service around it."""

import ast
import subprocess
import sys
from pathlib import Path

import enas_core

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
