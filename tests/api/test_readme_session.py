"""The README's curl session, pasted in order into bash against `enas serve` (embedded mode:
SQLite, the filesystem broker, one worker). Only the followed job's config is swapped for a
tiny one, so that it ends in seconds; every other command runs as written."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ROOT, TINY_JOB, free_port

README = ROOT / "README.md"
FOLLOWED_CONFIG = r'\"preset\": \"quick\", \"search_epochs\": 5, \"time_limit\": 600'


def readme_session() -> str:
    """The bash block of README's "A session with curl"."""
    text = README.read_text()
    section = text[text.index("### A session with curl"):]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "no bash block in the README's curl session"
    return match.group(1)


def _tiny_config() -> str:
    items = ", ".join(f'\\"{k}\\": {v}' for k, v in TINY_JOB.items() if k != "search_epochs")
    return items + r', \"search_epochs\": 2, \"time_limit\": 600'


@pytest.fixture
def served(tmp_path):
    """`enas serve` on a free port in a data directory of its own; yields (url, key)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ENAS_") or k == "ENAS_LATENCY_CACHE"}
    env.update(ENAS_DEVICE="cpu", PYTHONUNBUFFERED="1")
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "launcher", "serve", "--data-dir", str(tmp_path / "data"),
             "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            found = re.search(r"export ENAS_KEY=(\S+)", log.read_text())
            try:
                if found and httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        yield url, found.group(1), log
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.slow
def test_the_readme_curl_session_runs_as_written(served, tmp_path):
    url, key, log = served
    script = readme_session()
    assert "export ENAS=http://127.0.0.1:8000 ENAS_KEY=enas_3q..." in script
    assert FOLLOWED_CONFIG in script
    script = script.replace("http://127.0.0.1:8000", url).replace("enas_3q...", key)
    script = script.replace(FOLLOWED_CONFIG, _tiny_config())
    work = tmp_path / "session"
    work.mkdir()
    (work / ".venv").symlink_to(ROOT / ".venv")
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=work,
                          capture_output=True, text=True, timeout=600)
    out = done.stdout
    assert done.returncode == 0, f"{out}\n{done.stderr}\n{log.read_text()[-3000:]}"
    assert "written: digits.npz (1,000 digits, 28x28, 10 classes)" in out
    assert '"num_samples":1000,"image_shape":[28,28,1]' in out
    assert '"status": "succeeded"' in out  # the event stream followed the job to its end
    assert '"status":"cancelled"' in out  # the queued job with limits, cancelled
    # No command answered an error (problem+json bodies carry "type":"about:blank").
    assert "about:blank" not in out, out
    for name in ("model.pt", "model.ts", "model.onnx"):
        assert (work / name).stat().st_size > 1000, name
    # The service's own log stayed quiet: no Alembic plugin lines, no Celery banner or its
    # warning about running as root (`enas serve --verbose` shows them).
    served = log.read_text()
    for noise in ("alembic", "[queues]", "superuser privileges", "Uvicorn running"):
        assert noise not in served, served
