"""A search job on the service: follow it, read its results, download its model."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import display
from .errors import EnasError
from .events import FINAL_STATUSES, Event, follow
from .resources import Architecture, ClientHandle

MODEL_FORMATS = ("pt", "torchscript", "onnx")


class JobFailedError(EnasError):
    """`job.wait()` on a job that failed; `.job` is the job, `.job.error` says why."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"job {job.id} {job.status}: {job.error or 'no reason given'}")
        self.job = job


class JobFields:
    """The fields of GET /jobs/{id} as properties over `data`, for the sync and async jobs."""

    data: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def name(self) -> str | None:
        return self.data.get("name")

    @property
    def status(self) -> str:
        return self.data["status"]

    @property
    def phase(self) -> str | None:
        return self.data.get("phase")

    @property
    def epoch(self) -> int:
        return int(self.data.get("epoch") or 0)

    @property
    def epochs(self) -> int:
        return int(self.data.get("epochs") or 0)

    @property
    def progress(self) -> float:
        return float(self.data.get("progress") or 0.0)

    @property
    def best_val_acc(self) -> float | None:
        return self.data.get("best_val_acc")

    @property
    def error(self) -> str | None:
        return self.data.get("error")

    @property
    def final(self) -> dict[str, Any] | None:
        """After final training: test_acc, params, flops, latency_ms, memory_mb, ..."""
        return self.data.get("final")

    @property
    def warnings(self) -> list[dict[str, Any]]:
        """Why the trained network should not be used as it is ({"code", "message"}), e.g. at
        chance on validation data; empty when nothing is wrong."""
        return list(self.data.get("warnings") or [])

    @property
    def selection(self) -> dict[str, Any] | None:
        """With `select_candidates`: how far the search's shared-weight ranking agreed with its
        candidates trained alone ({"kendall_tau", "trust", "summary", ...}); None otherwise."""
        return (self.data.get("search_summary") or {}).get("selection")

    @property
    def config(self) -> dict[str, Any]:
        """The resolved engine config."""
        return self.data.get("config") or {}

    @property
    def usage(self) -> dict[str, Any] | None:
        """What the job cost: device seconds per phase, the device, peak memory, images."""
        return self.data.get("usage")

    @property
    def done(self) -> bool:
        return self.status in FINAL_STATUSES


class Job(JobFields):
    """A job as last read from the server (`data`, refreshed by `refresh()`, `wait()` and the
    actions). Properties name the fields of GET /jobs/{id}."""

    def __init__(self, client: ClientHandle, data: dict[str, Any]) -> None:
        self.client = client
        self.data = data

    def __repr__(self) -> str:
        return f"<Job {display.status_line(self.data)}>"

    # -- reading ----------------------------------------------------------------------------

    def refresh(self) -> Job:
        self.data = self.client.transport.json("GET", f"/jobs/{self.id}")
        return self

    def events(self, *, last_event_id: int = 0, timeout: float | None = None) -> Iterator[Event]:
        """Its server-sent events until it ends (reconnecting with Last-Event-ID);
        `TimeoutError` after `timeout` seconds."""
        deadline = time.monotonic() + timeout if timeout is not None else None
        return follow(self.client.transport, self.id, last_event_id=last_event_id,
                      deadline=deadline)

    def wait(
        self,
        progress: bool = False,
        *,
        timeout: float | None = None,
        check: bool = True,
        on_event: Callable[[Event], None] | None = None,
    ) -> Job:
        """Block until the job succeeds, fails or is cancelled, following its event stream
        (a progress bar over its epochs with `progress=True`). Raises `JobFailedError` for a
        failed job when `check`, `TimeoutError` after `timeout` seconds."""
        from .progress import JobProgress

        bar = JobProgress(self.refresh().data) if progress else None
        try:
            if not self.done:
                try:
                    for event in self.events(timeout=timeout):
                        if event.event == "status" and "id" in event.data:
                            self.data = event.data
                        if bar is not None:
                            bar(event)
                        if on_event is not None:
                            on_event(event)
                except TimeoutError as exc:
                    raise TimeoutError(
                        f"job {self.id} still {self.status} after {timeout} s") from exc
            self.refresh()
            if bar is not None:
                bar.update(self.data)
        finally:
            if bar is not None:
                bar.close()
        if check and self.status == "failed":
            raise JobFailedError(self)
        return self

    def history(self, as_frame: bool | None = None) -> Any:
        """One row per finished epoch (both phases): a pandas DataFrame when pandas is
        installed (or `as_frame=True`), else a list of dicts (`as_frame=False`)."""
        rows = self.client.transport.json("GET", f"/jobs/{self.id}/history")["data"]
        if as_frame is False:
            return rows
        try:
            import pandas as pd
        except ImportError:
            if as_frame:
                raise
            return rows
        return pd.DataFrame(rows)

    def architecture(self) -> Architecture:
        """The best architecture (the best so far while the search runs; 409 before the first
        search epoch)."""
        data = self.client.transport.json("GET", f"/jobs/{self.id}/architecture")
        return Architecture.from_json(self.id, data, self.client)

    def architectures(self) -> list[Architecture]:
        """The top-k of the search, best first."""
        data = self.client.transport.json("GET", f"/jobs/{self.id}/architectures")
        return [Architecture.from_json(self.id, a, self.client) for a in data["data"]]

    def pareto(self) -> dict[str, Any]:
        """The Pareto front over (val_acc, params, latency) of the ranked architectures:
        {"objectives", "front": [{"arch", "val_acc", "params", "latency_ms", ...}], ...}."""
        return self.client.transport.json("GET", f"/jobs/{self.id}/pareto")

    def svg(self) -> str | None:
        """The server's drawing of the best architecture, or None where it has none."""
        return self.client.architecture_svg(self.id)

    # -- the model --------------------------------------------------------------------------

    def download_model(self, path: str | Path = ".", format: str = "pt") -> Path:
        """Save the trained model: `pt` (enas_core.export.load_model), `torchscript` or `onnx`
        (both take raw pixels in [0, 1], NCHW). `path` is a file, or a folder to save it in
        under the server's name. Returns the file's path."""
        if format not in MODEL_FORMATS:
            raise ValueError(f"format must be one of {', '.join(MODEL_FORMATS)}; got {format!r}")
        target = Path(path)
        with self.client.transport.stream(
            "GET", f"/jobs/{self.id}/model", params={"format": format},
            headers={"Accept": "application/octet-stream"},
        ) as response:
            if target.is_dir():
                target = target / _filename(response.headers.get("content-disposition"),
                                            f"enas-{self.id[:8]}.{format}")
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.part")
            try:
                with open(partial, "wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        out.write(chunk)
                partial.replace(target)
            finally:
                partial.unlink(missing_ok=True)
        return target

    # -- actions ----------------------------------------------------------------------------

    def cancel(self) -> Job:
        """Cancel it: a queued job at once, a running one within one training step."""
        self.data = self.client.transport.json("POST", f"/jobs/{self.id}/cancel")
        return self

    def delete(self) -> None:
        """Delete the job and its files (refused with 409 while it runs: cancel first)."""
        self.client.transport.request("DELETE", f"/jobs/{self.id}")

    # -- notebooks --------------------------------------------------------------------------

    def _repr_html_(self) -> str:
        try:
            history = self.history(as_frame=False)
        except Exception:
            history = []
        try:
            cell = self.svg() if self.data.get("best_val_acc") is not None else None
        except Exception:
            cell = None
        return display.job_html(self.data, history, cell)


def _filename(disposition: str | None, default: str) -> str:
    match = re.search(r'filename="?([^";]+)"?', disposition or "")
    name = Path(match.group(1)).name if match else ""
    return name or default
