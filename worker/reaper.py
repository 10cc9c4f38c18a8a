"""The reaper: jobs whose worker died (no heartbeat for `stale_after_s`) go back to the queue,
to resume from their last checkpoint; after `max_worker_losses` they fail, and a job whose
cancel was requested is marked cancelled. Queued jobs whose message the broker lost (a Redis
restarted empty) are sent again: the database, not the broker, says which jobs must run."""

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
from enas_service.queue import enqueue_run_job, held_job_ids
from enas_service.settings import get_settings
from enas_service.sweeper import sweep_now_and_then

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
            elif job.worker_losses + 1 >= settings.max_worker_losses:
                losses = job.worker_losses + 1
                repository.fail_stale_job(
                    session,
                    status=JobStatus.failed,
                    error=f"the worker running the job was lost {losses} times "
                    f"(no heartbeat for {stale_after:g} s); giving up. POST /jobs/{job.id}/retry "
                    "resumes it from its last checkpoint",
                    **common,
                )
                log.warning("job %s failed: worker lost %d times", job.id, losses)
            elif repository.requeue_stale_job(
                session,
                error=f"the worker was lost ({job.worker_losses + 1} of "
                f"{settings.max_worker_losses} allowed); resuming from the last checkpoint",
                **common,
            ):
                job_id = job.id
                after_commit(session, lambda job_id=job_id: enqueue_run_job(job_id))
                requeued.append(job.id)
                log.warning("job %s re-queued: its worker stopped sending heartbeats", job.id)
    return requeued


def resend_lost_jobs(
    *,
    after_s: float | None = None,
    scope: Callable[[], AbstractContextManager[Session]] = session_scope,
) -> list[uuid.UUID]:
    """Send again the jobs queued for over `after_s` (the settings' `requeue_after_s`) whose
    message the broker no longer holds; returns their ids. When the broker cannot say what it
    holds, every such job is sent again (at most once per `after_s`): a duplicate message does
    no harm, since only one claim of a queued job succeeds."""
    wait = get_settings().requeue_after_s if after_s is None else after_s
    before = utcnow() - timedelta(seconds=wait)
    with scope() as session:
        waiting = repository.find_unsent_jobs(session, before=before)
    if not waiting:
        return []
    held = held_job_ids() or set()
    resent = []
    for job_id in waiting:
        if str(job_id) in held:
            continue
        with scope() as session:
            if repository.mark_enqueued(session, job_id=job_id, before=before):
                after_commit(session, lambda job_id=job_id: _send(job_id))
                resent.append(job_id)
                log.warning("job %s re-sent: queued for over %g s and the broker no longer "
                            "holds its message", job_id, wait)
    return resent


def _send(job_id: uuid.UUID) -> None:
    """Send one job; a broker that is down is tried again a grace period later (the job is
    still queued in the database), without holding up the other jobs of this pass."""
    try:
        enqueue_run_job(job_id)
    except Exception as exc:
        log.warning("could not send job %s to the broker (%s); trying again later", job_id, exc)


def reap_once() -> None:
    """One pass of every check, each on its own so that one failing does not stop the rest."""
    for check in (reap_stale_jobs, resend_lost_jobs, sweep_now_and_then):
        try:
            check()
        except Exception:
            log.exception("reaper: %s failed", check.__name__)


def _reap_until(stopped: Callable[[], bool]) -> None:
    """A pass each time `stopped()`, which waits for the next one, says to go on."""
    while not stopped():
        reap_once()


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
