"""The HTTP layer: one httpx.Client, retries with backoff, problem+json errors.

What is retried: 429, 502, 503 and 504 answers (honouring Retry-After), and connection
errors. A request that may have reached the server (a broken connection after sending) is
retried only when repeating it is harmless: reads, deletes, and submissions, which carry an
Idempotency-Key so that a retry returns the job the first attempt made.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from .errors import TransportError, error_from_problem

RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Answers that say the server did not act on the request, so any method may repeat it.
NOT_PROCESSED = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # tries in all
    backoff_s: float = 0.5  # first wait; doubles each retry, with jitter
    max_backoff_s: float = 30.0

    def wait_s(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_backoff_s)
        base = min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s)
        return base * (0.5 + random.random() / 2)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return when.timestamp() - time.time() if when else None


def raise_for_problem(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:500]
    raise error_from_problem(response.status_code, body, fallback=response.reason_phrase)


class Transport:
    def __init__(
        self,
        url: str,
        key: str | None,
        *,
        timeout: float,
        retry: RetryPolicy,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        headers = {"User-Agent": "enas-client/0.1", "Accept": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self.url = url.rstrip("/")
        self.retry = retry
        self.sleep = sleep
        self.http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, follow_redirects=True,
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def _send(
        self, method: str, path: str, *, idempotent: bool, stream: bool = False,
        attempts: int | None = None, **kwargs: Any,
    ) -> httpx.Response:
        """Send with retries; the caller checks the status (and closes a stream)."""
        last: Exception | None = None
        attempts = attempts or self.retry.attempts
        for attempt in range(1, attempts + 1):
            rewind = kwargs.get("files")
            if rewind:  # a retried upload sends the file from its start again
                for value in rewind.values():
                    fh = value[1] if isinstance(value, tuple) else value
                    if hasattr(fh, "seek"):
                        fh.seek(0)
            try:
                request = self.http.build_request(method, path, **kwargs)
                response = self.http.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                last = exc  # never reached the server: always safe to repeat
            except httpx.TransportError as exc:
                if not idempotent:
                    raise TransportError(f"{method} {path}: {exc!r}") from exc
                last = exc
            else:
                status = response.status_code
                retryable = status in (RETRY_STATUSES if idempotent else NOT_PROCESSED)
                if not retryable or attempt == attempts:
                    return response
                wait = self.retry.wait_s(attempt, _retry_after(response))
                response.close()
                self.sleep(wait)
                continue
            if attempt < attempts:
                self.sleep(self.retry.wait_s(attempt, None))
        raise TransportError(
            f"{method} {self.url}{path}: no answer after {attempts} tries "
            f"({last!r}); is the service running there (ENAS_URL)?"
        ) from last

    def request(
        self, method: str, path: str, *, idempotent: bool | None = None, **kwargs: Any
    ) -> httpx.Response:
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "DELETE", "PUT", "OPTIONS")
        response = self._send(method, path, idempotent=idempotent, **kwargs)
        raise_for_problem(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else None

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        response = self._send(method, path, idempotent=True, stream=True, **kwargs)
        try:
            if not response.is_success:
                response.read()
                raise_for_problem(response)
            yield response
        finally:
            response.close()
