"""Embedded mode: `enas serve` with no Postgres and no Redis (SQLite and the filesystem broker
under the data directory) runs a job end to end with the same task code."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tests.conftest import ROOT, TINY_JOB, free_port, stop_process_group, wait_for

pytestmark = pytest.mark.slow


def test_enas_serve_runs_a_job(tmp_path, digits_npz):
    data_dir = tmp_path / "enas"
    home = tmp_path / "home"  # the service must write nothing to the user's ~/.cache
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ENAS_") and k != "XDG_CACHE_HOME"}
    env.update(
        ENAS_DEVICE="cpu", ENAS_HEARTBEAT_INTERVAL_S="0.5", ENAS_SSE_POLL_S="0.2",
        PYTHONUNBUFFERED="1", HOME=str(home),
    )
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "launcher", "serve", "--data-dir", str(data_dir),
         "--port", str(port), "--demo"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        for raw in proc.stdout:  # type: ignore[union-attr]
            line = raw.decode(errors="replace")
            output.append(line)
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        key = demo_job = None
        deadline = time.monotonic() + 60
        while key is None or demo_job is None:
            assert time.monotonic() < deadline and proc.poll() is None, "".join(output)
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if "export ENAS_KEY=" in line:
                key = line.split("=", 1)[1].strip()
            if "Submitted a demo search on the bundled digits: job " in line:
                demo_job = line.rsplit(" ", 1)[1].strip()
        assert any(f"http://127.0.0.1:{port}" in line for line in output)
        # The dashboard's link signs in with the key; the demo's opens its job (printed with
        # the lines that follow the demo's, which the reader thread may not have read yet).
        assert any(f"dashboard: http://127.0.0.1:{port}/#/jobs?key={key}" in line
                   for line in output)
        demo_link = f"dashboard: http://127.0.0.1:{port}/#/jobs/{demo_job}?key={key}"
        wait_for(lambda: any(demo_link in line for line in list(output)), timeout=30,
                 what="the demo job's dashboard link")
        headers = {"Authorization": f"Bearer {key}"}

        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            # `--demo` (what `make run` uses) submitted the demo preset over HTTP; cancel it
            # so the one worker is free for the job under test.
            demo = http.get(f"/jobs/{demo_job}", headers=headers).json()
            assert demo["config"]["search"]["model"]["nodes"] == 5, demo
            assert demo["config"]["search"]["epochs"] == 4, demo  # the demo preset's
            http.post(f"/jobs/{demo_job}/cancel", headers=headers).raise_for_status()
            wait_for(
                lambda: http.get(f"/jobs/{demo_job}", headers=headers).json()["status"]
                == "cancelled",
                timeout=120, interval=0.5, what="the demo job to cancel",
            )
            # ... and `serve --demo` followed it to its end in the terminal
            wait_for(lambda: any("demo: cancelled" in line for line in output),
                     timeout=30, interval=0.5, what="the demo's progress lines")
            wait_for(lambda: _ok(http, "/healthz"), timeout=30, what="the API")
            ready = http.get("/readyz").json()
            assert ready == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}
            dataset = http.post(
                "/datasets", files={"file": ("digits.npz", digits_npz.read_bytes())},
                headers=headers,
            ).json()
            job = http.post(
                "/jobs", json={"dataset": dataset["id"], **TINY_JOB}, headers=headers
            ).json()
            done = wait_for(
                lambda: (j := http.get(f"/jobs/{job['id']}", headers=headers).json())["status"]
                in ("succeeded", "failed", "cancelled") and j,
                timeout=180, interval=0.5, what="the job",
            )
            assert done["status"] == "succeeded", "".join(output)[-4000:]
            history = http.get(f"/jobs/{job['id']}/history", headers=headers).json()
            assert [(r["phase"], r["epoch"]) for r in history["data"]] == [
                ("search", 1), ("search", 2), ("final", 1)
            ]
            architecture = http.get(f"/jobs/{job['id']}/architecture", headers=headers).json()
            assert len(architecture["arch"]["conv"]) == 8
            model = http.get(f"/jobs/{job['id']}/model", headers=headers)
            assert model.status_code == 200 and len(model.content) > 1000
            usage = done["usage"]  # the ledger on SQLite
            assert set(usage["phases"]) == {"search", "final"} and usage["images"] > 0
            totals = http.get("/usage", headers=headers).json()
            assert totals["jobs"] >= 1 and totals["devices"][0]["device"] == "cpu"

        # (The README's client script runs against `enas serve` in test_readme_session.)
        assert (data_dir / "enas.db").is_file()
        assert (data_dir / "broker").is_dir()
        assert (data_dir / "jobs" / job["id"] / "model.pt").is_file()
        # The latency tables the jobs measured are under the data directory.
        assert list((data_dir / "cache" / "latency").glob("*.json"))
        assert not (home / ".cache" / "enas").exists()
    finally:
        stop_process_group(proc, timeout=20)


def _ok(http: httpx.Client, path: str) -> bool:
    try:
        return http.get(path).status_code == 200
    except httpx.TransportError:
        return False
