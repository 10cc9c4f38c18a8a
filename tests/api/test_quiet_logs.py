"""The service's start is quiet: no Alembic plugin lines, no Celery banner or root warning;
`--verbose` brings them back."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from launcher.cli import worker_argv
from tests.conftest import ROOT


def _run(*argv: str, tmp_path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENAS_")}
    env["ENAS_DATABASE_URL"] = f"sqlite:///{tmp_path / 'enas.db'}"
    done = subprocess.run([sys.executable, "-m", "enas_core.cli", *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout + done.stderr


@pytest.mark.parametrize("verbose", [False, True])
def test_migrations_log_only_with_verbose(tmp_path, verbose):
    out = _run("db", "upgrade", *(["--verbose"] if verbose else []), tmp_path=tmp_path)
    assert ("alembic.runtime.plugins" in out) is verbose, out
    assert ("Running upgrade" in out) is verbose, out


def test_the_worker_leaves_out_celerys_banner_unless_verbose():
    quiet = worker_argv(pool="solo", loglevel="INFO", queues="gpu", quiet=True)
    assert quiet[:2] == ["--quiet", "worker"]  # a global option of `celery`
    assert "--quiet" not in worker_argv(pool="solo", loglevel="INFO", queues="gpu")
