"""A job's server-sent events: `epoch` for each finished epoch, `status` when it changes, until
the job ends."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool

from api.concurrency import db_slot
from api.schemas import JobPublic
from api.services.projections import epoch_public
from enas_service import repository
from enas_service.db import new_session
from enas_service.models import FINAL_STATUSES, EpochRecord, Job
from enas_service.settings import Settings


def _sse(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


def _poll(job_id: uuid.UUID, after_id: int) -> tuple[list[EpochRecord], Job | None]:
    # The job first: when it is final, its last epochs were committed before it, so the
    # history read that follows sees them all. Read only: no BEGIN and COMMIT round trips.
    with new_session(read_only=True) as session:
        job = repository.get_job_by_id(session, job_id=job_id)
        records = list(repository.list_history(session, job_id=job_id, after_id=after_id))
        return records, job


async def job_events(
    job_id: uuid.UUID, *, settings: Settings, last_event_id: int = 0
) -> AsyncIterator[str]:
    """Server-sent events: `epoch` for each finished epoch (id = its history row), `status`
    when the status changes; the stream ends when the job reaches a final status. An open
    stream holds no session: each poll takes a database slot (waiting its turn) and a short
    session of its own."""
    poll_s = settings.sse_poll_s
    last_status: str | None = None
    after_id = last_event_id
    idle = 0.0
    while True:
        async with db_slot(settings, wait_s=math.inf):
            records, job = await run_in_threadpool(_poll, job_id, after_id)
        for record in records:
            after_id = record.id
            yield _sse("epoch", epoch_public(record).model_dump(mode="json"), record.id)
        if job is None:
            yield _sse("status", {"id": str(job_id), "status": "deleted"})
            return
        if job.status.value != last_status:
            last_status = job.status.value
            yield _sse("status", JobPublic.model_validate(job).model_dump(mode="json"))
            idle = 0.0
        if job.status in FINAL_STATUSES:
            return
        await asyncio.sleep(poll_s)
        idle += poll_s
        if idle >= 15:  # a comment line keeps proxies from closing an idle stream
            idle = 0.0
            yield ": keep-alive\n\n"
