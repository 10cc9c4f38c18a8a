"""The Makefile's install, read from `make -n` (nothing is installed): `make run` installs the
service and the client, not the tests' and tools' extras, with torch from TORCH_INDEX when one
is given; `make test` adds what the tests import."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from tests import install
from tests.imports import PACKAGES, modules, third_party

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="no make")

CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def pip_lines(*args: str) -> list[str]:
    """The `pip install` commands a fresh `make ARGS` runs (-W: as if pyproject.toml had
    changed, so that an existing .venv does not hide them)."""
    done = subprocess.run(["make", "-n", "-W", "pyproject.toml", *args], cwd=install.ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if " install " in line]


def brought(lines: list[str]) -> set[str]:
    return install.installed_by(r for line in lines for r in install.pip_requirements(line))


def test_make_run_installs_the_service_and_the_client_only():
    lines = pip_lines("run")
    assert lines, "make run installs nothing"
    assert not any("dev" in line or "mlflow" in line for line in lines), lines
    assert not any("--index-url" in line for line in lines), lines  # pip's own index
    names = brought(lines)
    assert {"torch", "torchvision", "enas-service", "enas-client", "onnxruntime"} <= names
    assert not names & {"pytest", "ruff", "mlflow", "playwright", "schemathesis"}, names
    # ... and it is enough for the service: every package its code imports (MLflow is an
    # extra: without it, a job asking for MLflow is refused).
    importable = install.importable(names)
    for name, path in modules(PACKAGES).items():
        missing = third_party(name, path) - set(sys.stdlib_module_names) - importable
        missing -= {"mlflow"}
        assert not missing, f"{name} imports {missing}, which `make run` does not install"


def test_torch_index_picks_where_torch_comes_from():
    lines = pip_lines("run", f"TORCH_INDEX={CPU_INDEX}")
    torch = [line for line in lines if "torch==" in line]
    assert len(torch) == 1 and f"--index-url {CPU_INDEX} torch==" in torch[0], lines
    assert all(CPU_INDEX not in line for line in lines if line not in torch), lines


def test_make_test_installs_what_the_tests_import():
    lines = pip_lines("test")
    assert any("'.[dev,mlflow]'" in line for line in lines), lines
    importable = install.importable(brought(lines))
    for path in sorted((install.ROOT / "tests").rglob("*.py")):
        missing = install.third_party_imports(path.read_text()) - importable
        assert not missing, f"{path.name} imports {missing}, which `make test` does not install"


def test_make_test_fast_leaves_the_slow_tests_out():
    """`make test-fast`: what `make test` installs, then the tests not marked `slow`."""
    assert pip_lines("test-fast") == pip_lines("test")
    done = subprocess.run(["make", "-n", "test-fast"], cwd=install.ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    runs = [line for line in done.stdout.splitlines() if "pytest" in line]
    assert len(runs) == 1 and runs[0].endswith('-m pytest -q -m "not slow"'), runs


def test_ci_runs_the_readmes_test_command():
    readme = (install.ROOT / "README.md").read_text()
    command = re.search(r"^(make test)\s+#", readme, re.M)
    assert command, "the README names no test command"
    ci = (install.ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == command.group(1)


def _dry_run(target: str) -> str:
    done = subprocess.run(["make", "-n", target], cwd=install.ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_lint_checks_the_dashboards_javascript_and_make_test_does_not():
    """ESLint comes from npm (tools/jslint/lint.sh installs it on first use): `make lint` runs
    it with ruff; `make test`, which CI runs, never waits on npm."""
    lint = _dry_run("lint")
    assert "ruff check ." in lint and "tools/jslint/lint.sh" in lint, lint
    assert "jslint" not in _dry_run("test") and "npm" not in _dry_run("test")
    script = (install.ROOT / "tools" / "jslint" / "lint.sh").read_text()
    assert "npm ci" in script and "timeout 300" in script  # pinned by the lock, bounded
