"""POST /jobs/{id}/retry: a failed or cancelled job resumes from its last checkpoint, a bounded
number of times; any other status is 409."""

from __future__ import annotations

import uuid

import pytest

from enas_service.models import Job, JobStatus
from tests.conftest import TINY_JOB


def _stored(db_session, job_id: str) -> Job:
    job = db_session.get(Job, uuid.UUID(job_id))
    db_session.refresh(job)
    return job


def test_a_cancelled_job_is_queued_again(client, db_session, alice):
    job = client.post("/jobs", json={"dataset": "digits", **TINY_JOB}, headers=alice).json()
    assert client.post(f"/jobs/{job['id']}/cancel", headers=alice).status_code == 202
    response = client.post(f"/jobs/{job['id']}/retry", headers=alice)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/jobs/{job['id']}"
    retried = response.json()
    assert (retried["status"], retried["retries"], retried["cancel_requested"]) == (
        "queued", 1, False)
    assert retried["finished_at"] is None
    # Queued again: nothing to retry until it ends.
    again = client.post(f"/jobs/{job['id']}/retry", headers=alice)
    assert again.status_code == 409
    assert again.json()["detail"] == (
        "only a failed or cancelled job can be retried; this one is queued")


def test_a_failed_job_resumes_from_its_checkpoint_with_its_counts_reset(
    client, db_session, alice
):
    job = client.post("/jobs", json={"dataset": "digits", **TINY_JOB}, headers=alice).json()
    stored = _stored(db_session, job["id"])
    stored.status, stored.attempts, stored.failures, stored.worker_losses = (
        JobStatus.failed, 5, 3, 2)
    stored.checkpoint = f"jobs/{job['id']}/checkpoints/search-0001.pt"
    stored.error = "failed 3 times; last error: RuntimeError: boom"
    db_session.commit()

    retried = client.post(f"/jobs/{job['id']}/retry", headers=alice).json()
    assert retried["status"] == "queued" and retried["error"] is None
    assert (retried["attempts"], retried["failures"], retried["worker_losses"],
            retried["retries"]) == (5, 0, 0, 1)
    assert _stored(db_session, job["id"]).checkpoint == stored.checkpoint  # resumes there


@pytest.mark.parametrize("status", ["queued", "running", "succeeded"])
def test_only_failed_or_cancelled_jobs_are_retried(client, db_session, alice, status):
    job = client.post("/jobs", json={"dataset": "digits"}, headers=alice).json()
    stored = _stored(db_session, job["id"])
    stored.status = JobStatus(status)
    db_session.commit()
    response = client.post(f"/jobs/{job['id']}/retry", headers=alice)
    assert response.status_code == 409
    assert response.json()["detail"].endswith(f"this one is {status}")
    assert _stored(db_session, job["id"]).retries == 0


def test_retries_are_bounded(client, db_session, alice):
    job = client.post("/jobs", json={"dataset": "digits"}, headers=alice).json()
    stored = _stored(db_session, job["id"])
    stored.status, stored.retries = JobStatus.failed, 5
    db_session.commit()
    response = client.post(f"/jobs/{job['id']}/retry", headers=alice)
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "the job was retried 5 times, the limit (ENAS_MAX_RETRIES); submit a new job")
    assert _stored(db_session, job["id"]).status == "failed"


def test_another_owners_job_is_404(client, alice, bob):
    job = client.post("/jobs", json={"dataset": "digits"}, headers=alice).json()
    client.post(f"/jobs/{job['id']}/cancel", headers=alice)
    assert client.post(f"/jobs/{job['id']}/retry", headers=bob).status_code == 404
    assert client.post(f"/jobs/{uuid.uuid4()}/retry", headers=alice).status_code == 404
