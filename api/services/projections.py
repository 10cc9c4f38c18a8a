"""Stored rows as API responses, in one place: each is `model_validate` of the row (or its
JSON column) into its schema, whose computed fields derive the rest (`JobPublic.dataset`,
`JobPublic.eta_seconds`)."""

from __future__ import annotations

from collections.abc import Sequence

from api.schemas import ArchitecturePublic, EpochPublic, FinalMetrics, ParetoPublic
from enas_service.models import Architecture, EpochRecord, Job


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
