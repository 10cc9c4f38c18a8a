"""API benchmark against the real stack: requests per second, p50/p99 latency, timeouts and
errors of the read paths (`GET /jobs/{id}`, `GET /jobs?limit=50`) with 1,000 jobs in Postgres,
at rising numbers of concurrent clients (to 256 by default) while SSE streams stay open; then
`POST /jobs` and the time from `POST /jobs` to a worker starting the job.

By default it brings the stack up itself: a fresh Postgres database (migrated), a Redis queue
of its own, the API as `enas api` (uvicorn, `--api-workers` processes) and, for the last
measure, one `enas worker` process. `--app-root DIR` runs the API of another checkout (the
figures before a change). With --url and --key it measures a running deployment instead (the
1,000 jobs are then those the key already has; keep --start-samples small there).

    .venv/bin/python bench/api.py [--levels 16,64,256] [--sse 0.1] [--seconds 8]

Prints a table and writes bench/results/api.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
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


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the service `Stack` runs: which checkout, which Postgres and Redis."""
    parser.add_argument("--app-root", type=Path,
                        help="run the API of this checkout (default: this one)")
    parser.add_argument("--postgres", default=os.environ.get(
        "ENAS_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--redis", default=os.environ.get(
        "ENAS_BENCH_REDIS", "redis://127.0.0.1:6379/4"))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _ms(value: float) -> float | None:
    return None if value != value else round(value * 1e3, 2)  # NaN: no sample


class Tally:
    """Latencies of the answered requests, timeouts and errors (by status or exception)."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.timeouts = 0
        self.errors: dict[str, int] = {}

    async def send(self, http: httpx.AsyncClient, method: str, path: str, body: Any) -> None:
        t0 = time.perf_counter()
        try:
            r = await http.request(method, path, json=body)
        except httpx.TimeoutException:
            self.timeouts += 1
            return
        except httpx.HTTPError as exc:
            self.errors[type(exc).__name__] = self.errors.get(type(exc).__name__, 0) + 1
            return
        if r.status_code < 400:
            self.latencies.append(time.perf_counter() - t0)
        else:
            self.errors[str(r.status_code)] = self.errors.get(str(r.status_code), 0) + 1

    async def get_raw(self, conn: RawConnection, path: str, timeout: float) -> None:
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                status = await conn.get(path)
        except TimeoutError:
            conn.close()
            self.timeouts += 1
            return
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            conn.close()
            self.errors[type(exc).__name__] = self.errors.get(type(exc).__name__, 0) + 1
            return
        if status < 400:
            self.latencies.append(time.perf_counter() - t0)
        else:
            self.errors[str(status)] = self.errors.get(str(status), 0) + 1

    def report(self, elapsed: float) -> dict[str, Any]:
        return {
            "requests": len(self.latencies),
            "rps": round(len(self.latencies) / elapsed, 1),
            "p50_ms": _ms(percentile(self.latencies, 0.50)),
            "p99_ms": _ms(percentile(self.latencies, 0.99)),
            "max_ms": _ms(max(self.latencies)) if self.latencies else None,
            "mean_ms": round(statistics.fmean(self.latencies) * 1e3, 2)
            if self.latencies else None,
            "timeouts": self.timeouts,
            "errors": self.errors,
        }


class RawConnection:
    """One keep-alive HTTP/1.1 connection that sends GETs and reads whole answers: the load
    generator's own cost per request is a fraction of httpx's (about 8 ms of CPU per request
    on the 2-core VM, more than the API's own), so that beside the API on the same cores it
    measures the API rather than itself. Answers must have a Content-Length (the API's reads
    do); an answer that says `Connection: close`, or an error, opens a new connection."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        host, port = url.removeprefix("http://").rstrip("/").split(":")
        self.host, self.port = host, int(port)
        self.head = "".join(f"{k}: {v}\r\n" for k, v in
                            {"Host": f"{host}:{port}", **headers}.items()).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\n" + self.head + b"\r\n")
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, close = None, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if length is None:
            raise ValueError("an answer without Content-Length")
        await self.reader.readexactly(length)
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def sse_stream(http: httpx.AsyncClient, path: str, stop: float,
                     result: dict[str, Any]) -> None:
    """One open event stream until `stop`: counts it opened once its first event came."""
    t0 = time.perf_counter()
    try:
        async with http.stream("GET", path, timeout=httpx.Timeout(10, read=30)) as r:
            if r.status_code != 200:
                result["errors"][str(r.status_code)] = result["errors"].get(
                    str(r.status_code), 0) + 1
                return
            async def read() -> None:
                first = True
                async for line in r.aiter_lines():
                    if first and line.startswith("event:"):
                        first = False
                        result["opened"] += 1
                        result["first_event_s"].append(time.perf_counter() - t0)

            try:
                await asyncio.wait_for(read(), max(stop - time.perf_counter(), 0.01))
            except TimeoutError:
                pass
            result["held"] += 1
    except httpx.TimeoutException:
        result["timeouts"] += 1
    except httpx.HTTPError as exc:
        result["errors"][type(exc).__name__] = result["errors"].get(type(exc).__name__, 0) + 1


async def read_load(
    url: str, headers: dict[str, str], *, job_ids: list[str], sse_job: str | None,
    clients: int, sse: int, seconds: float, timeout: float, client: str = "raw",
) -> dict[str, Any]:
    """`clients` concurrent clients for `seconds`: `sse` of them hold an event stream open, the
    others send reads back to back, alternating `GET /jobs/{id}` (a random one of `job_ids`)
    and `GET /jobs?limit=50`, each on a keep-alive connection of its own (`client`: "raw",
    RawConnection, or "httpx", one AsyncClient's pool)."""
    readers = clients - sse
    by_path = {"GET /jobs/{id}": Tally(), "GET /jobs?limit=50": Tally()}
    streams: dict[str, Any] = {"opened": 0, "held": 0, "timeouts": 0, "errors": {},
                               "first_event_s": []}
    limits = httpx.Limits(max_connections=clients + 8, max_keepalive_connections=clients + 8)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits,
                                 timeout=timeout) as http:
        stop = time.perf_counter() + seconds

        async def reader(i: int) -> None:
            rng = random.Random(i)
            one = i % 2 == 0
            conn = RawConnection(url, headers) if client == "raw" else None
            while time.perf_counter() < stop:
                path, tally = ((f"/jobs/{rng.choice(job_ids)}", by_path["GET /jobs/{id}"])
                               if one else ("/jobs?limit=50", by_path["GET /jobs?limit=50"]))
                if conn is not None:
                    await tally.get_raw(conn, path, timeout)
                else:
                    await tally.send(http, "GET", path, None)
                one = not one
            if conn is not None:
                conn.close()

        tasks = [sse_stream(http, f"/jobs/{sse_job}/events", stop, streams)
                 for _ in range(sse if sse_job else 0)]
        started = time.perf_counter()
        await asyncio.gather(*tasks, *(reader(i) for i in range(readers)))
        elapsed = time.perf_counter() - started
    first = streams.pop("first_event_s")
    streams["first_event_p50_ms"] = _ms(percentile(first, 0.5))
    streams["first_event_max_ms"] = _ms(max(first)) if first else None
    total = Tally()
    for tally in by_path.values():
        total.latencies += tally.latencies
        total.timeouts += tally.timeouts
        for k, v in tally.errors.items():
            total.errors[k] = total.errors.get(k, 0) + v
    return {
        "clients": clients, "client": client, "readers": readers,
        "sse_streams": sse if sse_job else 0,
        "seconds": round(elapsed, 2),
        **total.report(elapsed),
        "by_endpoint": {k: v.report(elapsed) for k, v in by_path.items()},
        "sse": streams,
    }


async def write_load(url: str, headers: dict[str, str], *, clients: int, seconds: float,
                     timeout: float) -> dict[str, Any]:
    tally = Tally()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits,
                                 timeout=timeout) as http:
        stop = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < stop:
                await tally.send(http, "POST", "/jobs", TINY)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return {"endpoint": "POST /jobs", "clients": clients, "seconds": round(elapsed, 2),
            **tally.report(elapsed)}


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
        "p50_ms": round(percentile(latencies, 0.5) * 1e3, 1) if latencies else None,
        "max_ms": round(max(latencies) * 1e3, 1) if latencies else None,
        "all_ms": [round(v * 1e3, 1) for v in latencies],
    }


# -- bringing the stack up --------------------------------------------------------------------


class Stack:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.root = (args.app_root or ROOT).resolve()
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
            "ENAS_MAX_QUEUED_JOBS_PER_OWNER": "0",  # the POST load queues thousands
            "PYTHONPATH": str(self.root),
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
            [sys.executable, "-m", "launcher", *argv], cwd=self.root, env=self.env, check=True,
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

    def copy_job(self, job_id: str, copies: int) -> None:
        """`copies` more rows like the job (cancelled, new ids), straight into Postgres."""
        from sqlalchemy import MetaData, Table, create_engine, text

        engine = create_engine(self.env["ENAS_DATABASE_URL"])
        jobs = Table("jobs", MetaData(), autoload_with=engine)
        columns = [c.name for c in jobs.columns if c.name not in ("id", "idempotency_key")]
        names = ", ".join(columns)
        with engine.begin() as conn:
            conn.execute(text(
                f"INSERT INTO jobs (id, {names}) SELECT gen_random_uuid(), {names} "
                "FROM jobs CROSS JOIN generate_series(1, :n) WHERE id = :id"
            ), {"n": copies, "id": job_id})
        engine.dispose()

    def _spawn(self, *argv: str) -> subprocess.Popen[bytes]:
        log = open(self.data_dir / f"{argv[0]}.log", "ab")  # noqa: SIM115
        return subprocess.Popen(
            [sys.executable, "-m", "launcher", *argv], cwd=self.root, env=self.env,
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


def _group_cpu_s(pgid: int) -> float:
    """CPU seconds (user + system) of the processes of a process group (the API's)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _job_ids(url: str, headers: dict[str, str], want: int) -> list[str]:
    ids: list[str] = []
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        while len(ids) < want:
            page = http.get("/jobs", params={"limit": 500, "offset": len(ids)}).json()["data"]
            if not page:
                break
            ids += [job["id"] for job in page]
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running service (default: start one)")
    parser.add_argument("--key", help="its API key")
    parser.add_argument("--levels", default="16,64,256",
                        help="concurrent clients, one read load per level")
    parser.add_argument("--sse", type=float, default=0.1,
                        help="the share of each level's clients that hold an SSE stream open")
    parser.add_argument("--seconds", type=float, default=8, help="per level")
    parser.add_argument("--timeout", type=float, default=10,
                        help="a request not answered in this many seconds is a timeout")
    parser.add_argument("--jobs", type=int, default=1000, help="jobs in the database")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw",
                        help="the read load's client: raw keep-alive connections on uvloop "
                        "(cheap), or httpx on asyncio's loop (this benchmark's before issue "
                        "18; about 8 ms of CPU per request on the 2-core VM)")
    parser.add_argument("--post-clients", type=int, default=16, help="0: no POST load")
    parser.add_argument("--start-samples", type=int, default=5, help="0: no worker")
    parser.add_argument("--api-workers", type=int, default=1, help="uvicorn processes")
    add_stack_arguments(parser)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "api.json")
    args = parser.parse_args(argv)
    levels = [int(n) for n in args.levels.split(",")]

    stack = None
    if args.url:
        url, key = args.url.rstrip("/"), args.key
        if not key:
            parser.error("--url needs --key")
    else:
        stack = Stack(args)
        stack.data_dir.mkdir(parents=True)
        url = stack.url
    reads: list[dict[str, Any]] = []
    writes: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    try:
        if stack is not None:
            key = stack.up()
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            job = http.post("/jobs", json=TINY).json()
            http.post(f"/jobs/{job['id']}/cancel")
            # An SSE stream stays open on a job that no worker runs during the read load.
            sse_job = http.post("/jobs", json={**TINY, "name": "sse"}).json()["id"] \
                if stack is not None else None
        if stack is not None and args.jobs > 2:
            stack.copy_job(job["id"], args.jobs - 2)
        job_ids = _job_ids(url, headers, args.jobs)
        for clients in levels:
            sse = round(clients * args.sse) if sse_job else 0
            load = read_load(url, headers, job_ids=job_ids, sse_job=sse_job, clients=clients,
                             sse=sse, seconds=args.seconds, timeout=args.timeout,
                             client=args.client)
            api = stack.procs[0].pid if stack is not None and Path("/proc").is_dir() else None
            cpu0, load_before = (_group_cpu_s(api) if api else 0.0), os.getloadavg()[0]
            reads.append(_run_raw(load) if args.client == "raw" else asyncio.run(load))
            # What the API got of the machine (it shares it with the load generator here).
            reads[-1]["load_avg_before"] = round(load_before, 2)
            if api:
                reads[-1]["api_cpu_cores"] = round(
                    (_group_cpu_s(api) - cpu0) / reads[-1]["seconds"], 2)
            _print_read(reads[-1])
        if args.post_clients:
            writes.append(asyncio.run(write_load(url, headers, clients=args.post_clients,
                                                 seconds=args.seconds, timeout=args.timeout)))
        if args.start_samples:
            if stack is not None:
                stack.drop_queued()
                stack.start_worker()
            try:
                start = post_to_start(url, headers, args.start_samples)
            except httpx.HTTPError as exc:  # the API did not recover from the load
                start = {"error": f"{type(exc).__name__}: {exc}"}
                print(f"POST /jobs -> worker started: {start['error']}")
    finally:
        if stack is not None:
            stack.down()

    report = {
        "when": datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(),
                    "load_avg": [round(v, 2) for v in os.getloadavg()]},
        "stack": "given" if args.url else
        f"Postgres + Redis + uvicorn ({args.api_workers} process) + 1 Celery worker, local",
        "app_root": str(stack.root) if stack else None,
        "jobs": len(job_ids),
        "reads": reads,
        "writes": writes,
        "post_to_start": start,
    }
    for w in writes:
        print(f"writes: {w['clients']:>4} clients POST /jobs: {w['rps']:>7} req/s, p50 "
              f"{w['p50_ms']} ms, p99 {w['p99_ms']} ms, timeouts {w['timeouts']}, errors "
              f"{w['errors'] or 0}")
    if start and "error" not in start:
        print(f"POST /jobs -> worker started: p50 {start['p50_ms']} ms, max {start['max_ms']} "
              f"ms ({start['samples']} jobs)")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {args.output}")
    return 0


def _run_raw(load: Any) -> Any:
    try:
        import uvloop
    except ImportError:  # uvicorn[standard] brings it; without, asyncio's loop
        return asyncio.run(load)
    return uvloop.run(load)


def _print_read(r: dict[str, Any]) -> None:
    sse = r["sse"]
    print(f"reads: {r['clients']:>4} clients ({r['sse_streams']} SSE, {r['client']}): "
          f"{r['rps']:>7} req/s, "
          f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, timeouts {r['timeouts']}, errors "
          f"{r['errors'] or 0}; SSE opened {sse['opened']}, held {sse['held']}, "
          f"timeouts {sse['timeouts']}, errors {sse['errors'] or 0}; API CPU "
          f"{r.get('api_cpu_cores', '?')} cores, load {r.get('load_avg_before', '?')}",
          flush=True)


if __name__ == "__main__":
    sys.exit(main())
