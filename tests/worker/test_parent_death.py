"""`enas serve` killed with SIGKILL (an out-of-memory kill) takes its worker with it: the
worker must not live on as an orphan consuming the queue. And what an earlier serve killed
mid-upload left behind is swept at start-up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port, wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields after the command name; None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()


def alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")  # a zombie has exited


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and fields[1] == str(pid):
            found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _left_behind(data_dir: Path) -> list[Path]:
    """A temp upload and a dataset folder whose row never came, two hours old."""
    paths = [data_dir / "tmp" / "upload-0123.zip",
             data_dir / "datasets" / str(uuid.uuid4()) / "_canonical.npz"]
    when = time.time() - 7200
    for path in paths:
        path.parent.mkdir(parents=True)
        path.write_bytes(b"partial")
        os.utime(path, (when, when))
        os.utime(path.parent, (when, when))
    return paths


@pytest.mark.slow
def test_the_worker_exits_when_enas_serve_is_killed(tmp_path):
    left = _left_behind(tmp_path / "enas")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENAS_")}
    env.update(ENAS_DEVICE="cpu", PYTHONUNBUFFERED="1")
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "launcher", "serve", "--data-dir", str(tmp_path / "enas"),
             "--port", str(free_port())],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        worker = wait_for(
            lambda: next((p for p in children(serve.pid) if " worker " in _cmdline(p)), None),
            timeout=60, what="enas serve's worker process",
        )
        # The worker is up and consuming (it inherits serve's output).
        wait_for(lambda: b" ready." in log.read_bytes(), timeout=120, what="the worker")
        assert not left[0].exists() and not left[1].parent.exists()  # swept at start-up
        assert f"--parent-pid={serve.pid}" in _cmdline(worker)
        os.kill(serve.pid, signal.SIGKILL)  # the parent only, not its process group
        serve.wait(timeout=10)
        wait_for(lambda: not alive(worker), timeout=30, what="the orphaned worker to exit")
    finally:
        try:
            os.killpg(serve.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
