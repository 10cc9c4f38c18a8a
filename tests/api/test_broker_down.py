"""A submission the broker did not take is retryable under its Idempotency-Key."""

from __future__ import annotations

import contextlib

from sqlalchemy import select

from enas_service.models import Job


@contextlib.contextmanager
def _broker_down(monkeypatch):
    from enas_service.queue import get_celery
    from enas_service.settings import get_settings

    monkeypatch.setenv("ENAS_BROKER_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    get_celery.cache_clear()
    try:
        yield
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        get_celery.cache_clear()


def test_a_retry_after_503_with_the_same_key_submits_again(client, db_session, alice,
                                                           monkeypatch):
    headers = {**alice, "Idempotency-Key": "after-the-outage"}
    body = {"dataset": "digits", "name": "retried"}
    with _broker_down(monkeypatch):
        failed = client.post("/jobs", json=body, headers=headers)
    assert failed.status_code == 503
    assert failed.headers["retry-after"] == "5"
    assert "same Idempotency-Key" in failed.json()["detail"]
    retried = client.post("/jobs", json=body, headers=headers)
    assert retried.status_code == 202, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert retried.json()["status"] == "queued"
    jobs = {j.id: j for j in db_session.scalars(select(Job).where(Job.name == "retried"))}
    assert len(jobs) == 2
    first = next(j for j in jobs.values() if str(j.id) != retried.json()["id"])
    assert first.status.value == "failed" and first.idempotency_key is None
    assert "job queue was unreachable" in first.error
    # From now on the key replays the job that was queued.
    replay = client.post("/jobs", json=body, headers=headers)
    assert replay.json()["id"] == retried.json()["id"]
    assert replay.headers["idempotent-replayed"] == "true"
