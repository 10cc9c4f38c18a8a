"""Jobs: read one or a page, its history, architectures and Pareto front; cancel, delete.
Submitting is `submission`, the model file `model_files`, the event stream `events`."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.orm import Session

from api.schemas import ArchitecturePublic, EpochPublic, ParetoPublic, SearchReportPublic
from api.services import projections
from api.services.errors import Conflict, NotFound
from enas_core.spaces import arch_from_json, draw
from enas_service import artifacts, repository
from enas_service.db import after_commit
from enas_service.models import FINAL_STATUSES, Job, JobStatus
from enas_service.queue import enqueue_run_job
from enas_service.settings import get_settings

log = logging.getLogger(__name__)


def get_job(session: Session, *, owner: str, job_id: uuid.UUID) -> Job:
    job = repository.get_job(session, owner=owner, job_id=job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


def job_json(session: Session, *, owner: str, job_id: uuid.UUID) -> bytes:
    """GET /jobs/{id}'s body: a finished job from the cache when its version is unchanged
    (one small query), else from its row."""
    key = repository.get_job_version(session, owner=owner, job_id=job_id)
    if key is None:
        raise NotFound(f"no job {job_id}")
    cached = projections.cached_job_json(key)
    if cached is not None:
        return cached
    return projections.job_json(get_job(session, owner=owner, job_id=job_id))


def jobs_page_json(
    session: Session, *, owner: str, status: JobStatus | None, limit: int, offset: int
) -> bytes:
    """GET /jobs's body (`JobsPublic` as JSON): the page's versions and the count in one
    query, then the rows of the jobs not cached (running ones, ones not seen yet) in one more.
    Finished jobs are most of a page a dashboard polls, and reading their JSON columns,
    validating and serialising them was most of the time of a read."""
    keys, count = repository.list_job_versions(
        session, owner=owner, status=status, limit=limit, offset=offset)
    parts = {key.id: projections.cached_job_json(key) for key in keys}
    missing = [job_id for job_id, part in parts.items() if part is None]
    for job in repository.get_jobs(session, ids=missing):
        parts[job.id] = projections.job_json(job)
    data = b",".join(part for part in parts.values() if part is not None)  # deleted meanwhile
    return b'{"data":[' + data + b'],"count":' + str(count).encode() + b"}"


def history(session: Session, *, owner: str, job_id: uuid.UUID) -> list[EpochPublic]:
    job = get_job(session, owner=owner, job_id=job_id)
    return [projections.epoch_public(r) for r in repository.list_history(session, job_id=job.id)]


def architectures(session: Session, *, owner: str, job_id: uuid.UUID) -> list[ArchitecturePublic]:
    """The top-k after the search; while it runs, the best so far (or nothing yet)."""
    job = get_job(session, owner=owner, job_id=job_id)
    rows = repository.list_architectures(session, job_id=job.id)
    if rows:
        return projections.ranked_architectures(job, rows)
    return [projections.best_so_far(job)] if job.best_arch else []


def best_architecture(session: Session, *, owner: str, job_id: uuid.UUID) -> ArchitecturePublic:
    found = architectures(session, owner=owner, job_id=job_id)
    if not found:
        job = get_job(session, owner=owner, job_id=job_id)
        raise Conflict(
            f"no architecture yet: the job is {job.status.value}"
            + ("; the first one comes with the first search epoch" if job.status in
               (JobStatus.queued, JobStatus.running) else "")
        )
    return found[0]


def architecture_svg(session: Session, *, owner: str, job_id: uuid.UUID,
                     rank: int | None) -> str:
    """The picture of the best architecture, or of the candidate of `rank`."""
    best = best_architecture(session, owner=owner, job_id=job_id)  # 409 when there is none
    chosen = best
    if rank is not None and rank != best.rank:
        found = {a.rank: a for a in architectures(session, owner=owner, job_id=job_id)}
        if rank not in found:
            ranks = sorted(found)
            raise NotFound(f"no architecture of rank {rank}; the job has rank"
                           + (f"s {ranks[0]}..{ranks[-1]}" if len(ranks) > 1 else f" {ranks[0]}"))
        chosen = found[rank]
    job = get_job(session, owner=owner, job_id=job_id)
    label = job.name or f"job {str(job.id)[:8]}"
    title = f"{label}: rank {chosen.rank}" + (
        f", val_acc {chosen.val_acc:.4f}" if chosen.val_acc is not None else "")
    return draw(arch_from_json(chosen.arch), title=title)


def pareto(session: Session, *, owner: str, job_id: uuid.UUID) -> ParetoPublic:
    """The Pareto front of the architectures ranked on validation data; stored when the search
    ends (also when no architecture met the hard limits)."""
    job = get_job(session, owner=owner, job_id=job_id)
    if not job.pareto:
        raise _after_search(job, "Pareto front", "front")
    return projections.pareto_public(job)


def search_report(session: Session, *, owner: str, job_id: uuid.UUID) -> SearchReportPublic:
    """The controller's candidates against random ones; stored when the search ends."""
    job = get_job(session, owner=owner, job_id=job_id)
    if not job.search_report:
        raise _after_search(job, "search report", "report")
    return SearchReportPublic.model_validate(job.search_report)


def _after_search(job: Job, what: str, short: str) -> Conflict:
    """The 409 for what a job stores when its search ends, asked for before that."""
    if job.status in (JobStatus.queued, JobStatus.running):
        why = f"the job is {job.status.value}; the {short} comes when the search ends"
    else:
        why = f"the job {job.status.value} before its search ended"
    return Conflict(f"no {what} yet: {why}")


# -- change -----------------------------------------------------------------------------------


def cancel_job(session: Session, *, owner: str, job_id: uuid.UUID) -> Job:
    """Queued: cancelled at once. Running: the worker stops within one training step."""
    job = get_job(session, owner=owner, job_id=job_id)
    if job.status in FINAL_STATUSES:
        done = {"succeeded": "has already succeeded", "failed": "has already failed",
                "cancelled": "was already cancelled"}[job.status.value]
        raise Conflict(f"the job {done}; there is nothing to cancel")
    if not repository.cancel_queued_job(session, job_id=job.id):
        repository.request_cancel(session, job_id=job.id)
    session.refresh(job)
    return job


def retry_job(session: Session, *, owner: str, job_id: uuid.UUID) -> Job:
    """Queue a failed or cancelled job again; it resumes from its last checkpoint (or starts
    over when it recorded none), with its failure and loss counts reset."""
    job = get_job(session, owner=owner, job_id=job_id)
    if job.status not in (JobStatus.failed, JobStatus.cancelled):
        raise Conflict(
            f"only a failed or cancelled job can be retried; this one is {job.status.value}"
        )
    if job.dataset_id is None and job.builtin_dataset is None:
        raise Conflict("the job's dataset was deleted; submit a new job on a dataset")
    max_retries = get_settings().max_retries
    if job.retries >= max_retries:
        raise Conflict(
            f"the job was retried {job.retries} times, the limit (ENAS_MAX_RETRIES); submit a "
            "new job"
        )
    if not repository.retry_job(session, job_id=job.id, max_retries=max_retries):
        raise Conflict("the job changed meanwhile; read it again and retry")
    session.refresh(job)
    job_id = job.id
    after_commit(session, lambda: _enqueue(job_id))
    return job


def _enqueue(job_id: uuid.UUID) -> None:
    """Send a queued job; when the broker is down, the reaper sends it once it is back (the
    job stays queued in the database, which is what says it must run)."""
    try:
        enqueue_run_job(job_id)
    except Exception as exc:
        log.warning("job %s: queued, but the broker is unreachable (%s); the reaper sends it "
                    "later", job_id, exc)


def delete_job(session: Session, *, owner: str, job_id: uuid.UUID) -> None:
    job = get_job(session, owner=owner, job_id=job_id)
    if job.status is JobStatus.running:
        raise Conflict("the job is running; cancel it first (POST /jobs/{id}/cancel)")
    folder = artifacts.job_dir(job.id)
    repository.delete_job(session, job=job)
    after_commit(session, lambda: artifacts.remove_tree(folder))
