"""API benchmark against the real stack: requests per second and p50/p99 latency of
GET /jobs/{id} and POST /jobs under concurrent clients, and the time from POST /jobs to a
worker starting the job.

By default it brings the stack up itself: a fresh Postgres database (migrated), a Redis queue
of its own, the API as `enas api` (uvicorn) and one `enas worker` process. With --url and --key
it measures a running deployment instead (whose workers then run the submitted jobs; keep
--start-samples small there).

    .venv/bin/python bench/api.py [--clients 16] [--seconds 10] [--api-workers 1]

Prints a table and writes bench/results/api.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# A job small enough to start at once on any machine (the benchmark cancels it right away).
TINY = {
    "dataset": "digits", "layers": 3, "channels": 8, "nodes": 2, "search_epochs": 1,
    "steps_per_epoch": 2, "controller_train_steps": 1, "controller_num_aggregate": 1,
    "num_candidates": 1, "eval_batches": 1, "final_epochs": 0,
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def load(
    url: str, headers: dict[str, str], *, method: str, path: str, body: Any, clients: int,
    seconds: float,
) -> dict[str, Any]:
    """`clients` concurrent clients, each sending requests back to back for `seconds`."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits,
                                 timeout=30) as http:
        stop = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                try:
                    r = await http.request(method, path, json=body)
                    ok = r.status_code < 400
                    key = str(r.status_code)
                except httpx.HTTPError as exc:
                    ok, key = False, type(exc).__name__
                if ok:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors[key] = errors.get(key, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return {
        "endpoint": f"{method} {path}",
        "clients": clients,
        "seconds": round(elapsed, 2),
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1e3, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1e3, 2),
        "mean_ms": round(statistics.fmean(latencies) * 1e3, 2) if latencies else None,
    }


def post_to_start(url: str, headers: dict[str, str], samples: int) -> dict[str, Any]:
    """Submit a job, wait until a worker has claimed it (status running), cancel it; the
    latency is the job's started_at - created_at (server clock)."""
    latencies = []
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        for _ in range(samples):
            job = http.post("/jobs", json=TINY).json()
            deadline = time.monotonic() + 120
            while True:
                current = http.get(f"/jobs/{job['id']}").json()
                if current["status"] != "queued" or time.monotonic() > deadline:
                    break
                time.sleep(0.01)
            if current["started_at"]:
                created = datetime.fromisoformat(current["created_at"])
                started = datetime.fromisoformat(current["started_at"])
                latencies.append((started - created).total_seconds())
            http.post(f"/jobs/{job['id']}/cancel")
            while http.get(f"/jobs/{job['id']}").json()["status"] in ("queued", "running"):
                time.sleep(0.05)
    return {
        "samples": len(latencies),
        "p50_ms": round(percentile(latencies, 0.5) * 1e3, 1),
        "max_ms": round(max(latencies) * 1e3, 1) if latencies else None,
        "all_ms": [round(v * 1e3, 1) for v in latencies],
    }


# -- bringing the stack up --------------------------------------------------------------------


class Stack:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.db_name = f"enas_bench_{self.run}"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.data_dir = Path(f"/tmp/enas-bench-{self.run}")
        admin = args.postgres
        self.env = {
            **os.environ,
            "ENAS_DATABASE_URL": admin.rsplit("/", 1)[0] + "/" + self.db_name,
            "ENAS_BROKER_URL": args.redis,
            "ENAS_QUEUE": f"bench-{self.run}",
            "ENAS_DATA_DIR": str(self.data_dir),
            "ENAS_DEVICE": "cpu",
            "ENAS_CANCEL_POLL_S": "0.2",
        }
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def _admin(self, sql: str) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.args.postgres, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(sql))
        engine.dispose()

    def _cli(self, *argv: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "launcher", *argv], cwd=ROOT, env=self.env, check=True,
            capture_output=True, text=True,
        ).stdout.strip()

    def up(self) -> str:
        self._admin(f'CREATE DATABASE "{self.db_name}"')
        self._cli("db", "upgrade")
        key = self._cli("keys", "create", "--owner", "bench").splitlines()[-1]
        self.procs.append(self._spawn(
            "api", "--port", str(self.port), "--no-migrate", "--workers",
            str(self.args.api_workers),
        ))
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.2)
        return key

    def _spawn(self, *argv: str) -> subprocess.Popen[bytes]:
        log = open(self.data_dir / f"{argv[0]}.log", "ab")  # noqa: SIM115
        return subprocess.Popen(
            [sys.executable, "-m", "launcher", *argv], cwd=ROOT, env=self.env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def drop_queued(self) -> None:
        """The POST load left thousands of queued jobs: cancel them and drop their messages,
        so that the worker starts with an empty queue."""
        import redis
        from sqlalchemy import create_engine, text

        engine = create_engine(self.env["ENAS_DATABASE_URL"])
        with engine.begin() as conn:
            conn.execute(text("UPDATE jobs SET status = 'cancelled' WHERE status = 'queued'"))
        engine.dispose()
        client = redis.Redis.from_url(self.args.redis)
        client.delete(self.env["ENAS_QUEUE"])
        client.close()

    def start_worker(self) -> None:
        proc = self._spawn("worker", "--pool=solo")
        self.procs.append(proc)
        log = self.data_dir / "worker.log"
        deadline = time.monotonic() + 120
        while b" ready." not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the worker did not start:\n" + log.read_text())
            time.sleep(0.2)

    def down(self) -> None:
        import redis

        client = redis.Redis.from_url(self.args.redis)
        for key in client.scan_iter(f"_kombu.binding*.{self.env['ENAS_QUEUE']}"):
            client.delete(key)
        client.delete(self.env["ENAS_QUEUE"])
        client.close()
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        try:
            self._admin(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        finally:
            import shutil

            shutil.rmtree(self.data_dir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running service (default: start one)")
    parser.add_argument("--key", help="its API key")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--start-samples", type=int, default=5)
    parser.add_argument("--api-workers", type=int, default=1, help="uvicorn processes")
    parser.add_argument("--postgres", default=os.environ.get(
        "ENAS_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--redis", default=os.environ.get(
        "ENAS_BENCH_REDIS", "redis://127.0.0.1:6379/4"))
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "api.json")
    args = parser.parse_args()

    stack = None
    if args.url:
        url, key = args.url.rstrip("/"), args.key
        if not key:
            parser.error("--url needs --key")
    else:
        stack = Stack(args)
        stack.data_dir.mkdir(parents=True)
        url = stack.url
    try:
        if stack is not None:
            key = stack.up()
        headers = {"Authorization": f"Bearer {key}"}
        job = httpx.post(f"{url}/jobs", json=TINY, headers=headers, timeout=30).json()
        if args.url:
            httpx.post(f"{url}/jobs/{job['id']}/cancel", headers=headers, timeout=30)
        results = [
            asyncio.run(load(url, headers, method="GET", path=f"/jobs/{job['id']}", body=None,
                             clients=args.clients, seconds=args.seconds)),
            asyncio.run(load(url, headers, method="POST", path="/jobs", body=TINY,
                             clients=args.clients, seconds=args.seconds)),
        ]
        results[0]["endpoint"] = "GET /jobs/{id}"
        if stack is not None:
            stack.drop_queued()
            stack.start_worker()
        start = post_to_start(url, headers, args.start_samples)
    finally:
        if stack is not None:
            stack.down()

    report = {
        "when": datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "stack": "given" if args.url else
        f"Postgres + Redis + uvicorn ({args.api_workers} process) + 1 Celery worker, local",
        "clients": args.clients,
        "load": results,
        "post_to_start": start,
    }
    print(f"{'endpoint':<16} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} errors")
    for r in results:
        print(f"{r['endpoint']:<16} {r['clients']:>7} {r['rps']:>8} {r['p50_ms']:>8} "
              f"{r['p99_ms']:>8} {r['errors'] or ''}")
    print(f"POST /jobs -> worker started: p50 {start['p50_ms']} ms, max {start['max_ms']} ms "
          f"({start['samples']} jobs)")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
