"""Request bodies, read before a request takes a database slot (api.concurrency).

A route's dependencies take a slot and a session before its body reads the request body, so
a client that sent its headers and then stalled held a slot, a connection and a transaction
for as long as it liked: ten such sockets answered every other tenant 503. This middleware
reads every body that is not an upload whole, bounded (`max_json_bytes`, 413 as soon as it
is past it, for chunked bodies too) and within a deadline (`body_timeout_s`, else 408), and
only then lets the request through; the route's `request.body()` gets the bytes already
read. Uploads (multipart/form-data) are streamed to disk by api.uploads, which gives its slot
back while it reads; each of their chunks must come within `body_timeout_s`.

A client that goes away is routine (a closed tab, a cancelled upload): logged at info, without
the traceback of an unhandled error. Caught here, around the app, rather than by an exception
handler, which cannot answer once a response has started.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem
from api.services.errors import RequestTimeout
from enas_service.settings import get_settings

log = logging.getLogger(__name__)

# Answers that leave the rest of the body unread close the connection: the next request
# cannot be found after bytes nobody read.
CLOSE = {"Connection": "close"}


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:g} MiB" if n >= 1024 * 1024 else f"{n} bytes"


def too_large_detail(limit: int) -> str:
    return (f"the request body is over the limit of {_size(limit)} (ENAS_MAX_JSON_BYTES); "
            "upload datasets as multipart/form-data")


class _Disconnected(Exception):
    pass


class BodyGuard:
    """Pure ASGI middleware: see the module's docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = get_settings()
        timeout = settings.body_timeout_s
        headers = Headers(scope=scope)
        if headers.get("content-type", "").lower().startswith("multipart/form-data"):
            await self._app(scope, _chunk_deadline(receive, timeout), send)
            return
        limit = settings.max_json_bytes
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            await _answer(scope, receive, send, 413, too_large_detail(limit))
            return
        try:
            async with asyncio.timeout(timeout):
                body = await _read(receive, limit)
        except TimeoutError:
            await _answer(scope, receive, send, 408, _timeout_detail(timeout))
            return
        except _Disconnected:
            _gone(scope)
            return
        if body is None:
            await _answer(scope, receive, send, 413, too_large_detail(limit))
            return
        await self._app(scope, _replay(body, receive), send)

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            _gone(scope)


def _gone(scope: Scope) -> None:
    log.info("client went away during %s %s", scope["method"], scope["path"])


async def _read(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is past `limit` (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read as one message; after it, the client's own messages (a
    disconnect, which streamed responses listen for)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _timeout_detail(timeout: float) -> str:
    return (f"the request body did not arrive within {timeout:g} s (ENAS_BODY_TIMEOUT_S); "
            "send it at once, after the headers")


def _chunk_deadline(receive: Receive, timeout: float) -> Receive:
    """`receive` that raises RequestTimeout (408) when the client sends nothing for
    `timeout` seconds while the app waits for more of its body (after the body, waiting for
    a disconnect is not bounded)."""
    done = False

    async def receive_within() -> Message:
        nonlocal done
        if done:
            return await receive()
        try:
            async with asyncio.timeout(timeout):
                message = await receive()
        except TimeoutError:
            raise RequestTimeout(
                f"the upload sent nothing for {timeout:g} s (ENAS_BODY_TIMEOUT_S)") from None
        done = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    return receive_within


async def _answer(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
    response = problem(Request(scope), status, detail, headers=CLOSE)
    await response(scope, receive, send)
