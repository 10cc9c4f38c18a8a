"""Domain exceptions. `api.errors` maps each to an application/problem+json response."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status: int = 400
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers


class Unauthorized(DomainError):
    status, title = 401, "Unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class NotFound(DomainError):
    status, title = 404, "Not found"


class Conflict(DomainError):
    status, title = 409, "Conflict"


class PayloadTooLarge(DomainError):
    status, title = 413, "Payload too large"


class RequestTimeout(DomainError):
    """408: the client stopped sending its request body (answered with Connection: close)."""

    status, title = 408, "Request timeout"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Connection": "close"})


class UnsupportedMediaType(DomainError):
    status, title = 415, "Unsupported media type"


class InvalidInput(DomainError):
    """422; `field` names the offending request field."""

    status, title = 422, "Invalid input"

    def __init__(self, detail: str, *, field: str | None = None, loc: str = "body") -> None:
        errors = [{"loc": [loc, field], "msg": detail}] if field else None
        super().__init__(f"{field}: {detail}" if field else detail, errors=errors)
        self.field = field


class Unavailable(DomainError):
    status, title = 503, "Service unavailable"


class NotSupported(DomainError):
    status, title = 501, "Not implemented"


class Overloaded(Unavailable):
    """503 with Retry-After: every database session of this process is busy (or the pool
    could not give a connection in time)."""

    def __init__(self, detail: str, *, retry_after: int = 1) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class TooManyRequests(DomainError):
    status, title = 429, "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})
