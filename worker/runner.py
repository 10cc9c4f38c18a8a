"""Run one job under a lease: claim it, run the engine, record each epoch with its checkpoint,
and finish it. Every write after the claim is conditional on the lease, so a duplicated or
redelivered task, or a worker the reaper gave up on, never writes twice."""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from enas_core.threads import configure_threads, threads_word
from enas_service import artifacts, exports, repository
from enas_service.db import after_commit, session_scope
from enas_service.models import JobStatus, utcnow
from enas_service.queue import enqueue_run_job
from enas_service.settings import Settings, get_settings
from worker import usage
from worker.mlflow_log import JobRun

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another worker owns the job now (or it was re-queued); stop without writing."""


class JobRejected(Exception):
    """The job cannot run as configured here; a retry would fail the same way."""


def json_safe(value: Any) -> Any:
    """Non-finite floats become None (Postgres JSON rejects NaN); tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return json_safe(value.item())
    return value


class LeaseMonitor:
    """A background thread that keeps the heartbeat fresh and reads the job's row, so that
    `should_stop()` (called by the engine every training step) is only a flag check."""

    def __init__(self, job_id: uuid.UUID, lease: int, settings: Settings) -> None:
        self.job_id, self.lease = job_id, lease
        self.poll_s = min(settings.cancel_poll_s, settings.heartbeat_interval_s)
        self.heartbeat_s = settings.heartbeat_interval_s
        self.cancel_requested = False
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{job_id}", daemon=True)

    def should_stop(self) -> bool:
        return self.cancel_requested or self.lost

    def start(self) -> LeaseMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        last_beat = time.monotonic()
        while not self._stop.wait(self.poll_s):
            try:
                with session_scope() as session:
                    if time.monotonic() - last_beat >= self.heartbeat_s:
                        state = repository.heartbeat(session, job_id=self.job_id, lease=self.lease)
                        last_beat = time.monotonic()
                    else:
                        state = repository.lease_state(
                            session, job_id=self.job_id, lease=self.lease
                        )
                self.lost = not state.held
                self.cancel_requested = state.cancel_requested
            except Exception:  # a database hiccup must not kill the job; try again next tick
                log.exception("lease check for job %s failed", self.job_id)


@dataclass(frozen=True)
class Claimed:
    lease: int
    attempt: int
    failures: int  # errors the job raised in earlier attempts
    config: dict[str, Any]
    source: str | None  # built-in name or dataset path; None if the dataset was deleted
    checkpoint: str | None


def claim(job_id: uuid.UUID) -> Claimed | None:
    worker = f"{socket.gethostname()}:{os.getpid()}"
    with session_scope() as session:
        lease = repository.claim_job(session, job_id=job_id, worker=worker)
        if lease is None:
            return None
        job = repository.get_job_by_id(session, job_id=job_id)
        assert job is not None
        if job.builtin_dataset:
            source = job.builtin_dataset
        elif job.dataset is not None:
            source = str(artifacts.absolute(job.dataset.path))
        else:
            source = None
        return Claimed(lease, job.attempts, job.failures, job.config, source, job.checkpoint)


def defer_over_quota(job_id: uuid.UUID) -> bool:
    """True, and the task sent again for later, when the queued job's owner already runs
    ENAS_MAX_RUNNING_JOBS_PER_OWNER jobs: the job stays queued, other owners' jobs go first.
    (Two workers at the same instant may both start one: a fairness limit, not a lock.)"""
    settings = get_settings()
    limit = settings.max_running_jobs_per_owner
    if not limit:
        return False
    with session_scope() as session:
        job = repository.get_job_by_id(session, job_id=job_id)
        if job is None or job.status is not JobStatus.queued:
            return False
        running = repository.count_jobs(session, owner=job.owner, status=JobStatus.running)
    if running < limit:
        return False
    log.info("job %s waits: its owner runs %d jobs (ENAS_MAX_RUNNING_JOBS_PER_OWNER=%d); "
             "looked at again in %g s", job_id, running, limit, settings.quota_recheck_s)
    enqueue_run_job(job_id, countdown=settings.quota_recheck_s)
    return True


def execute_job(job_id: uuid.UUID) -> str:
    """Run the job if it can be claimed; returns what happened (for logs and tests)."""
    if defer_over_quota(job_id):
        return "deferred"
    claimed = claim(job_id)
    if claimed is None:
        log.info("job %s is not queued (done, cancelled, deleted or taken); skipping", job_id)
        return "skipped"
    settings = get_settings()
    # Here, not at start-up only: a prefork child or a plain `celery -A worker.celery_app
    # worker` runs jobs without `enas worker`'s set-up.
    threads = configure_threads(settings.torch_threads)
    log.info("job %s: attempt %d (lease %d, %s)", job_id, claimed.attempt, claimed.lease,
             threads_word(threads))
    monitor = LeaseMonitor(job_id, claimed.lease, settings).start()
    meter = usage.new_meter(settings.resolve_device())
    tracker = JobRun.open(job_id, settings)  # None unless the job logs to MLflow
    outcome = "error"
    try:
        outcome = _run(job_id, claimed, monitor, settings, meter, tracker)
        return outcome
    finally:
        monitor.stop()
        usage.save(job_id, claimed.attempt, meter.snapshot())
        if tracker is not None:
            tracker.close(outcome)


def _finish(
    job_id: uuid.UUID,
    lease: int,
    status: JobStatus,
    *,
    usage_of: tuple[int, dict[str, Any]] | None = None,
    **values: Any,
) -> bool:
    """Finish the job; with `usage_of` (attempt, meter snapshot), record what it cost in the
    same transaction, so a job is never final without its usage."""
    with session_scope() as session:
        done = repository.finish_job(session, job_id=job_id, lease=lease, status=status,
                                     **values)
        if done and usage_of is not None:
            usage.record(session, job_id, *usage_of)
        return done


def _input_shape(data: Any) -> list[int] | None:
    """[C, H, W] of the job's images, from the engine's splits."""
    for holder in (data, getattr(data, "train", None)):
        shape = getattr(holder, "image_shape", None)
        if shape is not None and len(shape) == 3:
            h, w, c = (int(v) for v in shape)
            return [c, h, w]
    return None


def check_runnable(config: Any, data: Any) -> None:
    """What the engine would refuse when the search starts, refused before it does, so the job
    fails at once with the reason instead of being retried: a latency device this machine
    lacks, images too small for the networks' reductions, or a params/FLOPs limit below the
    cheapest network on these images."""
    from enas_core.latency import check_available
    from enas_service.limits import check_limits

    try:
        check_available(config.search.constraints.latency_device)
    except ValueError as exc:
        raise JobRejected(
            f"{exc} (worker {socket.gethostname()}); submit with latency_device 'cpu', or run "
            "the job on a worker with a GPU"
        ) from exc
    from enas_core.layout import too_small

    train = data.train
    small = too_small(train.image_shape[:2])
    if small is not None:  # a dataset stored before uploads were checked for it
        raise JobRejected(small)
    try:
        check_limits(config, (train.channels, *train.image_shape[:2]), train.num_classes)
    except ValueError as exc:
        raise JobRejected(str(exc)) from exc


def _run(
    job_id: uuid.UUID,
    claimed: Claimed,
    monitor: LeaseMonitor,
    settings: Settings,
    meter: Any,
    tracker: JobRun | None = None,
) -> str:
    from enas_core.config_migrations import StoredConfigError, load_stored
    from enas_core.data import DatasetError, prepare_data
    from enas_core.pipeline import Cancelled, run_job
    from enas_core.progress import ProgressClock

    lease = claimed.lease
    timing = ProgressClock()  # this attempt's reports, for the ETA's reference

    def reference(progress: float | None) -> dict[str, Any]:
        """The job's ETA reference, when this report is the attempt's first to move past the
        progress it started at (`enas_core.progress`; the API measures the rate from it)."""
        if progress is None or not timing.report(time.monotonic(), progress):
            return {}
        return {"progress_from": progress, "progress_from_at": utcnow()}

    def finish(status: JobStatus, **values: Any) -> bool:
        return _finish(job_id, lease, status, usage_of=(claimed.attempt, meter.snapshot()),
                       **values)

    def on_epoch(metrics: Any) -> None:
        row = json_safe(metrics.to_dict())
        checkpoint = row.get("checkpoint")
        with session_scope() as session:
            recorded = repository.record_epoch(
                session,
                job_id=job_id,
                lease=lease,
                metrics=row,
                checkpoint=artifacts.relative(checkpoint) if checkpoint else None,
                attempt=claimed.attempt,
            )
            if recorded:
                usage.record(session, job_id, claimed.attempt, row.get("usage"))
                if ref := reference(row["progress"]):
                    repository.set_job_fields(session, job_id=job_id, lease=lease, **ref)
        if not recorded:
            monitor.lost = True
            raise LeaseLost(f"job {job_id}: lease {lease} lost")
        if tracker is not None:
            tracker.log_epoch(row)

    def on_phase(phase: str, **where: Any) -> None:
        """A phase starts: the job shows it (and its progress) before its first epoch ends."""
        with session_scope() as session:
            held = repository.set_job_fields(session, job_id=job_id, lease=lease, phase=phase,
                                             **where, **reference(where.get("progress")))
        if not held:
            monitor.lost = True
            raise LeaseLost(f"job {job_id}: lease {lease} lost")

    try:
        # Loading the data and pricing tables can take minutes: say so from the start.
        on_phase("preparing")
        if claimed.source is None:
            raise DatasetError("the job's dataset was deleted")
        try:  # stored by this release or an earlier one, queued or paused over an upgrade
            config = load_stored(claimed.config)
        except StoredConfigError as exc:  # no retry makes it readable
            raise JobRejected(str(exc)) from exc
        data = prepare_data(claimed.source, artifacts.cache_dir(), seed=config.seed)
        check_runnable(config, data)
        resume = artifacts.absolute(claimed.checkpoint) if claimed.checkpoint else None
        if resume is not None and not resume.is_file():
            raise FileNotFoundError(f"the recorded checkpoint {claimed.checkpoint} is missing")
        with session_scope() as session:
            if not repository.set_job_fields(
                session,
                job_id=job_id,
                lease=lease,
                input_shape=_input_shape(data),
                resumed_from=claimed.checkpoint,
            ):
                return "lease-lost"
        if resume is not None:
            log.info("job %s: resuming from %s", job_id, claimed.checkpoint)
        result = run_job(
            config,
            data,
            out_dir=artifacts.job_dir(job_id),
            device=settings.resolve_device(),
            on_epoch=on_epoch,
            on_phase=on_phase,
            should_stop=monitor.should_stop,
            resume_from=resume,
            usage=meter,
            latency_cache_dir=artifacts.latency_cache_dir(),
        )
    except (Cancelled, LeaseLost):
        if monitor.lost:
            log.warning("job %s: lease lost; stopping without writing", job_id)
            return "lease-lost"
        finish(JobStatus.cancelled)
        log.info("job %s cancelled", job_id)
        return "cancelled"
    except DatasetError as exc:  # the data will not get better on a retry
        finish(JobStatus.failed, error=f"dataset error: {exc}")
        return "failed"
    except JobRejected as exc:
        finish(JobStatus.failed, error=str(exc))
        log.info("job %s rejected: %s", job_id, exc)
        return "failed"
    except Exception as exc:
        # An error the job raised; workers lost under it are counted apart (the reaper).
        reason = f"{type(exc).__name__}: {exc}"
        failures = claimed.failures + 1
        log.exception("job %s: attempt %d failed", job_id, claimed.attempt)
        if failures >= settings.max_attempts:
            finish(JobStatus.failed, failures=failures,
                   error=f"failed {failures} times; last error: {reason}")
            return "failed"
        with session_scope() as session:
            if repository.finish_job(
                session,
                job_id=job_id,
                lease=lease,
                status=JobStatus.queued,
                failures=failures,
                enqueued_at=utcnow(),
                error=f"attempt {claimed.attempt} failed ({reason}); retrying",
            ):
                after_commit(session, lambda: enqueue_run_job(job_id))
        return "retry"

    summary = json_safe(result.to_dict())
    best = summary["best"]
    searched = {"pareto": summary.get("pareto"), "constraints": summary.get("constraints"),
                "search_report": summary.get("search_report"), "baseline": summary.get("baseline")}
    if best is None:
        # Hard limits that no architecture met: the engine says so (and trained nothing); the
        # front of what was evaluated is kept, so the user can see how close it came.
        message = (summary.get("constraints") or {}).get("message")
        done = finish(JobStatus.failed,
                      error=message or "the search returned no architecture", **searched)
        log.info("job %s: no architecture met the hard limits", job_id)
        return "failed" if done else "lease-lost"
    if summary.get("model_path"):
        # Exported here, once, so that a download is a file send (not seconds of tracing).
        exports.export_all(Path(summary["model_path"]))
    ranked = [best] + [a for a in summary.get("top_k", []) if a.get("arch") != best.get("arch")]
    with session_scope() as session:
        done = repository.finish_job(
            session,
            job_id=job_id,
            lease=lease,
            status=JobStatus.succeeded,
            progress=1.0,
            error=None,
            result=summary.get("final"),
            model_path=artifacts.relative(summary["model_path"])
            if summary.get("model_path")
            else None,
            best_arch=best.get("arch"),
            best_val_acc=best.get("val_acc"),
            best_costs=best.get("costs"),
            **searched,
        )
        if done:
            repository.replace_architectures(session, job_id=job_id, items=ranked)
            usage.record(session, job_id, claimed.attempt, meter.snapshot())
    log.info("job %s succeeded", job_id)
    return "succeeded" if done else "lease-lost"
