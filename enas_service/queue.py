"""The job queue as the API, the worker and the launcher see it: task names, the Celery app's
settings, sending a task by name, and a broker ping.

Sending by name needs no task code, so this module sits below `api/` and `worker/` and imports
neither; the worker registers the tasks under these names (`worker/tasks.py`).
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any

from celery import Celery

from enas_service.settings import Settings, get_settings

RUN_JOB = "enas.run_job"
REAP_STALE_JOBS = "enas.reap_stale_jobs"
MAINTENANCE_QUEUE = "maintenance"


def make_celery(settings: Settings) -> Celery:
    """A Celery app for `settings`. Jobs go to one queue (`settings.queue`, `gpu` by default);
    each worker process runs one task at a time, acknowledges it only when done, and gives it
    back when the process dies."""
    app = Celery("enas", broker=settings.broker_url)
    transport_options: dict[str, Any] = {}
    if settings.broker_url.startswith("filesystem://"):
        folder = settings.broker_folder
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        transport_options = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": 0.2,
        }
    elif settings.broker_url.startswith(("redis://", "rediss://")):
        # Unacknowledged tasks come back after this long; it must outlast the longest job, or
        # a second worker would start a job that is still running (the lease would stop it).
        transport_options = {"visibility_timeout": settings.visibility_timeout_s}
    app.conf.update(
        task_default_queue=settings.queue,
        task_routes={REAP_STALE_JOBS: {"queue": MAINTENANCE_QUEUE}},
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        worker_send_task_events=False,
        worker_enable_remote_control=not settings.broker_url.startswith("filesystem://"),
        beat_schedule={
            "reap-stale-jobs": {"task": REAP_STALE_JOBS, "schedule": settings.reaper_interval_s}
        },
    )
    return app


@lru_cache
def get_celery() -> Celery:
    """The process's Celery app, from the settings (`get_celery.cache_clear()` after changing
    them)."""
    return make_celery(get_settings())


def enqueue_run_job(job_id: uuid.UUID, *, countdown: float | None = None) -> None:
    """Send the job's id (never the row) to the jobs' queue; call only after the row is
    committed. With `countdown`, a worker runs it no sooner than that many seconds."""
    get_celery().send_task(RUN_JOB, args=[str(job_id)], queue=get_settings().queue,
                           countdown=countdown)


def broker_ping(timeout: float = 2.0) -> None:
    """Raise if the broker cannot be reached."""
    with get_celery().connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout)
