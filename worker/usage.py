"""Recording what a job attempt costs: the engine's `UsageMeter` snapshot goes to the ledger
(enas_service.usage) with each recorded epoch, and once more when the attempt ends, however it
ends (the time of an epoch cut short by a cancel or a crash counts too)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy.orm import Session

from enas_service import usage
from enas_service.db import session_scope

log = logging.getLogger(__name__)


def new_meter(device: str) -> Any:
    from enas_core.usage import UsageMeter

    return UsageMeter(device)


def save(job_id: uuid.UUID, attempt: int, snapshot: dict[str, Any] | None) -> None:
    """Write the attempt's usage in a transaction of its own; accounting never fails a job."""
    if not snapshot or not snapshot.get("phases"):
        return
    try:
        with session_scope() as session:
            usage.record_usage(session, job_id=job_id, attempt=attempt, snapshot=snapshot)
    except Exception:
        log.exception("job %s: could not record its usage", job_id)


def record(session: Session, job_id: uuid.UUID, attempt: int,
           snapshot: dict[str, Any] | None) -> None:
    """Write the attempt's usage in the caller's transaction (with the epoch or the final
    status it goes with), in a savepoint: a failure here is logged and leaves the rest."""
    if not snapshot or not snapshot.get("phases"):
        return
    try:
        with session.begin_nested():
            usage.record_usage(session, job_id=job_id, attempt=attempt, snapshot=snapshot)
    except Exception:
        log.exception("job %s: could not record its usage", job_id)
