"""Request dependencies: the session (one transaction per request), settings and the caller."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.concurrency import db_slot
from api.services.errors import Unauthorized
from enas_service import repository
from enas_service.apikeys import hash_key
from enas_service.db import end, new_session
from enas_service.settings import Settings, get_settings


async def _settings() -> Settings:
    """get_settings() on the event loop: a plain function dependency runs in the threadpool,
    a thread hop per request for a cached value."""
    return get_settings()


SettingsDep = Annotated[Settings, Depends(_settings)]
SAFE_METHODS = frozenset({"GET", "HEAD"})  # no route writes the database on these


async def get_session(request: Request, settings: SettingsDep) -> AsyncIterator[Session]:
    """A session for the route's work, in one of the process's database slots (api.concurrency;
    503 when none comes free in time). Commits once when the route returns, before the response
    is sent (a streamed body holds neither); rolls back on error. Tasks are enqueued from the
    session's after-commit hook, so only for committed rows."""
    async with db_slot(settings) as slot:
        session = new_session(read_only=request.method in SAFE_METHODS)
        session.info["db_slot"] = slot
        try:
            yield session
        except BaseException:
            await run_in_threadpool(end, session, ok=False)
            raise
        await run_in_threadpool(end, session)  # one thread hop: commit and close


@asynccontextmanager
async def without_database(session: Session) -> AsyncIterator[None]:
    """While a request waits on something other than the database (an upload's body from its
    client, a parser for the upload, the parse): its transaction so far committed, its
    connection back in the pool and its database slot given back; the slot is taken again
    after, waiting as long as it takes (the upload is not thrown away). An upload that failed
    (too large, timed out, the client gone, invalid) does not wait for a slot to fail."""
    await run_in_threadpool(session.commit)
    slot = session.info.get("db_slot")
    if slot is None:  # a session not from get_session (tests)
        yield
        return
    slot.release()
    yield
    await slot.acquire(math.inf)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]

bearer = HTTPBearer(
    auto_error=False,
    description="An API key: `enas keys create` prints one (`enas serve` on first start).",
)


# Keys found valid lately (hash -> owner, until when), so that a client's requests do not each
# look their key up; checked on the event loop, no thread hop. Invalid keys are never kept.
_owners: dict[str, tuple[str, float]] = {}
MAX_KEPT_KEYS = 10_000


async def get_owner(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The owner of the presented API key; every dataset and job belongs to one owner. A key
    found valid is taken for valid for `api_key_cache_s` (ENAS_API_KEY_CACHE_S) without a
    lookup."""
    if credentials is None:
        raise Unauthorized("missing API key: send the header 'Authorization: Bearer <key>'")
    key_hash = hash_key(credentials.credentials)
    now = time.monotonic()
    kept = _owners.get(key_hash)
    if kept is not None and kept[1] > now:
        return kept[0]
    key = await run_in_threadpool(repository.get_active_api_key, session, key_hash=key_hash)
    if key is None:
        _owners.pop(key_hash, None)
        raise Unauthorized("invalid or revoked API key")
    if settings.api_key_cache_s > 0:
        if len(_owners) >= MAX_KEPT_KEYS:
            for stale in [h for h, (_, until) in _owners.items() if until <= now]:
                del _owners[stale]
            if len(_owners) >= MAX_KEPT_KEYS:
                _owners.clear()
        _owners[key_hash] = (key.owner, now + settings.api_key_cache_s)
    return key.owner


OwnerDep = Annotated[str, Depends(get_owner)]


# Pages of a listing: both bounded, so a request cannot ask the database for an offset it
# cannot represent (Postgres's bigint) or a page of unbounded size.
MAX_OFFSET = 2**31 - 1
LimitQuery = Annotated[int, Query(ge=1, le=500, description="Rows per page.")]
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip.")]
