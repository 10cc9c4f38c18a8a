"""A Redis that restarts empty (no persistence, after a crash) loses the queued jobs' messages;
the database still says they are queued, and the reaper sends them again, so every job runs.
The test runs a Redis server of its own, on a free port, and kills it."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from enas_service.db import session_scope
from enas_service.models import Job
from tests.conftest import TINY_JOB, WorkerProcess, free_port, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1200),  # waits up to 540 s for its jobs
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]


class RedisServer:
    """redis-server without persistence on `port`; `restart()` is a crash and a fresh start."""

    def __init__(self, port: int, folder: Path) -> None:
        self.port, self.folder = port, folder
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_for(answers, timeout=30, what="redis-server to answer")
        client.close()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def run_id(self) -> str:
        """The server's run id: a new one after each start (nothing carried over)."""
        import redis

        client = redis.Redis(port=self.port)
        try:
            return client.info("server")["run_id"]
        finally:
            client.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path)
    server.start()
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.kill()


def _upload(digits_npz: Path, tmp_path: Path) -> uuid.UUID:
    """The 8x8 digits stored as an upload is (jobs on them take seconds)."""
    from api.services.datasets import create_dataset

    copy = tmp_path / "digits.npz"
    shutil.copyfile(digits_npz, copy)
    with session_scope() as session:
        dataset = create_dataset(session, owner="alice", tmp_path=copy, filename="digits.npz",
                                 size=copy.stat().st_size, name=None)
    return dataset.id


def _queue_job(config: dict, dataset_id: uuid.UUID) -> uuid.UUID:
    from enas_service.queue import enqueue_run_job

    with session_scope() as session:
        job = Job(owner="alice", dataset_id=dataset_id, request={"dataset": str(dataset_id)},
                  config=config)
        session.add(job)
    enqueue_run_job(job.id)
    return job.id


def _statuses(ids: list[uuid.UUID]) -> list[str]:
    with session_scope() as session:
        return [session.get(Job, job_id).status.value for job_id in ids]


def test_jobs_queued_when_redis_restarts_empty_all_run(
    service_env, own_redis, digits_npz, tmp_path, monkeypatch
):
    from api.schemas import JobCreate
    from api.services.submission import build_run_config
    from enas_core.config import to_dict
    from enas_service.queue import get_celery
    from enas_service.settings import get_settings

    env = {
        **service_env,
        "ENAS_BROKER_URL": f"redis://127.0.0.1:{own_redis.port}/0",
        "ENAS_QUEUE": f"broker-loss-{uuid.uuid4().hex[:8]}",
        "ENAS_REQUEUE_AFTER_S": "1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    get_celery.cache_clear()
    worker = WorkerProcess(env, tmp_path)
    worker.start()
    try:
        tiny = to_dict(build_run_config(JobCreate(dataset="digits", **TINY_JOB)))
        longer = to_dict(build_run_config(
            JobCreate(dataset="digits", **{**TINY_JOB, "search_epochs": 4})))
        dataset = _upload(digits_npz, tmp_path)
        ids = [_queue_job(longer, dataset), _queue_job(tiny, dataset), _queue_job(tiny, dataset)]
        wait_for(lambda: _statuses(ids)[0] == "running", timeout=120, what="the first job")
        assert _statuses(ids)[1:] == ["queued", "queued"]

        before = own_redis.run_id()
        own_redis.kill()  # a crash: no persistence, so the queued messages are gone
        own_redis.start()
        assert own_redis.run_id() != before

        wait_for(lambda: all(s in ("succeeded", "failed", "cancelled") for s in _statuses(ids)),
                 timeout=420, interval=0.5, what="every job to finish")
        assert _statuses(ids) == ["succeeded"] * 3, worker.logs()[-4000:]
        assert "the broker no longer holds its message" in worker.logs()
    finally:
        worker.stop()
        get_settings.cache_clear()
        get_celery.cache_clear()
