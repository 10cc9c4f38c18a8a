"""Compute accounting: the ledger of what jobs cost, and its totals.

A worker writes one `UsageRecord` per attempt and phase (the engine's `UsageMeter` snapshot,
rewritten as the attempt goes on), and the job's `usage` column, its records summed, in the
same transaction. GET /usage totals the records of an owner over a period; the records stay
when a job is deleted. Like the repository, these functions take keyword-only arguments and
only flush.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from enas_service.models import Job, JobStatus, UsageRecord, utcnow

PHASES = ("search", "select", "final")


def record_usage(
    session: Session, *, job_id: uuid.UUID, attempt: int, snapshot: dict[str, Any]
) -> bool:
    """Write an attempt's usage so far (`UsageMeter.snapshot()`) and the job's summed usage.
    False when the job no longer exists."""
    owner = session.scalar(select(Job.owner).where(Job.id == job_id))
    if owner is None:
        return False
    device = snapshot.get("device") or {}
    existing = {
        r.phase: r
        for r in session.scalars(
            select(UsageRecord).where(UsageRecord.job_id == job_id,
                                      UsageRecord.attempt == attempt)
        )
    }
    for phase, part in (snapshot.get("phases") or {}).items():
        record = existing.get(phase)
        if record is None:
            record = UsageRecord(job_id=job_id, owner=owner, attempt=attempt, phase=phase)
            session.add(record)
        record.device = str(device.get("device", "?"))[:64]
        record.device_name = str(device.get("name") or device.get("type") or "?")[:200]
        record.device_info = device
        record.memory_kind = str(snapshot.get("memory_kind") or "?")[:32]
        record.seconds = float(part.get("seconds") or 0.0)
        record.cpu_seconds = float(part.get("cpu_seconds") or 0.0)
        record.images = int(part.get("images") or 0)
        record.peak_memory_bytes = part.get("peak_memory_bytes")
        record.updated_at = utcnow()
    session.flush()
    # While the job runs, its usage goes with an epoch, and `updated_at` stays the time of its
    # progress (the ETA's rate). Once it has ended (the attempt's last usage is written after
    # its final status), the change is the job's latest: the API's cache of finished jobs
    # (api.services.projections) tells their versions apart by `updated_at`.
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(usage=job_usage(session, job_id=job_id),
                updated_at=case((Job.status == JobStatus.running, Job.updated_at),
                                else_=utcnow()))
    )
    return True


def job_usage(session: Session, *, job_id: uuid.UUID) -> dict[str, Any] | None:
    """A job's records summed over its attempts: per phase and in all, with the device of the
    latest attempt (and every device it used)."""
    records = session.scalars(
        select(UsageRecord)
        .where(UsageRecord.job_id == job_id)
        .order_by(UsageRecord.attempt, UsageRecord.id)
    ).all()
    if not records:
        return None
    phases: dict[str, dict[str, Any]] = {}
    for r in records:
        part = phases.setdefault(
            r.phase, {"seconds": 0.0, "cpu_seconds": 0.0, "images": 0, "peak_memory_bytes": None}
        )
        part["seconds"] += r.seconds
        part["cpu_seconds"] += r.cpu_seconds
        part["images"] += r.images
        if r.peak_memory_bytes is not None:
            part["peak_memory_bytes"] = max(part["peak_memory_bytes"] or 0, r.peak_memory_bytes)
    ordered = {p: phases[p] for p in (*PHASES, *sorted(set(phases) - set(PHASES))) if p in phases}
    peaks = [p["peak_memory_bytes"] for p in ordered.values() if p["peak_memory_bytes"]]
    last = records[-1]
    return {
        "device": last.device_info,
        "memory_kind": last.memory_kind,
        "devices": sorted({r.device for r in records}),
        "attempts": len({r.attempt for r in records}),
        "phases": ordered,
        "seconds": sum(p["seconds"] for p in ordered.values()),
        "cpu_seconds": sum(p["cpu_seconds"] for p in ordered.values()),
        "images": sum(p["images"] for p in ordered.values()),
        "peak_memory_bytes": max(peaks) if peaks else None,
    }


def usage_totals(
    session: Session, *, owner: str, since: datetime | None, until: datetime | None
) -> dict[str, Any]:
    """An owner's records last written in [since, until), totalled per phase and per device
    (a GPU-minute and a CPU-minute are not the same thing, so they are never added up into
    one figure without the device next to them)."""
    where = [UsageRecord.owner == owner]
    if since is not None:
        where.append(UsageRecord.updated_at >= since)
    if until is not None:
        where.append(UsageRecord.updated_at < until)
    sums = (
        func.coalesce(func.sum(UsageRecord.seconds), 0.0),
        func.coalesce(func.sum(UsageRecord.cpu_seconds), 0.0),
        func.coalesce(func.sum(UsageRecord.images), 0),
        func.count(func.distinct(UsageRecord.job_id)),
    )
    by_phase = session.execute(
        select(UsageRecord.phase, *sums).where(*where).group_by(UsageRecord.phase)
    ).all()
    by_device = session.execute(
        select(UsageRecord.device, UsageRecord.device_name, *sums,
               func.max(UsageRecord.peak_memory_bytes))
        .where(*where)
        .group_by(UsageRecord.device, UsageRecord.device_name)
        .order_by(UsageRecord.device, UsageRecord.device_name)
    ).all()
    jobs = session.scalar(select(func.count(func.distinct(UsageRecord.job_id))).where(*where))
    return {
        "owner": owner,
        "since": since,
        "until": until,
        "jobs": int(jobs or 0),
        "seconds": float(sum(r[1] for r in by_phase)),
        "cpu_seconds": float(sum(r[2] for r in by_phase)),
        "images": int(sum(r[3] for r in by_phase)),
        "phases": {
            r[0]: {"seconds": float(r[1]), "cpu_seconds": float(r[2]), "images": int(r[3]),
                   "jobs": int(r[4])}
            for r in sorted(by_phase, key=lambda r: (PHASES + (r[0],)).index(r[0]))
        },
        "devices": [
            {"device": r[0], "name": r[1], "seconds": float(r[2]), "cpu_seconds": float(r[3]),
             "images": int(r[4]), "jobs": int(r[5]), "peak_memory_bytes": r[6]}
            for r in by_device
        ],
    }
