"""Following a job over server-sent events (GET /jobs/{id}/events), reconnecting after a
dropped connection with Last-Event-ID so that no epoch is lost or repeated."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from httpx_sse import EventSource

from .errors import TransportError

if TYPE_CHECKING:
    from ._http import Transport

FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
# The server sends a comment every 15 s while a job is quiet: a longer silence is a dead link.
READ_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Event:
    """`event` is "epoch" (`data`: one finished epoch, as in GET /jobs/{id}/history) or
    "status" (`data`: the job, as in GET /jobs/{id}, or {"status": "deleted"})."""

    event: str
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

    @property
    def final(self) -> bool:
        return self.event == "status" and self.data.get("status") in FINAL_STATUSES | {"deleted"}


def follow(
    transport: Transport,
    job_id: str,
    *,
    last_event_id: int = 0,
    max_reconnects: int = 20,
    deadline: float | None = None,
) -> Iterator[Event]:
    """Every event from `last_event_id` on, until the job reaches a final status. A connection
    that breaks (or a stream that ends early) is reopened with the last id seen; after
    `max_reconnects` failures in a row without an event, `TransportError`. `deadline`
    (time.monotonic()): `TimeoutError` once it has passed, also while no event comes."""
    last = last_event_id
    failures = 0
    while True:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if last:
            headers["Last-Event-ID"] = str(last)
        read = READ_TIMEOUT_S
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"job {job_id} did not end in time")
            read = min(read, remaining + 0.1)
        timeout = httpx.Timeout(transport.http.timeout.connect, read=read)
        try:
            with transport.stream(
                "GET", f"/jobs/{job_id}/events", headers=headers, timeout=timeout
            ) as response:
                for sse in EventSource(response).iter_sse():
                    failures = 0
                    if sse.id:
                        last = int(sse.id)
                    event = Event(
                        sse.event or "message",
                        json.loads(sse.data) if sse.data else {},
                        int(sse.id) if sse.id else None,
                    )
                    yield event
                    if event.final:
                        return
                    if deadline is not None and time.monotonic() >= deadline:
                        raise TimeoutError(f"job {job_id} did not end in time")
            why: Exception | None = None  # ended without a final status: reconnect
        except (httpx.TransportError, TransportError) as exc:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} did not end in time") from exc
            why = exc
        failures += 1
        if failures > max_reconnects:
            raise TransportError(
                f"lost the event stream of job {job_id} {failures} times in a row ({why!r})"
            ) from why
        transport.sleep(transport.retry.wait_s(min(failures, 6), None))
