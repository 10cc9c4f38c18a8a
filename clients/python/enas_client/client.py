"""`Client`: datasets and jobs on an enas-service server.

    from enas_client import Client

    client = Client()                      # ENAS_URL and ENAS_KEY from the environment
    job = client.submit(dataset="digits", preset="quick", search_epochs=5)
    job.wait(progress=True)
    print(job.architecture().conv_text, job.final["test_acc"])
"""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from . import options as job_options
from ._http import RetryPolicy, Transport
from .errors import TransportError, ValidationError
from .jobs import Job
from .resources import Dataset, optional_svg

DEFAULT_URL = "http://127.0.0.1:8000"
UPLOAD_SUFFIXES = (".npz", ".csv", ".csv.gz", ".zip")


def _is_upload(dataset: Any) -> bool:
    """A file to upload with the job (a Path, or a str naming a .npz/.csv/.zip file), as
    opposed to a built-in dataset's name or an uploaded dataset's id."""
    if isinstance(dataset, Path):
        path = dataset
    elif isinstance(dataset, str) and dataset.lower().endswith(UPLOAD_SUFFIXES):
        path = Path(dataset)
    else:
        return False
    if not path.expanduser().is_file():
        raise FileNotFoundError(f"no dataset file {str(path)!r} to upload")
    return True


def _npz(x: Any, y: Any) -> io.BytesIO:
    try:
        import numpy as np
    except ImportError as exc:
        raise ImportError("uploading arrays needs numpy: pip install 'enas-client[numpy]'") \
            from exc
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length; got {len(x)} and {len(y)}")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x=x, y=y)
    buffer.seek(0)
    return buffer


class Client:
    """A connection to the service. `url` and `key` default to `ENAS_URL` and `ENAS_KEY`.

    Requests are retried with exponential backoff on 429/502/503/504 and on connection errors
    (`retry`); submissions carry an Idempotency-Key, so a retried submission never makes a
    second job. Errors are `enas_client.errors.APIError` subclasses carrying the server's
    problem+json `detail` and the offending `field`. `transport` is an httpx transport to send
    through (a proxy's, a test's)."""

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        *,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = (url or os.environ.get("ENAS_URL") or DEFAULT_URL).rstrip("/")
        self.key = key if key is not None else os.environ.get("ENAS_KEY")
        self.transport = Transport(self.url, self.key, timeout=timeout,
                                   retry=retry or RetryPolicy(), transport=transport)
        self._live_schema: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()

    def health(self) -> dict[str, Any]:
        """GET /readyz: {"status": "ok"|"error", "checks": {"database": ..., "broker": ...}}."""
        response = self.transport._send("GET", "/readyz", idempotent=True)
        return response.json()

    # -- datasets ---------------------------------------------------------------------------

    def upload_dataset(
        self,
        path: str | Path | None = None,
        *,
        x: Any = None,
        y: Any = None,
        name: str | None = None,
    ) -> Dataset:
        """Upload a dataset file (.npz with arrays x, y; .csv; a .zip of class folders or of
        an IDX pair), or the arrays `x` (N,H,W) or (N,H,W,C) and `y` (N,) labels. The server
        validates it and answers with its summary (samples, image shape, classes)."""
        with self._dataset_file(path, x, y) as (filename, fh):
            files = {"file": (filename, fh, "application/octet-stream")}
            data = {"name": name} if name else None
            body = self.transport.json("POST", "/datasets", files=files, data=data)
        return Dataset.from_json(body, self)

    def _dataset_file(self, path: Any, x: Any, y: Any) -> _DatasetFile:
        if (path is None) == (x is None):
            raise ValueError("give a file path, or the arrays x and y")
        if path is not None:
            path = Path(path).expanduser()
            return _DatasetFile(path.name, path.open("rb"))
        if y is None:
            raise ValueError("give the labels y with the images x")
        return _DatasetFile("arrays.npz", _npz(x, y))

    def datasets(self, *, limit: int = 50, offset: int = 0) -> list[Dataset]:
        body = self.transport.json("GET", "/datasets", params={"limit": limit, "offset": offset})
        return [Dataset.from_json(d, self) for d in body["data"]]

    def dataset(self, dataset_id: str) -> Dataset:
        return Dataset.from_json(self.transport.json("GET", f"/datasets/{dataset_id}"), self)

    def delete_dataset(self, dataset: str | Dataset) -> None:
        """Refused (409) while a queued or running job uses it."""
        dataset_id = dataset.id if isinstance(dataset, Dataset) else dataset
        self.transport.request("DELETE", f"/datasets/{dataset_id}")

    # -- jobs -------------------------------------------------------------------------------

    def check_options(self, body: dict[str, Any]) -> None:
        """Check a job's options against the API's schema; `ValidationError` names the field.
        An option the packaged schema does not know is looked up in the server's own schema (a
        newer server may have options this client does not)."""
        try:
            job_options.validate_options(body)
        except ValidationError as exc:
            if not any(e.get("type") == "extra_forbidden" for e in exc.errors):
                raise
            live = self.job_schema()
            if live == job_options.packaged_schema():
                raise
            job_options.validate_options(body, live)

    def job_schema(self) -> dict[str, Any]:
        """The server's JobCreate schema (from its /openapi.json; cached)."""
        if self._live_schema is None:
            try:
                response = self.transport._send("GET", "/openapi.json", idempotent=True,
                                                attempts=1)
                response.raise_for_status()
                self._live_schema = job_options.schema_from_openapi(response.json())
            except (httpx.HTTPError, TransportError, ValueError):
                self._live_schema = job_options.packaged_schema()
        return self._live_schema

    def submit(
        self,
        dataset: str | Path | Dataset | tuple[Any, Any],
        preset: str | None = None,
        *,
        name: str | None = None,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> Job:
        """Submit a search job. `dataset`: a built-in name (digits, mnist, fashion-mnist,
        cifar10), an uploaded `Dataset` or its id, a file to upload with the job (a `Path` or
        an existing .npz/.csv/.zip path), or arrays `(x, y)`. `options` are the API's job
        fields (search_epochs, final_epochs, max_params, ...; see `enas_client.option_names()`),
        checked before anything is sent. Returns the queued job."""
        key = idempotency_key or f"enas-client-{uuid.uuid4()}"
        headers = {"Idempotency-Key": key}
        upload = isinstance(dataset, tuple) or _is_upload(dataset)
        ref = dataset.id if isinstance(dataset, Dataset) else dataset
        body = job_options.without_nulls(
            {"dataset": "digits" if upload else ref, "preset": preset, "name": name, **options}
        )
        self.check_options(body)
        if not upload:
            data = self.transport.json("POST", "/jobs", json=body, headers=headers,
                                       idempotent=True)
            return Job(self, data)
        del body["dataset"]  # the uploaded file is the dataset
        if isinstance(dataset, tuple):
            source = self._dataset_file(None, *dataset)
        else:
            source = self._dataset_file(dataset, None, None)
        with source as (filename, fh):
            data = self.transport.json(
                "POST", "/jobs", headers=headers, idempotent=True,
                files={"file": (filename, fh, "application/octet-stream")},
                data={"config": json.dumps(body)},
            )
        return Job(self, data)

    def job(self, job_id: str) -> Job:
        return Job(self, self.transport.json("GET", f"/jobs/{job_id}"))

    def jobs(self, status: str | None = None, *, limit: int = 50, offset: int = 0) -> list[Job]:
        """Your jobs, newest first (`status`: queued, running, succeeded, failed, cancelled)."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if status:
            params["status"] = status
        body = self.transport.json("GET", "/jobs", params=params)
        return [Job(self, j) for j in body["data"]]

    def iter_jobs(self, status: str | None = None, *, page: int = 100) -> Iterator[Job]:
        """Every job, newest first, a page at a time."""
        offset = 0
        while True:
            batch = self.jobs(status, limit=page, offset=offset)
            yield from batch
            if len(batch) < page:
                return
            offset += page

    def architecture_svg(self, job_id: str, *, rank: int = 1) -> str | None:
        """The server's drawing of a job's best (or rank-th) architecture; None where the
        server draws none."""
        query = f"?rank={rank}" if rank != 1 else ""
        return optional_svg(self, f"/jobs/{job_id}/architecture.svg{query}")

    # -- accounting -------------------------------------------------------------------------

    def usage(self, since: datetime | str | None = None,
              until: datetime | str | None = None) -> dict[str, Any]:
        """What your jobs cost (GET /usage): device seconds per phase and per device, images,
        jobs, for the job phases active in [since, until)."""
        params = {}
        for key, value in (("since", since), ("until", until)):
            if value is not None:
                params[key] = value.isoformat() if isinstance(value, datetime) else value
        return self.transport.json("GET", "/usage", params=params)


class _DatasetFile:
    """(filename, open binary file) for an upload, closed after the request."""

    def __init__(self, filename: str, fh: BinaryIO) -> None:
        self.filename, self.fh = filename, fh

    def __enter__(self) -> tuple[str, BinaryIO]:
        return self.filename, self.fh

    def __exit__(self, *exc: object) -> None:
        self.fh.close()
