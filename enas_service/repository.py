"""Every query of the service. Functions take keyword-only arguments and only flush; the
caller (the request's session dependency, or a worker step) owns the transaction.

The worker's writes are conditional on the job's lease: `status = 'running' AND lease = :lease`.
A write that matches no row means the lease was lost (the reaper re-queued the job, or another
worker claimed it) and the caller must stop.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session, joinedload

from enas_service.models import (
    ApiKey,
    Architecture,
    Dataset,
    EpochRecord,
    Job,
    JobStatus,
    utcnow,
)

# -- API keys ---------------------------------------------------------------------------------


def create_api_key(
    session: Session, *, owner: str, name: str, prefix: str, key_hash: str
) -> ApiKey:
    key = ApiKey(owner=owner, name=name, prefix=prefix, key_hash=key_hash)
    session.add(key)
    session.flush()
    return key


def get_active_api_key(session: Session, *, key_hash: str) -> ApiKey | None:
    return session.scalar(
        select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    )


def count_api_keys(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ApiKey)) or 0


def list_api_keys(session: Session) -> Sequence[ApiKey]:
    return session.scalars(select(ApiKey).order_by(ApiKey.created_at)).all()


def revoke_api_key(session: Session, *, prefix: str) -> int:
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount


# -- datasets ---------------------------------------------------------------------------------


def add_dataset(session: Session, *, dataset: Dataset) -> Dataset:
    session.add(dataset)
    session.flush()
    return dataset


def get_dataset(session: Session, *, owner: str, dataset_id: uuid.UUID) -> Dataset | None:
    return session.scalar(
        select(Dataset).where(Dataset.id == dataset_id, Dataset.owner == owner)
    )


def list_datasets(
    session: Session, *, owner: str, limit: int, offset: int
) -> tuple[Sequence[Dataset], int]:
    where = Dataset.owner == owner
    count = session.scalar(select(func.count()).select_from(Dataset).where(where)) or 0
    rows = session.scalars(
        select(Dataset)
        .where(where)
        .order_by(Dataset.created_at.desc(), Dataset.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, count


def storage_used(session: Session, *, owner: str) -> int:
    """The bytes the owner's datasets take on disk, as their rows record them."""
    return int(
        session.scalar(select(func.coalesce(func.sum(Dataset.size_bytes), 0))
                       .where(Dataset.owner == owner)) or 0
    )


def dataset_in_use(session: Session, *, dataset_id: uuid.UUID) -> bool:
    """Whether a queued or running job reads the dataset."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    Job.dataset_id == dataset_id,
                    Job.status.in_([JobStatus.queued, JobStatus.running]),
                )
            )
        )
    )


def delete_dataset(session: Session, *, dataset: Dataset) -> None:
    session.delete(dataset)
    session.flush()


# -- jobs (API side) --------------------------------------------------------------------------


def add_job(session: Session, *, job: Job) -> Job:
    session.add(job)
    session.flush()
    return job


# A job is read with its dataset (the API shows the dataset's name): one join, also for a
# page of jobs, and a job read in a session that then closes still has it.
WITH_DATASET = joinedload(Job.dataset)


def get_job(session: Session, *, owner: str, job_id: uuid.UUID) -> Job | None:
    return session.scalar(
        select(Job).options(WITH_DATASET).where(Job.id == job_id, Job.owner == owner))


@dataclass(frozen=True)
class JobVersion:
    """What tells one stored state of a job from another, without its JSON columns: a job's
    shown fields change only with `updated_at` (every write bumps it but heartbeats, the
    broker's bookkeeping and, while it runs, usage) or `dataset_id` (set NULL when its
    dataset is deleted)."""

    id: uuid.UUID
    status: JobStatus
    updated_at: datetime
    dataset_id: uuid.UUID | None


_VERSION = (Job.id, Job.status, Job.updated_at, Job.dataset_id)


def get_job_version(session: Session, *, owner: str, job_id: uuid.UUID) -> JobVersion | None:
    row = session.execute(
        select(*_VERSION).where(Job.id == job_id, Job.owner == owner)).one_or_none()
    return JobVersion(*row) if row is not None else None


def list_job_versions(
    session: Session, *, owner: str, status: JobStatus | None, limit: int, offset: int
) -> tuple[list[JobVersion], int]:
    """A page of the owner's jobs, newest first, as versions, and how many jobs there are in
    all: one query (the count as a window over the same rows) unless the page is empty."""
    conditions = [Job.owner == owner]
    if status is not None:
        conditions.append(Job.status == status)
    rows = session.execute(
        select(*_VERSION, func.count().over())
        .where(*conditions)
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    if rows:
        return [JobVersion(*row[:4]) for row in rows], rows[0][4]
    count = session.scalar(select(func.count()).select_from(Job).where(*conditions)) or 0
    return [], count


def get_jobs(session: Session, *, ids: Sequence[uuid.UUID]) -> list[Job]:
    """The jobs of `ids` (those that still exist), with their datasets, in no set order."""
    if not ids:
        return []
    return list(session.scalars(select(Job).options(WITH_DATASET).where(Job.id.in_(ids))))


def get_job_by_id(session: Session, *, job_id: uuid.UUID) -> Job | None:
    return session.get(Job, job_id, populate_existing=True, options=[WITH_DATASET])


def count_jobs(session: Session, *, owner: str, status: JobStatus) -> int:
    return session.scalar(
        select(func.count()).select_from(Job).where(Job.owner == owner, Job.status == status)
    ) or 0


def get_job_by_idempotency_key(session: Session, *, owner: str, key: str) -> Job | None:
    return session.scalar(select(Job).where(Job.owner == owner, Job.idempotency_key == key))


def cancel_queued_job(session: Session, *, job_id: uuid.UUID) -> bool:
    """Cancel a job no worker has claimed yet. False when it is no longer queued."""
    now = utcnow()
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.queued)
        .values(status=JobStatus.cancelled, cancel_requested=True, finished_at=now)
    )
    return result.rowcount == 1


def fail_unqueued_job(session: Session, *, job_id: uuid.UUID, error: str) -> bool:
    """A job the broker did not take: failed with `error`, and its Idempotency-Key released,
    so that a retry under the same key submits the request anew instead of replaying this."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.queued)
        .values(status=JobStatus.failed, error=error, finished_at=utcnow(),
                idempotency_key=None)
    )
    return result.rowcount == 1


def request_cancel(session: Session, *, job_id: uuid.UUID) -> bool:
    """Ask the worker running the job to stop. False when it is not running."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.running)
        .values(cancel_requested=True)
    )
    return result.rowcount == 1


def delete_job(session: Session, *, job: Job) -> None:
    session.delete(job)
    session.flush()


def list_history(
    session: Session, *, job_id: uuid.UUID, after_id: int = 0, limit: int | None = None
) -> Sequence[EpochRecord]:
    query = (
        select(EpochRecord)
        .where(EpochRecord.job_id == job_id, EpochRecord.id > after_id)
        .order_by(EpochRecord.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return session.scalars(query).all()


def list_architectures(session: Session, *, job_id: uuid.UUID) -> Sequence[Architecture]:
    return session.scalars(
        select(Architecture).where(Architecture.job_id == job_id).order_by(Architecture.rank)
    ).all()


def job_status(session: Session, *, job_id: uuid.UUID) -> JobStatus | None:
    return session.scalar(select(Job.status).where(Job.id == job_id))


# -- jobs (worker side: the lease) ------------------------------------------------------------


def _held(job_id: uuid.UUID, lease: int) -> tuple[Any, ...]:
    return (Job.id == job_id, Job.lease == lease, Job.status == JobStatus.running)


def claim_job(session: Session, *, job_id: uuid.UUID, worker: str) -> int | None:
    """Take a queued job: running, a new lease, one more attempt (whose ETA is measured anew:
    `progress_from`). None if it is not queued."""
    now = utcnow()
    return session.scalar(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.queued)
        .values(
            status=JobStatus.running,
            lease=Job.lease + 1,
            lease_owner=worker,
            attempts=Job.attempts + 1,
            heartbeat_at=now,
            started_at=func.coalesce(Job.started_at, now),
            progress_from=None,
            progress_from_at=None,
            error=None,
        )
        .returning(Job.lease)
    )


@dataclass(frozen=True)
class LeaseState:
    held: bool
    cancel_requested: bool


def heartbeat(session: Session, *, job_id: uuid.UUID, lease: int) -> LeaseState:
    """Refresh the heartbeat while holding the lease; says whether a cancel was requested."""
    cancel = session.scalar(
        update(Job)
        .where(*_held(job_id, lease))
        .values(heartbeat_at=utcnow(), updated_at=Job.updated_at)  # a beat is not a change
        .returning(Job.cancel_requested)
    )
    return LeaseState(held=cancel is not None, cancel_requested=bool(cancel))


def lease_state(session: Session, *, job_id: uuid.UUID, lease: int) -> LeaseState:
    """A cheap read: do we still hold the lease, and was a cancel requested?"""
    row = session.execute(
        select(Job.lease, Job.status, Job.cancel_requested).where(Job.id == job_id)
    ).one_or_none()
    held = row is not None and row.lease == lease and row.status == JobStatus.running
    return LeaseState(held=held, cancel_requested=bool(row and row.cancel_requested))


def set_job_fields(session: Session, *, job_id: uuid.UUID, lease: int, **values: Any) -> bool:
    """Update the job if the lease is still held."""
    result = session.execute(update(Job).where(*_held(job_id, lease)).values(**values))
    return result.rowcount == 1


def record_epoch(
    session: Session,
    *,
    job_id: uuid.UUID,
    lease: int,
    metrics: dict[str, Any],
    checkpoint: str | None,
    attempt: int,
) -> bool:
    """Record one finished epoch and its checkpoint in the caller's transaction.

    The job row is updated first, conditional on the lease; the history row is inserted only
    if that matched, so a worker that lost its lease writes nothing. History rows are unique
    per (job, phase, epoch).
    """
    values: dict[str, Any] = {
        "phase": metrics["phase"],
        "epoch": metrics["epoch"],
        "epochs": metrics["epochs"],
        "progress": metrics["progress"],
        "checkpoint": checkpoint,
        "heartbeat_at": utcnow(),
        "elapsed_s": Job.elapsed_s + float(metrics.get("seconds") or 0.0),
    }
    best = metrics.get("best")
    if metrics["phase"] == "search" and best:
        values["best_arch"] = best.get("arch")
        values["best_val_acc"] = best.get("val_acc")
        values["best_costs"] = best.get("costs")
    if not set_job_fields(session, job_id=job_id, lease=lease, **values):
        return False
    session.add(
        EpochRecord(
            job_id=job_id,
            phase=metrics["phase"],
            epoch=metrics["epoch"],
            epochs=metrics["epochs"],
            progress=metrics["progress"],
            val_acc=metrics.get("val_acc"),
            train_loss=metrics.get("train_loss"),
            train_acc=metrics.get("train_acc"),
            seconds=metrics.get("seconds"),
            attempt=attempt,
            metrics=metrics,
        )
    )
    session.flush()
    return True


def finish_job(
    session: Session,
    *,
    job_id: uuid.UUID,
    lease: int,
    status: JobStatus,
    **values: Any,
) -> bool:
    """Move a held job to a final status (or back to queued for a retry)."""
    values = {"status": status, "lease_owner": None, **values}
    if status is not JobStatus.queued:
        values.setdefault("finished_at", utcnow())
    return set_job_fields(session, job_id=job_id, lease=lease, **values)


def replace_architectures(
    session: Session, *, job_id: uuid.UUID, items: Sequence[dict[str, Any]]
) -> None:
    """The top-k, best first: JobResult `top_k` entries (arch, val_acc, and under the cost
    model costs, feasible, score)."""
    session.execute(delete(Architecture).where(Architecture.job_id == job_id))
    for rank, item in enumerate(items, start=1):
        session.add(
            Architecture(
                job_id=job_id,
                rank=rank,
                arch=item["arch"],
                val_acc=item.get("val_acc"),
                costs=item.get("costs"),
                feasible=item.get("feasible"),
                score=item.get("score"),
            )
        )
    session.flush()


@dataclass(frozen=True)
class StaleJob:
    id: uuid.UUID
    lease: int
    worker_losses: int  # before this one
    cancel_requested: bool


def find_stale_jobs(session: Session, *, before: datetime) -> list[StaleJob]:
    """Running jobs whose heartbeat is older than `before` (their worker is gone)."""
    rows = session.execute(
        select(Job.id, Job.lease, Job.worker_losses, Job.cancel_requested).where(
            Job.status == JobStatus.running, Job.heartbeat_at < before
        )
    ).all()
    return [StaleJob(r.id, r.lease, r.worker_losses, r.cancel_requested) for r in rows]


def requeue_stale_job(
    session: Session, *, job_id: uuid.UUID, lease: int, before: datetime, error: str
) -> bool:
    """Put a stale running job back in the queue, if nobody took it in the meantime; the lost
    worker counts as a loss, not as a failure of the job."""
    result = session.execute(
        update(Job)
        .where(*_held(job_id, lease), Job.heartbeat_at < before)
        .values(status=JobStatus.queued, lease_owner=None, error=error,
                worker_losses=Job.worker_losses + 1, enqueued_at=utcnow())
    )
    return result.rowcount == 1


def fail_stale_job(
    session: Session,
    *,
    job_id: uuid.UUID,
    lease: int,
    before: datetime,
    status: JobStatus,
    error: str | None,
) -> bool:
    result = session.execute(
        update(Job)
        .where(*_held(job_id, lease), Job.heartbeat_at < before)
        .values(status=status, lease_owner=None, error=error, finished_at=utcnow(),
                worker_losses=Job.worker_losses + 1)
    )
    return result.rowcount == 1


def _waiting_since() -> Any:
    return func.coalesce(Job.enqueued_at, Job.created_at)


def find_unsent_jobs(session: Session, *, before: datetime) -> list[uuid.UUID]:
    """Queued jobs last sent to the broker before `before`, oldest first."""
    return list(session.scalars(
        select(Job.id)
        .where(Job.status == JobStatus.queued, _waiting_since() < before)
        .order_by(_waiting_since())
    ))


def mark_enqueued(session: Session, *, job_id: uuid.UUID, before: datetime) -> bool:
    """Note that a queued job is sent again now; False when it is no longer queued, or another
    process sent it since `before`."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.queued, _waiting_since() < before)
        .values(enqueued_at=utcnow(), updated_at=Job.updated_at)
    )
    return result.rowcount == 1


def retry_job(session: Session, *, job_id: uuid.UUID, max_retries: int) -> bool:
    """Queue a failed or cancelled job again, to resume from its last checkpoint, with its
    failure and loss counts reset; False when it is in another status or out of retries."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_([JobStatus.failed, JobStatus.cancelled]),
               Job.retries < max_retries)
        .values(status=JobStatus.queued, retries=Job.retries + 1, failures=0, worker_losses=0,
                cancel_requested=False, finished_at=None, lease_owner=None, error=None,
                enqueued_at=utcnow())
    )
    return result.rowcount == 1
