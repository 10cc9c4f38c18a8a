"""The one place errors become HTTP: application/problem+json bodies (RFC 9457)."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from api.services.errors import DomainError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
          405: "Method not allowed", 408: "Request timeout", 409: "Conflict",
          413: "Payload too large",
          415: "Unsupported media type", 422: "Invalid input", 429: "Too many requests",
          500: "Internal server error",
          503: "Service unavailable"}


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON

    def render(self, content: Any) -> bytes:
        # A detail may quote the client's input, which can hold a lone surrogate ("\ud800" in
        # a JSON key): UTF-8 cannot encode it, so it goes out as the JSON escape it came in as.
        return json.dumps(content, ensure_ascii=False, allow_nan=False,
                          separators=(",", ":")).encode("utf-8", "backslashreplace")


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
    return ProblemResponse(body, status_code=status, headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    """The field as the client names it: `zzz` for the body's zzz, also inside a multipart
    request's JSON `config` (loc form.config.zzz); `config` for the config field itself."""
    loc = list(loc)
    if loc[:2] == ["form", "config"] and len(loc) > 2:
        loc = loc[2:]
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


# pydantic's message for a string it cannot read (a lone surrogate, "\ud800" in JSON, also
# in a key), which does not say what to fix.
_MESSAGES = {"string_unicode": "must be valid Unicode text (it holds a lone surrogate such as "
             "\\ud800; send characters outside the BMP as a surrogate pair)"}


def validation_problem(request: Request, errors: list[dict[str, Any]]) -> JSONResponse:
    cleaned = [
        {"loc": list(e.get("loc", ())), "msg": _MESSAGES.get(e.get("type", ""), e.get("msg", "")),
         "type": e.get("type", "")}
        for e in errors
    ]
    detail = "; ".join(f"{_field(e['loc'])}: {e['msg']}" for e in cleaned) or "invalid input"
    return problem(request, 422, detail, errors=cleaned)


def _domain_problem(request: Request, exc: DomainError) -> JSONResponse:
    return problem(
        request, exc.status, exc.detail, title=exc.title, errors=exc.errors, headers=exc.headers
    )


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette's 405 named only those of the
    first route that matched the path: GET /jobs and POST /jobs are two routes). Asked of
    each route as the router does; the mounts are static files (GET, HEAD)."""
    # The scope as the app got it: a mount's handler sees its own root_path.
    scope = {**request.scope, "root_path": request.scope.get("app_root_path",
                                                             request.scope.get("root_path", ""))}
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Mount):
            if route.matches(scope)[0] is not Match.NONE:
                methods |= {"GET", "HEAD"}
            continue
        methods.update(m for m in _METHODS
                       if route.matches({**scope, "method": m})[0] is Match.FULL)
    return sorted(methods)


def _method_not_allowed(request: Request) -> JSONResponse:
    allowed = _allowed_methods(request)
    return problem(request, 405, f"{request.method} is not allowed on {request.url.path}; "
                   f"use {', '.join(allowed) or 'another path'}",
                   headers={"Allow": ", ".join(allowed)})


def _connection_lost(request: Request, exc: DBAPIError) -> JSONResponse:
    """A database connection killed or dropped mid-request (a Postgres restart, a failover,
    an idle-connection killer): ours, not the client's, so 503 and a retry."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    log.warning("database connection lost on %s %s: %s", request.method, request.url.path,
                reason)
    return problem(request, 503, "the database connection was lost during the request; retry "
                   "in a moment (a POST /jobs retried with the same Idempotency-Key is not "
                   "submitted twice)", headers={"Retry-After": "1"})


def _is_connection_lost(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return _domain_problem(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_problem(request, list(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:
            return _method_not_allowed(request)
        return problem(request, exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(request: Request, exc: PoolTimeout) -> JSONResponse:
        log.warning("no database connection in time on %s %s", request.method, request.url.path)
        return problem(request, 503, "the service is busy: no database connection came free "
                       "in time; retry in a moment", headers={"Retry-After": "1"})

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError) -> JSONResponse:
        return _connection_lost(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DomainError):  # raised after the route, e.g. from the commit hook
            return _domain_problem(request, exc)
        if isinstance(exc, PoolTimeout):
            return await _pool_timeout(request, exc)
        if _is_connection_lost(exc):
            return _connection_lost(request, exc)  # type: ignore[arg-type]
        log.exception("unhandled error on %s %s: %r", request.method, request.url.path, exc)
        return problem(request, 500, "internal error; the server log has the details")
