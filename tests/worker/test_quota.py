"""ENAS_MAX_RUNNING_JOBS_PER_OWNER: a worker does not start a job whose owner already runs that
many; the job stays queued and its task is sent again for later. Real Postgres and Redis."""

from __future__ import annotations

import json

import pytest
import redis

from enas_service.db import session_scope
from enas_service.models import Job, JobStatus
from tests.conftest import REDIS_URL, _purge_queue
from worker.runner import execute_job


@pytest.fixture
def one_running_each(service_env, monkeypatch):
    from enas_service.queue import get_celery
    from enas_service.settings import get_settings

    monkeypatch.setenv("ENAS_MAX_RUNNING_JOBS_PER_OWNER", "1")
    monkeypatch.setenv("ENAS_QUOTA_RECHECK_S", "45")
    # A queue no worker of the session reads: the test looks at what was sent.
    monkeypatch.setenv("ENAS_QUEUE", service_env["ENAS_QUEUE"] + "-quota")
    get_settings.cache_clear()
    get_celery.cache_clear()
    ids = []

    def add(owner: str, status: JobStatus) -> Job:
        with session_scope() as session:
            job = Job(owner=owner, builtin_dataset="digits", request={}, config={},
                      status=status)
            session.add(job)
        ids.append(job.id)
        return job

    yield add
    with session_scope() as session:
        for job_id in ids:
            session.delete(session.get(Job, job_id))
    _purge_queue(get_settings().queue)
    monkeypatch.undo()
    get_settings.cache_clear()
    get_celery.cache_clear()


def _raw_messages(queue: str) -> list[bytes]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return client.lrange(queue, 0, -1)
    finally:
        client.close()


def test_a_job_over_the_owners_running_quota_waits_in_the_queue(one_running_each):
    from enas_service.settings import get_settings

    queue = get_settings().queue
    one_running_each("quota-owner", JobStatus.running)
    waiting = one_running_each("quota-owner", JobStatus.queued)
    before = set(_raw_messages(queue))
    assert execute_job(waiting.id) == "deferred"
    with session_scope() as session:
        assert session.get(Job, waiting.id).status is JobStatus.queued
    sent = [raw for raw in _raw_messages(queue) if raw not in before]
    client = redis.Redis.from_url(REDIS_URL)
    for raw in sent:  # no worker of this test is there to read it
        client.lrem(queue, 1, raw)
    client.close()
    assert len(sent) == 1
    headers = json.loads(sent[0])["headers"]
    assert headers["argsrepr"] == repr([str(waiting.id)])
    assert headers["eta"] is not None  # not before ENAS_QUOTA_RECHECK_S


def test_another_owners_job_is_not_held_back(one_running_each):
    from worker.runner import defer_over_quota

    one_running_each("quota-owner", JobStatus.running)
    other = one_running_each("quota-other", JobStatus.queued)
    assert defer_over_quota(other.id) is False
