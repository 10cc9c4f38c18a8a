"""Shared fixtures of the service tests (tests/api, tests/worker).

Real services, no mocks: a Postgres database made for this run and built by the Alembic
migrations, Redis as the broker (a queue of this run's own), a Celery worker subprocess, and a
uvicorn server for the end-to-end tests. Fast API tests run each in a transaction that is
rolled back (polar's tests/fixtures/database.py). Everything is created lazily, so engine-only
test runs start none of it.

ENAS_TEST_POSTGRES (an admin URL) and ENAS_TEST_REDIS override where those services are.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

# Test tensors are small: one thread per process is faster than two fighting over two cores
# (the test process, a worker subprocess and the server all run at once). Subprocesses inherit.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

# Latency tables measured by the tests stay out of the user's cache; one directory per run, so
# each network config is measured once per run (subprocess workers share it too).
if "ENAS_LATENCY_CACHE" not in os.environ:
    os.environ["ENAS_LATENCY_CACHE"] = tempfile.mkdtemp(prefix="enas-latency-")
    atexit.register(shutil.rmtree, os.environ["ENAS_LATENCY_CACHE"], ignore_errors=True)

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get(
    "ENAS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("ENAS_TEST_REDIS", "redis://127.0.0.1:6379/3")
RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
MAX_UPLOAD_BYTES = 2 * 1024 * 1024

# A job that finishes in seconds on a CPU: 2 search epochs, 1 final epoch, tiny networks.
TINY_JOB: dict[str, Any] = {
    "layers": 3,
    "channels": 8,
    "nodes": 2,
    "search_epochs": 2,
    "steps_per_epoch": 2,
    "search_batch_size": 32,
    "eval_batch_size": 32,
    "controller_train_steps": 2,
    "controller_num_aggregate": 2,
    "num_candidates": 2,
    "eval_batches": 1,
    "top_k": 2,
    "final_epochs": 1,
    "final_layers": 3,
    "final_channels": 8,
    "final_steps_per_epoch": 2,
    "final_batch_size": 32,
}
FINAL_STATUSES = ("succeeded", "failed", "cancelled")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The heaviest files first (the CPU-seconds their `slow` marks declare, `cpu_s`, 10 for
    a slow test that declares none), each file's tests kept together and in order: `make
    test`'s processes take files in this order, so a long file started last cannot hold the
    whole run up while the others sit idle."""
    weight: dict[Path, float] = {}
    for item in items:
        mark = item.get_closest_marker("slow")
        weight[item.path] = weight.get(item.path, 0) + (mark.kwargs.get("cpu_s", 10) if mark
                                                        else 0)
    items.sort(key=lambda item: -weight[item.path])


# -- data -------------------------------------------------------------------------------------


def digits_arrays(n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Real MNIST digits (the engine's bundled sample), pooled to 8x8 so jobs run in seconds."""
    import enas_core

    blob = np.load(Path(enas_core.__file__).parent / "datasets" / "mnist-5k.npz")
    x = blob["x"][:n, 2:26, 2:26].reshape(n, 8, 3, 8, 3).mean(axis=(2, 4)).astype(np.uint8)
    return x, blob["y"][:n].astype(np.int64)


@pytest.fixture(scope="session")
def digits_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "digits.npz"
    x, y = digits_arrays()
    np.savez(path, x=x, y=y)
    return path


# -- Postgres, settings -----------------------------------------------------------------------


def _admin_execute(sql: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def database_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def make_database() -> Iterator[Callable[[str], str]]:
    """Creates empty Postgres databases (dropped at the end); returns their URLs."""
    made: list[str] = []

    def make(suffix: str) -> str:
        name = f"enas_test_{RUN_ID}_{suffix}"
        _admin_execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return database_url(name)

    yield make
    from enas_service.db import _engine_for

    _engine_for.cache_clear()
    for name in made:
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def service_env(
    make_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """ENAS_* settings of this run (inherited by the worker subprocess): a migrated Postgres
    database, Redis, a temp data directory, fast heartbeats."""
    url = make_database("main")
    env = {
        "ENAS_DATABASE_URL": url,
        "ENAS_BROKER_URL": REDIS_URL,
        "ENAS_DATA_DIR": str(tmp_path_factory.mktemp("enas-data")),
        "ENAS_QUEUE": f"gpu-test-{RUN_ID}",
        "ENAS_DEVICE": "cpu",
        "ENAS_HEARTBEAT_INTERVAL_S": "0.5",
        "ENAS_CANCEL_POLL_S": "0.2",
        "ENAS_STALE_AFTER_S": "4",
        "ENAS_REAPER_INTERVAL_S": "1",
        "ENAS_SSE_POLL_S": "0.2",
        "ENAS_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    _clear_caches()
    from enas_service.migrate import upgrade

    upgrade(url)
    yield env
    _purge_queue(env["ENAS_QUEUE"])
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    _clear_caches()


def _clear_caches() -> None:
    from enas_service.queue import get_celery
    from enas_service.settings import get_settings

    get_settings.cache_clear()
    get_celery.cache_clear()


def _purge_queue(queue: str) -> None:
    """Drop this run's queue, and its messages a killed worker left unacknowledged."""
    import json

    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.delete(queue)
        for key in client.scan_iter(f"_kombu.binding*.{queue}"):
            client.delete(key)
        for tag, payload in client.hgetall("unacked").items():
            try:
                routing_key = json.loads(payload)[2]
            except (ValueError, IndexError, TypeError):
                continue
            if routing_key == queue:
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
    finally:
        client.close()


@pytest.fixture(scope="session")
def rollback_database(service_env: dict[str, str], make_database: Callable[[str], str]) -> str:
    """The database of the rolled-back tests: apart from the one the live stack (uvicorn, the
    worker) commits to, so that what those tests count does not depend on which tests ran
    before them in the same process (pytest-xdist hands out files in any order)."""
    from enas_service.migrate import upgrade

    url = make_database("rollback")
    upgrade(url)
    return url


@pytest.fixture
def db_session(
    rollback_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A session in a transaction that is rolled back after the test (in a database no live
    server or worker writes to), and a data directory of the test's own."""
    from sqlalchemy.orm import Session

    from enas_service.db import get_engine
    from enas_service.settings import get_settings

    monkeypatch.setenv("ENAS_DATABASE_URL", rollback_database)
    monkeypatch.setenv("ENAS_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    with get_engine().connect() as connection:
        transaction = connection.begin()
        session = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            session.close()
            transaction.rollback()
            monkeypatch.undo()
            get_settings.cache_clear()


@pytest.fixture
def client(db_session: Any) -> Iterator[Any]:
    """A TestClient whose requests use `db_session` (committing only its savepoints)."""
    from fastapi.testclient import TestClient

    from api.deps import get_session
    from api.main import app
    from enas_service.db import commit

    def session_override() -> Iterator[Any]:
        try:
            yield db_session
            commit(db_session)
        except BaseException:
            db_session.rollback()
            raise

    app.dependency_overrides[get_session] = session_override
    try:
        with TestClient(app, raise_server_exceptions=False) as test_client:
            yield test_client
    finally:
        app.dependency_overrides.clear()


def make_key(session: Any, owner: str) -> dict[str, str]:
    from enas_service.apikeys import create_key

    return {"Authorization": f"Bearer {create_key(session, owner=owner)}"}


@pytest.fixture
def alice(db_session: Any) -> dict[str, str]:
    """Auth headers of one owner."""
    headers = make_key(db_session, "alice")
    db_session.commit()  # releases the savepoint: a failed request's rollback keeps the key
    return headers


@pytest.fixture
def bob(db_session: Any) -> dict[str, str]:
    """Auth headers of another owner."""
    headers = make_key(db_session, "bob")
    db_session.commit()
    return headers


# -- the live stack: uvicorn + a Celery worker subprocess ---------------------------------------


def stop_process_group(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM the process group `proc` leads (started with `start_new_session=True`), and
    SIGKILL it if it has not exited within `timeout` seconds."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_url(service_env: dict[str, str]) -> Iterator[str]:
    """The API served by uvicorn (in a thread) over real HTTP, committing to Postgres."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config("api.main:app", host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def unread_queue(service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Jobs submitted during the test (to the live server, in this process) go to a queue no
    worker reads, so they stay queued until cancelled, even where another test of this process
    started `worker`. Returns the queue's name; it is purged after the test."""
    queue = f"{service_env['ENAS_QUEUE']}-unread"
    monkeypatch.setenv("ENAS_QUEUE", queue)
    _clear_caches()
    yield queue
    monkeypatch.undo()
    _clear_caches()
    _purge_queue(queue)


@pytest.fixture(scope="session")
def live_keys(service_env: dict[str, str]) -> dict[str, dict[str, str]]:
    """Committed API keys of two owners, as auth headers."""
    from enas_service.db import session_scope

    with session_scope() as session:
        return {owner: make_key(session, owner) for owner in ("alice", "bob")}


class WorkerProcess:
    """`python -m launcher worker` (prefork with one child, as in production, plus the
    reaper thread) in its own process group, logging to a file; `kill()` is SIGKILL to the
    whole group (the machine is gone)."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"worker-{self.starts}.log"

    def start(self, timeout: float = 60) -> None:
        self.starts += 1
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed by the child's exit
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "launcher", "worker", "--reaper"],  # prefork, 1 child
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while b" ready." not in self.log_path.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("worker did not start:\n" + self.log_path.read_text())
            time.sleep(0.2)

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_process_group(self.proc, timeout=15)

    def logs(self) -> str:
        return "\n".join(
            (self.log_dir / f"worker-{i}.log").read_text(errors="replace")
            for i in range(1, self.starts + 1)
        )


@pytest.fixture(scope="session")
def worker(
    service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """One real Celery worker process shared by the end-to-end tests."""
    process = WorkerProcess(service_env, tmp_path_factory.mktemp("worker-logs"))
    process.start()
    yield process
    process.stop()


def wait_for(
    predicate: Callable[[], Any], *, timeout: float, interval: float = 0.2, what: str = ""
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def wait() -> Callable[..., Any]:
    return wait_for
