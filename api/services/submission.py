"""Submitting a job: the request mapped onto the engine's RunConfig (through the job options'
table), its limits and dataset checked, the row stored (idempotently) and the task enqueued
once the row is committed."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.schemas import JobCreate
from api.services import datasets, tracking
from api.services.errors import Conflict, InvalidInput, TooManyRequests, Unavailable
from enas_core.config import RunConfig
from enas_core.config_migrations import stored
from enas_core.data import BUILTIN_DATASETS, BUILTIN_SHAPES
from enas_core.options import OptionError, build_config
from enas_service import limits, repository
from enas_service.db import after_commit
from enas_service.models import Dataset, Job, JobStatus
from enas_service.queue import enqueue_run_job
from enas_service.settings import get_settings

log = logging.getLogger(__name__)


def build_run_config(body: JobCreate) -> RunConfig:
    """The engine's RunConfig for a request: the preset (or the engine defaults), then each
    option that was given; a 422 names the option the engine refused."""
    try:
        return build_config(body.options(), preset=body.preset)
    except OptionError as exc:
        raise InvalidInput(str(exc), field=exc.option) from exc


def check_job_limits(config: RunConfig, *, dataset: Dataset | None, builtin: str | None) -> None:
    """422 naming the limit when a hard params or FLOPs limit is below the cheapest network of
    the config on this dataset's images (the engine's check, before anything is stored)."""
    if not config.search.constraints.active:
        return
    if dataset is not None:
        height, width = dataset.image_shape[:2]  # [H, W, C], as the summary stores it
        shape, classes = (dataset.channels, height, width), dataset.num_classes
    elif builtin in BUILTIN_SHAPES:
        shape, classes = BUILTIN_SHAPES[builtin]
    else:  # a shape we do not know: the worker checks before the search starts
        return
    try:
        limits.check_limits(config, shape, classes)
    except OptionError as exc:
        raise InvalidInput(str(exc), field=exc.option) from exc


def resolve_dataset(
    session: Session, *, owner: str, dataset: str
) -> tuple[Dataset | None, str | None]:
    """(uploaded dataset, None) or (None, built-in name); 422 naming `dataset` otherwise."""
    name = dataset.strip().lower()
    if name in BUILTIN_DATASETS:
        return None, name
    try:
        dataset_id = uuid.UUID(dataset)
    except ValueError:
        dataset_id = None
    found = (
        repository.get_dataset(session, owner=owner, dataset_id=dataset_id)
        if dataset_id
        else None
    )
    if found is None:
        raise InvalidInput(
            f"unknown dataset {dataset!r}; use a built-in one ({', '.join(BUILTIN_DATASETS)}) "
            "or the id of a dataset you uploaded (GET /datasets)",
            field="dataset",
        )
    return found, None


def find_idempotent(
    session: Session, *, owner: str, key: str | None, request: dict[str, Any] | None
) -> Job | None:
    """The job an earlier request with this Idempotency-Key created, if any."""
    if not key:
        return None
    job = repository.get_job_by_idempotency_key(session, owner=owner, key=key)
    if job is not None and request is not None and job.request != request:
        raise Conflict(
            "this Idempotency-Key was used for a different request; use a new key for a new job"
        )
    return job


QUOTA_RETRY_AFTER_S = 60


def check_quota(session: Session, *, owner: str) -> None:
    """429 with Retry-After when the owner already has ENAS_MAX_QUEUED_JOBS_PER_OWNER jobs
    waiting (two submissions at the same instant may both pass: the limit is a guard against
    floods, not an exact count)."""
    limit = get_settings().max_queued_jobs_per_owner
    if not limit:
        return
    queued = repository.count_jobs(session, owner=owner, status=JobStatus.queued)
    if queued >= limit:
        raise TooManyRequests(
            f"you have {queued} jobs waiting in the queue, the most one owner may have "
            f"(ENAS_MAX_QUEUED_JOBS_PER_OWNER={limit}); submit more once some have started, "
            "or cancel some (POST /jobs/{id}/cancel)",
            retry_after=QUOTA_RETRY_AFTER_S,
        )


def submit_job(
    session: Session,
    *,
    owner: str,
    body: JobCreate,
    idempotency_key: str | None,
    compare_request: bool = True,
) -> tuple[Job, bool]:
    """Create a queued job and enqueue it once the transaction commits.
    Returns (job, created); created is False for a replayed Idempotency-Key. Without
    `compare_request` a replay is not checked against the stored request (an upload's request
    names the dataset it just stored, which differs from the first one's by construction)."""
    request = body.model_dump(exclude_none=True)
    compared = request if compare_request else None
    existing = find_idempotent(session, owner=owner, key=idempotency_key, request=compared)
    if existing is not None:
        return existing, False
    check_quota(session, owner=owner)
    config = build_run_config(body)
    tracking.check(body)
    dataset, builtin = resolve_dataset(session, owner=owner, dataset=body.dataset)
    check_job_limits(config, dataset=dataset, builtin=builtin)
    job = Job(
        owner=owner,
        name=body.name,
        dataset_id=dataset.id if dataset else None,
        builtin_dataset=builtin,
        idempotency_key=idempotency_key,
        request=request,
        config=stored(config),  # with its version: a later release migrates it
    )
    try:
        with session.begin_nested():
            repository.add_job(session, job=job)
    except IntegrityError:
        # A concurrent request with the same Idempotency-Key won the race.
        existing = find_idempotent(session, owner=owner, key=idempotency_key, request=compared)
        if existing is None:
            raise
        return existing, False
    job_id = job.id
    after_commit(session, lambda: _enqueue_or_fail(session, job_id))
    return job, True


def _enqueue_or_fail(session: Session, job_id: uuid.UUID) -> None:
    """Runs after the request's commit, in a transaction of its own on the same session. A
    job the broker did not take is marked failed (so it does not sit queued forever) with its
    Idempotency-Key released (a retry under the key submits again), and the request answers
    503."""
    try:
        enqueue_run_job(job_id)
    except Exception as exc:
        log.warning("could not enqueue job %s: %r", job_id, exc)
        try:
            repository.fail_unqueued_job(
                session, job_id=job_id, error=f"the job queue was unreachable ({exc})"
            )
            session.commit()
        except Exception:
            session.rollback()
            raise
        raise Unavailable(
            "the job queue (broker) is unreachable, so the job was not started; try again "
            "later (with the same Idempotency-Key, if you sent one)",
            headers={"Retry-After": "5"},
        ) from exc


def check_upload_submission(
    session: Session, *, owner: str, body: JobCreate, filename: str,
    idempotency_key: str | None,
) -> Job | None:
    """A one-request submission's checks before its file is parsed and stored: the job of a
    replayed Idempotency-Key (then nothing is stored), the queued-jobs quota, the config, the
    file's type."""
    existing = find_idempotent(session, owner=owner, key=idempotency_key, request=None)
    if existing is not None:
        return existing
    check_quota(session, owner=owner)
    build_run_config(body)
    datasets.check_suffix(filename)
    return None


def submit_job_with_upload(
    session: Session,
    *,
    owner: str,
    body: JobCreate,
    dataset: Dataset,
    idempotency_key: str | None,
) -> tuple[Job, bool]:
    """The job of a one-request submission, on the dataset its upload just stored (in the
    same transaction: its rollback removes the dataset's files if anything fails later)."""
    body = body.model_copy(update={"dataset": str(dataset.id)})
    job, created = submit_job(session, owner=owner, body=body, idempotency_key=idempotency_key,
                              compare_request=False)
    if not created:  # a concurrent request with the same key stored its upload first
        datasets.discard_dataset(session, dataset=dataset)
    return job, created
