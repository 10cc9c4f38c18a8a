"""Stored rows as API responses, in one place: each is `model_validate` of the row (or its
JSON column) into its schema, whose computed fields derive the rest (`JobPublic.dataset`,
`JobPublic.eta_seconds`)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from api.schemas import (
    ArchitecturePublic,
    EpochPublic,
    FinalMetrics,
    JobPublic,
    ParetoPublic,
)
from enas_service.models import FINAL_STATUSES, Architecture, EpochRecord, Job
from enas_service.repository import JobVersion


def epoch_public(record: EpochRecord) -> EpochPublic:
    return EpochPublic.model_validate({**record.metrics, "created_at": record.created_at})


def final_metrics(job: Job) -> FinalMetrics | None:
    return FinalMetrics.model_validate(job.result) if job.result else None


def ranked_architectures(job: Job, rows: Sequence[Architecture]) -> list[ArchitecturePublic]:
    """The search's top-k; the first, the one trained, with its measured final metrics."""
    final = final_metrics(job)
    return [ArchitecturePublic.model_validate(row).model_copy(
        update={"final": final if row.rank == 1 else None}) for row in rows]


def best_so_far(job: Job) -> ArchitecturePublic:
    """The best architecture of a search that is still running."""
    return ArchitecturePublic(rank=1, source="search", val_acc=job.best_val_acc,
                              arch=job.best_arch, costs=job.best_costs)


def pareto_public(job: Job) -> ParetoPublic:
    front = job.pareto.get("front", [])
    return ParetoPublic.model_validate(
        {**job.pareto, "evaluated": job.pareto.get("evaluated", len(front)), "front": front,
         "count": len(front), "constraints": job.constraints})


# -- jobs as JSON, finished ones cached -------------------------------------------------------


class JsonCache:
    """Serialised projections by version, least recently used dropped past `max_bytes`.
    Shared by the threads of one process."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[JobVersion, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: JobVersion) -> bytes | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: JobVersion, value: bytes) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            self.size += len(value) - (len(old) if old is not None else 0)
            self._items[key] = value
            while self.size > self.max_bytes and self._items:
                _, dropped = self._items.popitem(last=False)
                self.size -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.size = 0


# A finished job changes only when it is retried, its dataset deleted, or its usage recorded
# once more, and each of those changes its version (repository.JobVersion); one that runs
# changes with every epoch and its ETA with the clock, so only finished ones are kept. About
# 2.5 KB a job: 32 MiB keeps some 13,000.
finished_jobs = JsonCache(32 * 1024 * 1024)


def version(job: Job) -> JobVersion:
    return JobVersion(job.id, job.status, job.updated_at, job.dataset_id)


def job_json(job: Job) -> bytes:
    """`JobPublic` of the row as JSON (what `model_dump_json` gives), from the cache for a
    finished job seen before."""
    key = version(job)
    cacheable = job.status in FINAL_STATUSES
    if cacheable and (found := finished_jobs.get(key)) is not None:
        return found
    data = JobPublic.model_validate(job).model_dump_json().encode()
    if cacheable:
        finished_jobs.put(key, data)
    return data


def cached_job_json(key: JobVersion) -> bytes | None:
    """The JSON of a finished job in the state `key` names, if it is cached."""
    return finished_jobs.get(key) if key.status in FINAL_STATUSES else None
