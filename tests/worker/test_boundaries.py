"""Dependencies point inward: launcher -> api | worker -> enas_service -> enas_core. The API
and the worker never import each other, nothing imports the launcher, the client
(`enas_client`, installed on its own) imports nothing of the service's, and no module takes part
in an import cycle (function-local imports included: they only hide a cycle)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.imports import PACKAGES, cycles, graph, modules, third_party

# What each top-level package may import from the project.
ALLOWED = {
    "enas_core": {"enas_core"},
    "enas_service": {"enas_service", "enas_core"},
    "api": {"api", "enas_service", "enas_core"},
    "worker": {"worker", "enas_service", "enas_core"},
    "launcher": set(PACKAGES),
    "enas_client": {"enas_client"},
}
# Third-party code a package must not load: the worker and the shared code carry no HTTP.
FORBIDDEN = {
    "enas_service": {"fastapi", "starlette", "uvicorn"},
    "worker": {"fastapi", "starlette", "uvicorn"},
    # the client installs without the engine's or the service's dependencies
    "enas_client": {"torch", "torchvision", "sqlalchemy", "celery", "fastapi", "starlette"},
}


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_no_import_cycles_through_type_checking_imports():
    """A circle closed by an `if TYPE_CHECKING:` import is one for a reader and a type checker
    (enas_client's jobs and resources typed their client so; they take a protocol now)."""
    assert cycles(graph(type_checking=True)) == []


def test_no_import_runs_up_the_layers():
    offenders = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if target.split(".")[0] not in ALLOWED[module.split(".")[0]]
    ]
    assert offenders == []


def test_no_http_code_below_the_api():
    offenders = [
        f"{name} imports {sorted(bad)}"
        for name, path in modules().items()
        if (bad := third_party(name, path) & FORBIDDEN.get(name.split(".")[0], set()))
    ]
    assert offenders == []


# (what is imported, what it must not load), each in a fresh interpreter.
LOADS = {
    "engine": ("enas_core.pipeline, enas_core.data, enas_core.export, enas_core.presets",
               {"enas_service", "api", "worker", "launcher", "sqlalchemy", "celery",
                "fastapi", "kombu"}),
    "worker": ("worker.celery_app, worker.tasks, worker.runner, worker.reaper",
               {"api", "launcher", "fastapi", "starlette", "uvicorn"}),
    "api": ("api.main", {"worker", "launcher"}),
}


@pytest.mark.slow
@pytest.mark.parametrize("what", sorted(LOADS))
def test_importing_loads_nothing_above(what):
    modules_, forbidden = LOADS[what]
    code = (f"import sys, {modules_}; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(forbidden)!r}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
