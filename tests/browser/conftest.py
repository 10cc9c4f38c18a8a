"""Browser tests: Debian's Chromium driven by Playwright for Python against a real embedded
service (`python -m launcher serve`: SQLite, the filesystem broker, one worker) that runs one
tiny job. Playwright's own browser download is not used; `.ci/run` installs `chromium`.
Screenshots go to tests/browser/artifacts/ (git-ignored; CI keeps them)."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, TINY_JOB, free_port, stop_process_group, wait_for

ARTIFACTS = Path(__file__).parent / "artifacts"


def chromium_path() -> str | None:
    for candidate in (os.environ.get("ENAS_TEST_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@dataclass
class Service:
    url: str
    key: str
    job_id: str
    dataset_id: str
    data_dir: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def get(self, path: str) -> Any:
        response = httpx.get(self.url + path, headers=self.headers, timeout=30)
        response.raise_for_status()
        return response.json()

    def wait_done(self, timeout: float = 240) -> dict[str, Any]:
        """The tiny job, once it has ended."""
        return wait_for(lambda: (job := self.get(f"/jobs/{self.job_id}"))["status"] in (
            "succeeded", "failed", "cancelled") and job, timeout=timeout, interval=1,
            what="the tiny job")


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is started, and tests elsewhere call asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium: apt-get install chromium (.ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path, args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, digits_npz: Path,
            browser: Any) -> Iterator[Service]:
    """`enas serve` on a free port with a fresh data directory, a dataset uploaded and the
    tiny job submitted (its page is opened while it runs)."""
    data_dir = tmp_path_factory.mktemp("browser-enas")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENAS_")}
    env.update(ENAS_DEVICE="cpu", ENAS_HEARTBEAT_INTERVAL_S="0.5", ENAS_SSE_POLL_S="0.2",
               ENAS_LATENCY_CACHE=os.environ.get("ENAS_LATENCY_CACHE", ""),
               PYTHONUNBUFFERED="1")
    port = free_port()
    log = (tmp_path_factory.mktemp("browser-logs") / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "launcher", "serve", "--data-dir", str(data_dir),
         "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for raw in proc.stdout:  # type: ignore[union-attr]
            log.write(raw)
            log.flush()
            lines.put(raw.decode(errors="replace"))

    threading.Thread(target=pump, daemon=True).start()
    try:
        key = None
        deadline = time.monotonic() + 90
        while key is None:
            assert time.monotonic() < deadline and proc.poll() is None, Path(log.name).read_text()
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if "export ENAS_KEY=" in line:
                key = line.split("=", 1)[1].strip()
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(url), timeout=60, what="the API")
        headers = {"Authorization": f"Bearer {key}"}
        dataset = httpx.post(f"{url}/datasets", headers=headers, timeout=60, files={
            "file": ("digits.npz", digits_npz.read_bytes())}).json()
        job = httpx.post(f"{url}/jobs", headers=headers, timeout=60, json={
            "dataset": dataset["id"], "name": "browser test", **TINY_JOB, "top_k": 3}).json()
        yield Service(url, key, job["id"], dataset["id"], data_dir)
    finally:
        stop_process_group(proc, timeout=20)
        log.close()


@contextmanager
def database(service: Service) -> Iterator[Any]:
    """A session on the service's own database (SQLite in its data directory), committed at
    the end: for jobs the tiny one cannot show, written as the worker would have."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    engine = create_engine(f"sqlite:///{service.data_dir / 'enas.db'}",
                           connect_args={"timeout": 30})
    try:
        with Session(engine) as session, session.begin():
            yield session
    finally:
        engine.dispose()


def finished_copy(service: Service, *, name: str, architectures: list[dict] | None = None,
                  **changes: Any) -> str:
    """A succeeded copy of the tiny job (waited for), with its history, and `architectures`
    (arch, val_acc) as its top-k in place of the tiny job's, and `changes` to its row. No
    files: its model is not there to download."""
    from sqlalchemy import select

    from enas_service.models import Architecture, EpochRecord, Job, JobStatus

    service.wait_done()
    with database(service) as session:
        tiny = session.get(Job, uuid.UUID(service.job_id))
        columns = ("owner", "dataset_id", "builtin_dataset", "request", "config", "phase",
                   "epoch", "epochs", "progress", "elapsed_s", "best_val_acc", "best_arch",
                   "best_costs", "result", "input_shape", "pareto", "constraints",
                   "search_report", "usage", "attempts", "created_at", "started_at",
                   "finished_at")
        job = Job(name=name, status=JobStatus.succeeded,
                  **{**{c: getattr(tiny, c) for c in columns}, **changes})
        session.add(job)
        session.flush()
        for r in session.scalars(select(EpochRecord).where(EpochRecord.job_id == tiny.id)
                                 .order_by(EpochRecord.id)):
            session.add(EpochRecord(
                job_id=job.id, phase=r.phase, epoch=r.epoch, epochs=r.epochs,
                progress=r.progress, val_acc=r.val_acc, train_loss=r.train_loss,
                train_acc=r.train_acc, seconds=r.seconds, attempt=r.attempt,
                metrics=r.metrics))
        if architectures is None:
            architectures = [{"arch": a.arch, "val_acc": a.val_acc, "costs": a.costs}
                             for a in session.scalars(select(Architecture).where(
                                 Architecture.job_id == tiny.id).order_by(Architecture.rank))]
        for rank, item in enumerate(architectures, start=1):
            session.add(Architecture(job_id=job.id, rank=rank, **item))
        return str(job.id)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def page(browser: Any, service: Service, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser tab at a laptop's width that lets no request leave the service: any
    other is aborted and fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    elsewhere: list[str] = []

    def guard(route: Any) -> None:
        if route.request.url.startswith((service.url, "data:", "blob:")):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    tab.route("**/*", guard)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}-last.png"))
    context.close()
    assert not elsewhere, f"requests left the machine: {elsewhere}"
    assert not errors, f"JavaScript errors: {errors}"


def sign_in(page: Any, service: Service, hash_path: str = "#/jobs") -> None:
    page.goto(f"{service.url}/{hash_path}")
    page.fill("#api-key", service.key)
    page.click("form button[type=submit]")
    page.wait_for_selector("h1:not(:text('Sign in'))")
