"""`AsyncClient`: the client for asyncio code (a notebook's event loop, an async service),
with the same retries, option checks, errors and Idempotency-Key as `Client`.

    from enas_client.aio import AsyncClient

    async with AsyncClient() as client:
        job = await client.submit("digits", preset="quick")
        async for event in job.events():
            print(event.event, event.data.get("epoch"))
        print((await job.architecture()).conv_text)
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import EventSource

from . import options as job_options
from ._http import NOT_PROCESSED, RETRY_STATUSES, RetryPolicy, _retry_after, raise_for_problem
from .client import DEFAULT_URL, _is_upload, _npz
from .errors import TransportError
from .events import FINAL_STATUSES, READ_TIMEOUT_S, Event
from .jobs import MODEL_FORMATS, JobFailedError, JobFields, _filename
from .resources import Architecture, Dataset


class AsyncClient:
    def __init__(self, url: str | None = None, key: str | None = None, *,
                 timeout: float = 60.0, retry: RetryPolicy | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = (url or os.environ.get("ENAS_URL") or DEFAULT_URL).rstrip("/")
        key = key if key is not None else os.environ.get("ENAS_KEY")
        headers = {"User-Agent": "enas-client/0.1", "Accept": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self.retry = retry or RetryPolicy()
        self.http = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=timeout,
                                      follow_redirects=True, transport=transport)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- the HTTP layer (as _http.Transport) ---------------------------------------------------

    async def _send(self, method: str, path: str, *, idempotent: bool, stream: bool = False,
                    **kwargs: Any) -> httpx.Response:
        last: Exception | None = None
        for attempt in range(1, self.retry.attempts + 1):
            for value in (kwargs.get("files") or {}).values():
                fh = value[1] if isinstance(value, tuple) else value
                if hasattr(fh, "seek"):
                    fh.seek(0)
            try:
                request = self.http.build_request(method, path, **kwargs)
                response = await self.http.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                last = exc
            except httpx.TransportError as exc:
                if not idempotent:
                    raise TransportError(f"{method} {path}: {exc!r}") from exc
                last = exc
            else:
                retryable = response.status_code in (RETRY_STATUSES if idempotent
                                                      else NOT_PROCESSED)
                if not retryable or attempt == self.retry.attempts:
                    return response
                await response.aclose()
                await asyncio.sleep(self.retry.wait_s(attempt, _retry_after(response)))
                continue
            if attempt < self.retry.attempts:
                await asyncio.sleep(self.retry.wait_s(attempt, None))
        raise TransportError(f"{method} {self.url}{path}: no answer after "
                             f"{self.retry.attempts} tries ({last!r})") from last

    async def _json(self, method: str, path: str, *, idempotent: bool | None = None,
                    **kwargs: Any) -> Any:
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "DELETE")
        response = await self._send(method, path, idempotent=idempotent, **kwargs)
        raise_for_problem(response)
        return response.json() if response.content else None

    # -- datasets and jobs -------------------------------------------------------------------

    async def upload_dataset(self, path: str | Path | None = None, *, x: Any = None,
                             y: Any = None, name: str | None = None) -> Dataset:
        if (path is None) == (x is None):
            raise ValueError("give a file path, or the arrays x and y")
        fh: Any = Path(path).expanduser().open("rb") if path is not None else _npz(x, y)
        filename = Path(path).name if path is not None else "arrays.npz"
        try:
            body = await self._json("POST", "/datasets", data={"name": name} if name else None,
                                    files={"file": (filename, fh, "application/octet-stream")})
        finally:
            fh.close()
        return Dataset.from_json(body)

    async def submit(self, dataset: str | Path | Dataset, preset: str | None = None, *,
                     name: str | None = None, idempotency_key: str | None = None,
                     **options: Any) -> AsyncJob:
        """As `Client.submit` (options checked against the API's schema first)."""
        headers = {"Idempotency-Key": idempotency_key or f"enas-client-{uuid.uuid4()}"}
        upload = _is_upload(dataset)
        ref = dataset.id if isinstance(dataset, Dataset) else dataset
        body = job_options.without_nulls(
            {"dataset": "digits" if upload else ref, "preset": preset, "name": name, **options})
        job_options.validate_options(body)
        if not upload:
            data = await self._json("POST", "/jobs", json=body, headers=headers,
                                    idempotent=True)
            return AsyncJob(self, data)
        del body["dataset"]
        path = Path(dataset).expanduser()  # type: ignore[arg-type]
        with path.open("rb") as fh:
            data = await self._json("POST", "/jobs", headers=headers, idempotent=True,
                                    files={"file": (path.name, fh, "application/octet-stream")},
                                    data={"config": json.dumps(body)})
        return AsyncJob(self, data)

    async def job(self, job_id: str) -> AsyncJob:
        return AsyncJob(self, await self._json("GET", f"/jobs/{job_id}"))

    async def jobs(self, status: str | None = None, *, limit: int = 50,
                   offset: int = 0) -> list[AsyncJob]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if status:
            params["status"] = status
        body = await self._json("GET", "/jobs", params=params)
        return [AsyncJob(self, j) for j in body["data"]]


class AsyncJob(JobFields):
    """`Job`'s async twin: the fields under `data`, awaitable reads and actions."""

    def __init__(self, client: AsyncClient, data: dict[str, Any]) -> None:
        self.client, self.data = client, data

    def __repr__(self) -> str:
        return f"<AsyncJob {self.id} {self.status}>"

    async def refresh(self) -> AsyncJob:
        self.data = await self.client._json("GET", f"/jobs/{self.id}")
        return self

    async def events(self, *, last_event_id: int = 0,
                     max_reconnects: int = 20) -> AsyncIterator[Event]:
        """Its server-sent events until it ends, reconnecting with Last-Event-ID."""
        last, failures = last_event_id, 0
        while True:
            headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
            if last:
                headers["Last-Event-ID"] = str(last)
            timeout = httpx.Timeout(self.client.http.timeout.connect, read=READ_TIMEOUT_S)
            why: Exception | None = None
            try:
                response = await self.client._send("GET", f"/jobs/{self.id}/events",
                                                   idempotent=True, stream=True,
                                                   headers=headers, timeout=timeout)
                try:
                    if not response.is_success:
                        await response.aread()
                        raise_for_problem(response)
                    async for sse in EventSource(response).aiter_sse():
                        failures = 0
                        if sse.id:
                            last = int(sse.id)
                        event = Event(sse.event or "message",
                                      json.loads(sse.data) if sse.data else {},
                                      int(sse.id) if sse.id else None)
                        if event.event == "status" and "id" in event.data:
                            self.data = event.data
                        yield event
                        if event.final:
                            return
                finally:
                    await response.aclose()
            except (httpx.TransportError, TransportError) as exc:
                why = exc
            failures += 1
            if failures > max_reconnects:
                raise TransportError(f"lost the event stream of job {self.id} "
                                     f"{failures} times in a row ({why!r})") from why
            await asyncio.sleep(self.client.retry.wait_s(min(failures, 6), None))

    async def wait(self, *, timeout: float | None = None, check: bool = True) -> AsyncJob:
        """Until the job ends (its event stream); `JobFailedError` for a failed job."""
        deadline = time.monotonic() + timeout if timeout is not None else None

        async def follow() -> None:
            if self.status not in FINAL_STATUSES:
                async for _ in self.events():
                    pass

        remaining = None if deadline is None else max(deadline - time.monotonic(), 0)
        await asyncio.wait_for(follow(), remaining)
        await self.refresh()
        if check and self.status == "failed":
            raise JobFailedError(self)  # type: ignore[arg-type]
        return self

    async def history(self) -> list[dict[str, Any]]:
        return (await self.client._json("GET", f"/jobs/{self.id}/history"))["data"]

    async def architecture(self) -> Architecture:
        data = await self.client._json("GET", f"/jobs/{self.id}/architecture")
        return Architecture.from_json(self.id, data)

    async def pareto(self) -> dict[str, Any]:
        return await self.client._json("GET", f"/jobs/{self.id}/pareto")

    async def download_model(self, path: str | Path = ".", format: str = "pt") -> Path:
        if format not in MODEL_FORMATS:
            raise ValueError(f"format must be one of {', '.join(MODEL_FORMATS)}; got {format!r}")
        target = Path(path)
        response = await self.client._send("GET", f"/jobs/{self.id}/model", idempotent=True,
                                           stream=True, params={"format": format})
        try:
            if not response.is_success:
                await response.aread()
                raise_for_problem(response)
            if target.is_dir():
                target = target / _filename(response.headers.get("content-disposition"),
                                            f"enas-{self.id[:8]}.{format}")
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.part")
            try:
                with open(partial, "wb") as out:
                    async for chunk in response.aiter_bytes(1 << 20):
                        out.write(chunk)
                partial.replace(target)
            finally:
                partial.unlink(missing_ok=True)
        finally:
            await response.aclose()
        return target

    async def cancel(self) -> AsyncJob:
        self.data = await self.client._json("POST", f"/jobs/{self.id}/cancel")
        return self

    async def delete(self) -> None:
        await self.client._json("DELETE", f"/jobs/{self.id}")
