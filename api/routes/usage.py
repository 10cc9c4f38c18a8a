from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from api.deps import OwnerDep, SessionDep
from api.schemas import Problem, UsagePublic
from api.services import usage as service

router = APIRouter(prefix="/usage", tags=["usage"])

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_8601(value: Any) -> Any:
    """Only ISO 8601: pydantic also reads a number ("0.5", "1700000000") as Unix time, so a
    mistyped date would silently become one in 1970."""
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise PydanticCustomError(
            "iso_8601", "Input should be an ISO 8601 date or date-time, e.g. 2026-12-01 or "
            "2026-12-01T08:00:00Z")
    return value


IsoDateTime = Annotated[datetime | None, BeforeValidator(_iso_8601)]


@router.get(
    "",
    response_model=UsagePublic,
    summary="What your jobs cost: device time per phase and per device, images",
    description="Totals of the job phases that ran in [since, until) (by their last "
    "recorded activity), for the caller's owner, deleted jobs included. Dates are ISO 8601; "
    "without a zone, UTC. `curl -H 'Authorization: Bearer $KEY' "
    "'http://localhost:8000/usage?since=2026-12-01'`",
    responses={401: {"model": Problem, "description": "Missing or invalid API key"},
               422: {"model": Problem, "description": "A date that is not ISO 8601"}},
)
def get_usage(
    session: SessionDep,
    owner: OwnerDep,
    since: Annotated[IsoDateTime, Query(description="From (inclusive)")] = None,
    until: Annotated[IsoDateTime, Query(description="To (exclusive)")] = None,
) -> UsagePublic:
    return service.totals(session, owner=owner, since=since, until=until)
