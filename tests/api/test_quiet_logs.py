"""The service is quiet: no Alembic plugin lines, no Celery banner or root warning, none of
Celery's task lines in the worker's log, no httpx line per request of `enas jobs ...`;
`--verbose` (`enas -v`) brings them back."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from launcher.cli import worker_argv
from tests.conftest import ROOT

# Each test starts the CLI or a worker in a fresh interpreter (seconds each).
pytestmark = pytest.mark.slow


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


_CELERY_LINES = """
import logging
from celery.app import trace
from launcher.cli import _quiet_libraries
from worker.celery_app import get_celery
_quiet_libraries({verbose})  # what `enas worker` does before Celery sets its logging up
get_celery().log.setup(loglevel="INFO")  # as `worker_main` does
from celery.worker import strategy
strategy.logger.info(trace.LOG_RECEIVED, {{"id": "1", "name": "enas.run_job"}})
trace.info(trace.LOG_SUCCESS, {{"id": "1", "name": "enas.run_job", "return_value": None,
                                "runtime": 400.13}})
logging.getLogger("worker.runner").info("job 1 succeeded")
logging.getLogger("celery.apps.worker").info("enas-1@host ready.")  # what tests wait for
"""


@pytest.mark.parametrize("verbose", [False, True])
def test_the_worker_logs_celerys_task_lines_only_with_verbose(verbose):
    """`make run`'s terminal: the demo's progress, the worker's own lines, and Celery's "Task
    enas.run_job[...] succeeded in 400.13s" only with --verbose."""
    done = subprocess.run([sys.executable, "-c", _CELERY_LINES.format(verbose=verbose)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    lines = [line.split("] ", 1)[1] for line in done.stderr.splitlines()]
    tasks = ["Task enas.run_job[1] received", "Task enas.run_job[1] succeeded in 400.13s: None"]
    assert lines == (tasks if verbose else []) + ["job 1 succeeded", "enas-1@host ready."]


@pytest.mark.parametrize("verbose", [False, True])
def test_the_remote_commands_log_httpxs_requests_only_with_verbose(verbose):
    """`enas jobs list` prints its table (here, the server's refusal), not httpx's "INFO httpx:
    HTTP Request: GET ..." line per request; `enas -v` shows them."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Refuse(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = json.dumps({"title": "Unauthorized", "status": 401,
                               "detail": "invalid API key"}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/problem+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "enas_core.cli", *(["-v"] if verbose else []), "jobs",
             "list", "--url", url, "--key", "enas_wrong"],
            cwd=ROOT, capture_output=True, text=True, timeout=60)
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    request = (f"INFO httpx: HTTP Request: GET {url}/jobs?limit=20&offset=0 "
               '"HTTP/1.1 401 Unauthorized"')
    assert [line for line in lines if "httpx" in line] == ([request] if verbose else [])
    assert lines[-1] == "enas: error: invalid API key"
