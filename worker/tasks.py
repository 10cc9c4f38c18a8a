"""Celery tasks. They take ids only; the work is in `worker.runner` and `worker.reaper`."""

from __future__ import annotations

import uuid

from celery import shared_task

RUN_JOB = "enas.run_job"
REAP_STALE_JOBS = "enas.reap_stale_jobs"


@shared_task(name=RUN_JOB, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(job_id: str) -> str:
    """Claim the job and run it to a final status; a no-op for a job that is not queued."""
    from worker.runner import execute_job

    return execute_job(uuid.UUID(job_id))


@shared_task(name=REAP_STALE_JOBS, ignore_result=True)
def reap_stale_jobs() -> int:
    """Re-queue running jobs whose worker stopped sending heartbeats."""
    from worker.reaper import reap_stale_jobs as reap

    return len(reap())
