"""`eta_seconds` on GET /jobs/{id}: from the rate of progress since the running attempt's first
progress report (`progress_from`, written by the worker), not since the job started."""

from __future__ import annotations

from datetime import timedelta

import pytest

from enas_service.models import Job, JobStatus, utcnow


def _running(client, db_session, headers, **row) -> dict:
    job_id = client.post("/jobs", json={"dataset": "digits"}, headers=headers).json()["id"]
    job = db_session.get(Job, job_id)
    job.status, job.phase = JobStatus.running, "search"
    for name, value in row.items():
        setattr(job, name, value)
    db_session.commit()
    return client.get(f"/jobs/{job_id}", headers=headers).json()


def test_no_eta_from_the_preparing_and_the_first_steps(client, db_session, alice):
    """At 1% after 87 s of preparing the API said 2.4 h (87 s / 1% * 99%) for a job that took
    6.7 minutes: no reference measured yet, no ETA."""
    now = utcnow()
    job = _running(client, db_session, alice, progress=0.01,
                   started_at=now - timedelta(seconds=87))
    assert job["eta_seconds"] is None


def test_the_eta_is_the_rate_since_the_first_report(client, db_session, alice):
    now = utcnow()
    # 3% took 60 s of preparing; then 1% per 4 s: at 10%, 7% in 28 s, 90% to go.
    job = _running(client, db_session, alice, progress=0.10, progress_from=0.03,
                   started_at=now - timedelta(seconds=88),
                   progress_from_at=now - timedelta(seconds=28), updated_at=now)
    assert job["eta_seconds"] == pytest.approx(360, abs=2)  # less the request's own time
    # Less than 5% measured from the reference: too little to say.
    job = _running(client, db_session, alice, progress=0.07, progress_from=0.03,
                   progress_from_at=now - timedelta(seconds=16), updated_at=now)
    assert job["eta_seconds"] is None
