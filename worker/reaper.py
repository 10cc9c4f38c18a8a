"""The reaper: jobs whose worker died (no heartbeat for `stale_after_s`) go back to the queue,
to resume from their last checkpoint; after `max_attempts` they fail, and a job whose cancel
was requested is marked cancelled."""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta

from sqlalchemy.orm import Session

from enas_service import repository
from enas_service.db import after_commit, session_scope
from enas_service.models import JobStatus, utcnow
from enas_service.queue import enqueue_run_job
from enas_service.settings import get_settings

log = logging.getLogger(__name__)


def reap_stale_jobs(
    *,
    stale_after_s: float | None = None,
    scope: Callable[[], AbstractContextManager[Session]] = session_scope,
) -> list[uuid.UUID]:
    """One pass; returns the ids of the re-queued jobs. `scope` gives a session per step."""
    settings = get_settings()
    stale_after = settings.stale_after_s if stale_after_s is None else stale_after_s
    before = utcnow() - timedelta(seconds=stale_after)
    with scope() as session:
        stale = repository.find_stale_jobs(session, before=before)
    requeued = []
    for job in stale:
        with scope() as session:
            common = {"job_id": job.id, "lease": job.lease, "before": before}
            if job.cancel_requested:
                repository.fail_stale_job(
                    session, status=JobStatus.cancelled, error=None, **common
                )
            elif job.attempts >= settings.max_attempts:
                repository.fail_stale_job(
                    session,
                    status=JobStatus.failed,
                    error=f"the worker running the job was lost {job.attempts} times "
                    f"(no heartbeat for {stale_after:g} s); giving up",
                    **common,
                )
                log.warning("job %s failed: worker lost %d times", job.id, job.attempts)
            elif repository.requeue_stale_job(
                session,
                error=f"attempt {job.attempts}: the worker was lost; resuming from the last "
                "checkpoint",
                **common,
            ):
                job_id = job.id
                after_commit(session, lambda job_id=job_id: enqueue_run_job(job_id))
                requeued.append(job.id)
                log.warning("job %s re-queued: its worker stopped sending heartbeats", job.id)
    return requeued


def _reap_until(stopped: Callable[[], bool]) -> None:
    """A pass each time `stopped()`, which waits for the next one, says to go on."""
    while not stopped():
        try:
            reap_stale_jobs()
        except Exception:
            log.exception("reaper pass failed")


def start_reaper_thread(interval_s: float | None = None) -> threading.Event:
    """Reap every `interval_s` in a daemon thread (the embedded API process); set the returned
    event to stop it. Production runs the REAP_STALE_JOBS task from Celery beat instead.

    Not in a process that forks afterwards (a prefork worker): a child forked while the thread
    holds a lock, e.g. importing a module, waits for it forever. Use `start_reaper_process`."""
    interval = interval_s or get_settings().reaper_interval_s
    stop = threading.Event()
    threading.Thread(target=_reap_until, args=(lambda: stop.wait(interval),),
                     name="enas-reaper", daemon=True).start()
    return stop


def _reaper_main(interval: float, parent: int) -> None:
    # Ends with the process that started it, also when that one was killed.
    _reap_until(lambda: time.sleep(interval) or os.getppid() != parent)


def start_reaper_process(interval_s: float | None = None) -> multiprocessing.Process:
    """Reap every `interval_s` in a fresh interpreter (spawned, not forked: it shares no
    locks with this process) that exits when this process does, so that this one can go on
    to fork Celery's pool children safely."""
    interval = interval_s or get_settings().reaper_interval_s
    process = multiprocessing.get_context("spawn").Process(
        target=_reaper_main, args=(interval, os.getpid()), name="enas-reaper", daemon=True)
    process.start()
    return process
