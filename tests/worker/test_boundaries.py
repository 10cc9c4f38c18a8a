"""Dependencies point inward: the engine imports no service code, the worker no HTTP code."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

CHECK = """
import sys

def loaded(roots):
    return sorted(m for m in sys.modules if m.split('.')[0] in roots)

import enas_core.pipeline, enas_core.data, enas_core.export, enas_core.presets
bad = loaded({"enas_service", "api", "worker", "sqlalchemy", "celery", "fastapi", "kombu"})
assert not bad, f"the engine imports {bad}"

import worker.celery_app, worker.tasks, worker.runner, worker.reaper
bad = loaded({"api", "fastapi", "starlette", "uvicorn"})
assert not bad, f"the worker imports {bad}"
"""


def test_dependencies_point_inward():
    result = subprocess.run([sys.executable, "-c", CHECK], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
