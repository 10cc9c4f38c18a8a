"""Jobs: map the friendly request onto the engine's RunConfig, submit (idempotently), read
progress, history and architectures, cancel, delete, and export the trained model."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.schemas import (
    ArchitecturePublic,
    EpochPublic,
    FinalMetrics,
    JobCreate,
    JobPublic,
    ParetoPublic,
)
from api.services import datasets
from api.services.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    NotSupported,
    Unavailable,
)
from enas_core.config import RunConfig, to_dict
from enas_core.data import BUILTIN_DATASETS
from enas_core.options import OptionError, build_config
from enas_service import artifacts, limits, repository
from enas_service.db import after_commit, new_session, session_scope
from enas_service.models import FINAL_STATUSES, Dataset, EpochRecord, Job, JobStatus
from enas_service.queue import enqueue_run_job

MODEL_FORMATS = ("pt", "torchscript", "onnx")

log = logging.getLogger(__name__)


# -- the config -------------------------------------------------------------------------------


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
    elif builtin in limits.BUILTIN_SHAPES:
        shape, classes = limits.BUILTIN_SHAPES[builtin]
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


# -- submit -----------------------------------------------------------------------------------


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


def submit_job(
    session: Session, *, owner: str, body: JobCreate, idempotency_key: str | None
) -> tuple[Job, bool]:
    """Create a queued job and enqueue it once the transaction commits.
    Returns (job, created); created is False for a replayed Idempotency-Key."""
    request = body.model_dump(exclude_none=True)
    existing = find_idempotent(session, owner=owner, key=idempotency_key, request=request)
    if existing is not None:
        return existing, False
    config = build_run_config(body)
    dataset, builtin = resolve_dataset(session, owner=owner, dataset=body.dataset)
    check_job_limits(config, dataset=dataset, builtin=builtin)
    job = Job(
        owner=owner,
        name=body.name,
        dataset_id=dataset.id if dataset else None,
        builtin_dataset=builtin,
        idempotency_key=idempotency_key,
        request=request,
        config=to_dict(config),
    )
    try:
        with session.begin_nested():
            repository.add_job(session, job=job)
    except IntegrityError:
        # A concurrent request with the same Idempotency-Key won the race.
        existing = find_idempotent(session, owner=owner, key=idempotency_key, request=request)
        if existing is None:
            raise
        return existing, False
    job_id = job.id
    after_commit(session, lambda: _enqueue_or_fail(job_id))
    return job, True


def _enqueue_or_fail(job_id: uuid.UUID) -> None:
    """Runs after the commit. A job the broker did not take is marked failed (so it does not
    sit queued forever) and the request answers 503."""
    try:
        enqueue_run_job(job_id)
    except Exception as exc:
        log.exception("could not enqueue job %s", job_id)
        with session_scope() as session:
            repository.fail_queued_job(
                session, job_id=job_id, error=f"the job queue was unreachable ({exc})"
            )
        raise Unavailable(
            "the job queue (broker) is unreachable, so the job was not started; try again later"
        ) from exc


def submit_job_with_upload(
    session: Session,
    *,
    owner: str,
    body: JobCreate,
    tmp_path: Path,
    filename: str,
    size: int,
    dataset_name: str | None,
    idempotency_key: str | None,
) -> tuple[Job, bool]:
    """One request with the dataset file and the config: the config is checked before the
    file is stored, and the request's rollback removes the file if anything fails later."""
    existing = find_idempotent(session, owner=owner, key=idempotency_key, request=None)
    if existing is not None:
        return existing, False
    build_run_config(body)
    datasets.check_suffix(filename)
    dataset = datasets.create_dataset(
        session, owner=owner, tmp_path=tmp_path, filename=filename, size=size, name=dataset_name
    )
    body = body.model_copy(update={"dataset": str(dataset.id)})
    return submit_job(session, owner=owner, body=body, idempotency_key=idempotency_key)


# -- read -------------------------------------------------------------------------------------


def to_public(job: Job) -> JobPublic:
    eta = None
    if job.status is JobStatus.running and 0 < job.progress < 1 and job.elapsed_s > 0:
        eta = job.elapsed_s / job.progress * (1 - job.progress)
    if job.builtin_dataset:
        dataset = job.builtin_dataset
    else:
        dataset = str(job.dataset_id) if job.dataset_id else "(deleted)"
    return JobPublic(
        id=job.id,
        name=job.name,
        dataset=dataset,
        dataset_id=job.dataset_id,
        status=job.status,
        phase=job.phase,  # type: ignore[arg-type]
        epoch=job.epoch,
        epochs=job.epochs,
        progress=job.progress,
        best_val_acc=job.best_val_acc,
        eta_seconds=eta,
        attempts=job.attempts,
        cancel_requested=job.cancel_requested,
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        updated_at=job.updated_at,
        final=FinalMetrics.model_validate(job.result) if job.result else None,
        constraints=job.constraints,
        request=job.request,
        config=job.config,
    )


def get_job(session: Session, *, owner: str, job_id: uuid.UUID) -> Job:
    job = repository.get_job(session, owner=owner, job_id=job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


def list_jobs(
    session: Session, *, owner: str, status: JobStatus | None, limit: int, offset: int
) -> tuple[Sequence[Job], int]:
    return repository.list_jobs(session, owner=owner, status=status, limit=limit, offset=offset)


def epoch_public(record: EpochRecord) -> EpochPublic:
    return EpochPublic.model_validate({**record.metrics, "created_at": record.created_at})


def history(session: Session, *, owner: str, job_id: uuid.UUID) -> list[EpochPublic]:
    job = get_job(session, owner=owner, job_id=job_id)
    return [epoch_public(r) for r in repository.list_history(session, job_id=job.id)]


def architectures(session: Session, *, owner: str, job_id: uuid.UUID) -> list[ArchitecturePublic]:
    """The top-k after the search; while it runs, the best so far (or nothing yet)."""
    job = get_job(session, owner=owner, job_id=job_id)
    rows = repository.list_architectures(session, job_id=job.id)
    final = FinalMetrics.model_validate(job.result) if job.result else None
    if rows:
        return [
            ArchitecturePublic(
                rank=r.rank,
                source="final",
                val_acc=r.val_acc,
                arch=r.arch,
                costs=r.costs,
                feasible=r.feasible,
                score=r.score,
                final=final if r.rank == 1 else None,
            )
            for r in rows
        ]
    if job.best_arch:
        return [
            ArchitecturePublic(
                rank=1,
                source="search",
                val_acc=job.best_val_acc,
                arch=job.best_arch,
                costs=job.best_costs,
            )
        ]
    return []


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


def pareto(session: Session, *, owner: str, job_id: uuid.UUID) -> ParetoPublic:
    """The Pareto front of the architectures ranked on validation data; stored when the search
    ends (also when no architecture met the hard limits)."""
    job = get_job(session, owner=owner, job_id=job_id)
    if not job.pareto:
        if job.status in (JobStatus.queued, JobStatus.running):
            why = f"the job is {job.status.value}; the front comes when the search ends"
        else:
            why = f"the job {job.status.value} before its search ended"
        raise Conflict(f"no Pareto front yet: {why}")
    front = job.pareto.get("front", [])
    return ParetoPublic(
        objectives=job.pareto["objectives"],
        latency_device=job.pareto["latency_device"],
        latency_batch_size=job.pareto["latency_batch_size"],
        evaluated=job.pareto.get("evaluated", len(front)),
        front=front,
        count=len(front),
        constraints=job.constraints,
    )


# -- change -----------------------------------------------------------------------------------


def cancel_job(session: Session, *, owner: str, job_id: uuid.UUID) -> Job:
    """Queued: cancelled at once. Running: the worker stops within one training step."""
    job = get_job(session, owner=owner, job_id=job_id)
    if job.status in FINAL_STATUSES:
        raise Conflict(f"the job already {job.status.value}; there is nothing to cancel")
    if not repository.cancel_queued_job(session, job_id=job.id):
        repository.request_cancel(session, job_id=job.id)
    session.refresh(job)
    return job


def delete_job(session: Session, *, owner: str, job_id: uuid.UUID) -> None:
    job = get_job(session, owner=owner, job_id=job_id)
    if job.status is JobStatus.running:
        raise Conflict("the job is running; cancel it first (POST /jobs/{id}/cancel)")
    folder = artifacts.job_dir(job.id)
    repository.delete_job(session, job=job)
    after_commit(session, lambda: artifacts.remove_tree(folder))


# -- the model --------------------------------------------------------------------------------


def model_file(
    session: Session, *, owner: str, job_id: uuid.UUID, format: str
) -> tuple[Path, str]:
    """The trained model as a file (exported on first request); (path, download name)."""
    job = get_job(session, owner=owner, job_id=job_id)
    if job.status is not JobStatus.succeeded:
        raise Conflict(
            f"the model is there once the job has succeeded; it is {job.status.value}"
        )
    if not job.model_path:
        raise Conflict("this job trained no model (final_epochs was 0)")
    source = artifacts.absolute(job.model_path)
    if not source.is_file():
        raise NotFound(f"the model file of job {job_id} is missing from the data directory")
    short = str(job.id)[:8]
    if format == "pt":
        return source, f"enas-{short}.pt"
    target = source.parent / artifacts.EXPORT_FILES[format]
    if not target.is_file():
        _export(source, target, format=format)
    suffix = ".onnx" if format == "onnx" else ".torchscript.pt"
    return target, f"enas-{short}{suffix}"


def _export(source: Path, target: Path, *, format: str) -> None:
    """Export next to model.pt (once; later requests get the file). Exports take raw pixels
    in [0, 1]: the saved normalisation is part of the graph."""
    from enas_core import export

    tmp = target.with_name(f".{uuid.uuid4().hex}.{target.name}")
    try:
        if format == "torchscript":
            export.to_torchscript(source, tmp)
        else:
            export.to_onnx(source, tmp)
        os.replace(tmp, target)
    except ImportError as exc:  # `onnx` is a dependency; only a broken install lacks it
        raise NotSupported(
            f"{format} export is not available on this server ({exc}); reinstall the "
            "service with its dependencies (pip install enas-service)"
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)


# -- events -----------------------------------------------------------------------------------


def _sse(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


def _poll(job_id: uuid.UUID, after_id: int) -> tuple[list[EpochRecord], Job | None]:
    # The job first: when it is final, its last epochs were committed before it, so the
    # history read that follows sees them all.
    with new_session() as session:
        job = repository.get_job_by_id(session, job_id=job_id)
        records = list(repository.list_history(session, job_id=job_id, after_id=after_id))
        return records, job


async def job_events(
    job_id: uuid.UUID, *, last_event_id: int = 0, poll_s: float = 0.5
) -> AsyncIterator[str]:
    """Server-sent events: `epoch` for each finished epoch (id = its history row), `status`
    when the status changes; the stream ends when the job reaches a final status."""
    last_status: str | None = None
    after_id = last_event_id
    idle = 0.0
    while True:
        records, job = await run_in_threadpool(_poll, job_id, after_id)
        for record in records:
            after_id = record.id
            yield _sse("epoch", epoch_public(record).model_dump(mode="json"), record.id)
        if job is None:
            yield _sse("status", {"id": str(job_id), "status": "deleted"})
            return
        if job.status.value != last_status:
            last_status = job.status.value
            yield _sse("status", to_public(job).model_dump(mode="json"))
            idle = 0.0
        if job.status in FINAL_STATUSES:
            return
        await asyncio.sleep(poll_s)
        idle += poll_s
        if idle >= 15:  # a comment line keeps proxies from closing an idle stream
            idle = 0.0
            yield ": keep-alive\n\n"
