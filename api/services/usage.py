"""Compute accounting: what an owner's jobs cost in a period."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from api.schemas import UsagePublic
from api.services.errors import InvalidInput
from enas_service import usage


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # a time without a zone is UTC


def totals(
    session: Session, *, owner: str, since: datetime | None, until: datetime | None
) -> UsagePublic:
    since, until = _utc(since), _utc(until)
    if since is not None and until is not None and until <= since:
        raise InvalidInput("must be after `since`", field="until", loc="query")
    return UsagePublic.model_validate(
        usage.usage_totals(session, owner=owner, since=since, until=until)
    )
