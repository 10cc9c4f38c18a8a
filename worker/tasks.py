"""Celery tasks, registered under the queue client's names. They take ids only; the work is
in `worker.runner` and `worker.reaper`."""

from __future__ import annotations

import uuid

from celery import shared_task

from enas_service.queue import REAP_STALE_JOBS, RUN_JOB
from worker.reaper import reap_once
from worker.runner import execute_job


@shared_task(name=RUN_JOB, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(job_id: str) -> str:
    """Claim the job and run it to a final status; a no-op for a job that is not queued."""
    return execute_job(uuid.UUID(job_id))


@shared_task(name=REAP_STALE_JOBS, ignore_result=True)
def reap_stale_jobs() -> None:
    """Re-queue running jobs whose worker stopped sending heartbeats, and send again queued
    jobs whose message the broker lost."""
    reap_once()
