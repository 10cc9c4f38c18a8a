"""The one place errors become HTTP: application/problem+json bodies (RFC 9457)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.services.errors import DomainError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
          405: "Method not allowed", 409: "Conflict", 413: "Payload too large",
          415: "Unsupported media type", 422: "Invalid input", 429: "Too many requests",
          500: "Internal server error",
          503: "Service unavailable"}


def problem(
    request: Request,
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    """The field as the client names it: `zzz` for the body's zzz, also inside a multipart
    request's JSON `config` (loc form.config.zzz); `config` for the config field itself."""
    loc = list(loc)
    if loc[:2] == ["form", "config"] and len(loc) > 2:
        loc = loc[2:]
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def validation_problem(request: Request, errors: list[dict[str, Any]]) -> JSONResponse:
    cleaned = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in errors
    ]
    detail = "; ".join(f"{_field(e['loc'])}: {e['msg']}" for e in cleaned) or "invalid input"
    return problem(request, 422, detail, errors=cleaned)


def _domain_problem(request: Request, exc: DomainError) -> JSONResponse:
    return problem(
        request, exc.status, exc.detail, title=exc.title, errors=exc.errors, headers=exc.headers
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return _domain_problem(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_problem(request, list(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(request, exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(request: Request, exc: PoolTimeout) -> JSONResponse:
        log.warning("no database connection in time on %s %s", request.method, request.url.path)
        return problem(request, 503, "the service is busy: no database connection came free "
                       "in time; retry in a moment", headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DomainError):  # raised after the route, e.g. from the commit hook
            return _domain_problem(request, exc)
        if isinstance(exc, PoolTimeout):
            return await _pool_timeout(request, exc)
        log.exception("unhandled error on %s %s: %r", request.method, request.url.path, exc)
        return problem(request, 500, "internal error; the server log has the details")
