"""How many requests work on the database at once, per API process.

A request holds a session (and so a connection) from its first query until its dependency
closes it; FastAPI runs each of its blocking steps in a separate threadpool call. With more
threads than connections, threads waiting for a connection can starve the requests that hold
one of the thread they need to finish: at 64 clients every request timed out on
`QueuePool limit ... reached`. So a request first takes a slot, waiting without a thread, and
only then opens a session: at most `db_pool_size` sessions exist, each has a connection and a
thread (`api_threads` >= `db_pool_size`). A request that waits longer than `api_wait_s` is
answered 503 with Retry-After, at once, instead of hanging.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread

from api.services.errors import Overloaded
from enas_service.settings import Settings

# One semaphore per event loop (a TestClient runs a loop of its own per client).
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)
_parsers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def slots(settings: Settings) -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    semaphore = _slots.get(loop)
    if semaphore is None:
        semaphore = _slots[loop] = asyncio.Semaphore(settings.db_pool_size)
        # The threadpool sized with the pool (anyio's default is 40 threads).
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(settings.api_threads, settings.db_pool_size)
    return semaphore


class Slot:
    """One request's turn on the database; given back while it waits on its client (an
    upload's body), taken again after."""

    def __init__(self, settings: Settings) -> None:
        self.semaphore = slots(settings)
        self.wait_s = settings.api_wait_s
        self.held = False

    async def acquire(self, wait_s: float | None = None) -> None:
        wait = self.wait_s if wait_s is None else wait_s
        try:
            if math.isinf(wait):
                await self.semaphore.acquire()
            else:
                await asyncio.wait_for(self.semaphore.acquire(), wait)
        except TimeoutError:
            raise Overloaded(
                f"the service is busy: no database session came free within {wait:g} s; "
                "retry in a moment", retry_after=1,
            ) from None
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.semaphore.release()


@asynccontextmanager
async def db_slot(settings: Settings, *, wait_s: float | None = None) -> AsyncIterator[Slot]:
    """A slot to work on the database; Overloaded (503) after `wait_s` (default
    settings.api_wait_s; math.inf waits as long as it takes)."""
    slot = Slot(settings)
    await slot.acquire(wait_s)
    try:
        yield slot
    finally:
        slot.release()


def parsers(settings: Settings) -> asyncio.Semaphore:
    """A turn to parse an upload (`settings.upload_parsers` at once, as enas_service.ingest
    runs them): taken before the parse's thread, so that uploads waiting for a parser wait
    without a thread (and, see api.uploads.ingest_upload, without a database slot)."""
    loop = asyncio.get_running_loop()
    semaphore = _parsers.get(loop)
    if semaphore is None:
        semaphore = _parsers[loop] = asyncio.Semaphore(settings.upload_parsers)
    return semaphore
