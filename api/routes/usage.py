from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import OwnerDep, SessionDep
from api.schemas import Problem, UsagePublic
from api.services import usage as service

router = APIRouter(prefix="/usage", tags=["usage"])


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
    since: Annotated[datetime | None, Query(description="From (inclusive)")] = None,
    until: Annotated[datetime | None, Query(description="To (exclusive)")] = None,
) -> UsagePublic:
    return service.totals(session, owner=owner, since=since, until=until)
