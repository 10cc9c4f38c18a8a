from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from api.schemas import CheckPublic
from enas_service.db import get_engine
from enas_service.queue import broker_ping

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=CheckPublic, summary="Liveness: the process answers")
def healthz() -> CheckPublic:
    return CheckPublic(status="ok")


def _check_database() -> str:
    with get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))
    return "ok"


def _check_broker() -> str:
    broker_ping()
    return "ok"


@router.get(
    "/readyz",
    response_model=CheckPublic,
    summary="Readiness: the database and the broker are reachable",
    responses={503: {"model": CheckPublic, "description": "A dependency is down"}},
)
async def readyz() -> JSONResponse:
    checks: dict[str, str] = {}
    for name, check in (("database", _check_database), ("broker", _check_broker)):
        try:
            checks[name] = await run_in_threadpool(check)
        except Exception as exc:
            checks[name] = f"error: {type(exc).__name__}: {exc}"[:300]
    ok = all(v == "ok" for v in checks.values())
    body = CheckPublic(status="ok" if ok else "error", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
