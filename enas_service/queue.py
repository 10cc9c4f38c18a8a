"""The job queue as the API, the worker and the launcher see it: task names, the Celery app's
settings, sending a task by name, and a broker ping.

Sending by name needs no task code, so this module sits below `api/` and `worker/` and imports
neither; the worker registers the tasks under these names (`worker/tasks.py`).
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from celery import Celery

from enas_service.settings import Settings, get_settings

log = logging.getLogger(__name__)

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


def held_job_ids() -> set[str] | None:
    """The ids of the jobs whose run message the broker holds: waiting in the jobs' queue, or
    delivered to a worker and not yet acknowledged. None when the broker cannot say (an
    unknown transport, or it is unreachable); the caller then assumes nothing is held."""
    settings = get_settings()
    try:
        if settings.broker_url.startswith("filesystem://"):
            folder = settings.broker_folder / "queue"
            raw: Iterable[Any] = [p.read_bytes() for p in folder.glob(f"*.{settings.queue}.msg")]
        elif settings.broker_url.startswith(("redis://", "rediss://")):
            raw = _redis_messages(settings.queue)
        else:
            return None
    except Exception as exc:  # the reaper tries again at its next pass
        log.warning("could not list the broker's messages: %s", exc)
        return None
    return {job for job in map(_run_job_id, raw) if job is not None}


def _redis_messages(queue: str) -> list[Any]:
    """The queue's waiting messages (every priority's list) and the unacknowledged ones
    (kombu's Redis transport keeps those in one hash, [message, exchange, routing key])."""
    with get_celery().connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=2.0)  # a broker that is down: fail fast
        channel = conn.default_channel
        keys = {channel._q_for_pri(queue, pri) for pri in channel.priority_steps}
        pipe = channel.client.pipeline()
        for key in sorted(keys):
            pipe.lrange(key, 0, -1)
        pipe.hvals(channel.unacked_key)
        *waiting, unacked = pipe.execute()
    messages: list[Any] = [m for items in waiting for m in items]
    for item in unacked:
        try:
            messages.append(json.loads(item)[0])
        except (ValueError, IndexError, TypeError):
            continue
    return messages


def _run_job_id(message: Any) -> str | None:
    """The job id a RUN_JOB message carries (Celery's message protocol 2), else None."""
    try:
        if isinstance(message, bytes | str):
            message = json.loads(message)
        if message["headers"]["task"] != RUN_JOB:
            return None
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        return str(json.loads(body)[0][0])
    except (ValueError, KeyError, IndexError, TypeError):
        return None
