"""Per-owner quota: at most ENAS_MAX_QUEUED_JOBS_PER_OWNER queued jobs; then 429."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from enas_service.models import Dataset, Job


@pytest.fixture
def two_queued(db_session, monkeypatch):
    from enas_service.settings import get_settings

    monkeypatch.setenv("ENAS_MAX_QUEUED_JOBS_PER_OWNER", "2")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_submission_over_the_queued_quota_is_429(client, db_session, alice, bob, two_queued,
                                                   digits_npz):
    ids = [client.post("/jobs", json={"dataset": "digits"}, headers=alice).json()["id"]
           for _ in range(2)]
    refused = client.post("/jobs", json={"dataset": "digits"}, headers=alice)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["detail"].startswith(
        "you have 2 jobs waiting in the queue, the most one owner may have "
        "(ENAS_MAX_QUEUED_JOBS_PER_OWNER=2)")
    # The one-request upload is refused before its file is stored.
    upload = client.post("/jobs", files={"file": ("digits.npz", digits_npz.read_bytes())},
                         headers=alice)
    assert upload.status_code == 429
    assert db_session.scalar(select(func.count()).select_from(Dataset)) == 0
    # Another owner has a quota of their own.
    assert client.post("/jobs", json={"dataset": "digits"}, headers=bob).status_code == 202
    # A cancelled job leaves the queue, and makes room.
    client.post(f"/jobs/{ids[0]}/cancel", headers=alice)
    assert client.post("/jobs", json={"dataset": "digits"}, headers=alice).status_code == 202
    assert db_session.scalar(select(func.count()).select_from(Job)) == 4


def test_a_replayed_submission_is_not_counted(client, alice, two_queued):
    headers = {**alice, "Idempotency-Key": "quota-replay"}
    first = client.post("/jobs", json={"dataset": "digits"}, headers=headers)
    client.post("/jobs", json={"dataset": "digits"}, headers=alice)
    replay = client.post("/jobs", json={"dataset": "digits"}, headers=headers)
    assert replay.status_code == 202 and replay.json()["id"] == first.json()["id"]
