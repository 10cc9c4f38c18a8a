"""Exceptions. Every answer the server refuses becomes an `APIError` carrying its
application/problem+json body: `status`, `title`, `detail` (what to fix) and `field`."""

from __future__ import annotations

from typing import Any


class EnasError(Exception):
    """Base class of the client's errors."""


class TransportError(EnasError):
    """The server could not be reached (after the retries), or the connection broke."""


class APIError(EnasError):
    """The server answered with an error status.

    `detail` says what to fix; `field` names the offending request field when there is one
    (`search_epochs`, `file`, ...); `errors` is the problem body's list of field errors.
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {title or ''}: {detail}".replace("  ", " "))
        self.status = status
        self.title = title
        self.detail = detail
        self.field = field
        self.errors = errors or []
        self.body = body or {}


class AuthenticationError(APIError):
    """401: no API key, or one the server does not know (set ENAS_KEY)."""


class NotFoundError(APIError):
    """404: no such job or dataset (or it belongs to another key owner)."""


class ConflictError(APIError):
    """409: the job's state does not allow this (not finished yet, already finished, ...)."""


class ValidationError(APIError):
    """422 from the server, or the same checks made locally before sending: `field` names the
    option and `detail` says what is wrong with it."""


class RateLimitedError(APIError):
    """429 after the retries."""


class ServerError(APIError):
    """5xx after the retries."""


_BY_STATUS: dict[int, type[APIError]] = {
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitedError,
}


def field_of(loc: list[Any] | tuple[Any, ...]) -> str | None:
    """`["body", "search_epochs"]` -> "search_epochs" (as the server names fields)."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or None


def error_from_problem(status: int, body: Any, *, fallback: str = "") -> APIError:
    """An `APIError` of the right class from a problem+json body (or any body)."""
    if not isinstance(body, dict):
        body = {"detail": str(body or fallback or "no detail")}
    errors = body.get("errors") if isinstance(body.get("errors"), list) else []
    detail = body.get("detail")
    if not isinstance(detail, str):  # FastAPI's default shape: a list of errors
        detail = str(detail) if detail is not None else fallback or "no detail"
    field = None
    for error in errors:
        if isinstance(error, dict) and error.get("loc"):
            field = field_of(error["loc"])
            break
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else APIError)
    return cls(status, detail, title=body.get("title"), field=field, errors=errors, body=body)
