"""Many concurrent requests against a small connection pool: every one is answered (the
database slots keep threads from waiting on the pool while holding one), and a request that
cannot get a slot in time is answered 503 with Retry-After at once instead of hanging."""

from __future__ import annotations

import asyncio

import httpx
import pytest


@pytest.fixture
def small_pool(service_env, monkeypatch):
    """The app's settings with a pool of 2 connections and the default 40 threads."""
    from enas_service.settings import get_settings

    def configure(**values: str):
        for name, value in values.items():
            monkeypatch.setenv(f"ENAS_{name.upper()}", value)
        get_settings.cache_clear()
        return get_settings()

    yield configure
    monkeypatch.undo()
    get_settings.cache_clear()


def _app():
    from api.main import create_app

    return create_app()


def test_64_concurrent_readers_on_2_connections_all_get_answers(small_pool, live_keys):
    small_pool(db_pool_size="2", db_max_overflow="0", db_pool_timeout_s="3", api_wait_s="120")
    headers = live_keys["alice"]

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://app",
                                     headers=headers, timeout=120) as http:
            responses = await asyncio.gather(
                *(http.get("/jobs?limit=5" if i % 2 else "/usage") for i in range(64))
            )
        return [r.status_code for r in responses]

    assert asyncio.run(run()) == [200] * 64


def test_a_request_that_gets_no_slot_in_time_is_503_with_retry_after(small_pool, live_keys):
    from api.concurrency import slots

    settings = small_pool(db_pool_size="1", api_wait_s="0.05")

    async def run() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://app",
                                     headers=live_keys["alice"], timeout=60) as http:
            held = slots(settings)
            await held.acquire()  # a request that holds the only slot
            try:
                busy = await http.get("/jobs")
            finally:
                held.release()
            return busy, await http.get("/jobs")

    busy, after = asyncio.run(run())
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert busy.headers["content-type"] == "application/problem+json"
    assert busy.json()["detail"].startswith("the service is busy")
    assert after.status_code == 200


def test_threads_must_cover_the_pool(monkeypatch):
    from pydantic import ValidationError

    from enas_service.settings import Settings

    monkeypatch.setenv("ENAS_DB_POOL_SIZE", "50")
    monkeypatch.setenv("ENAS_API_THREADS", "10")
    with pytest.raises(ValidationError, match="ENAS_API_THREADS"):
        Settings()


@pytest.mark.slow
def test_the_api_process_does_not_import_torch():
    """Reads and uploads need no torch: importing it cost the API ~2 s at start and ~470 MB
    of MB per process (`enas api --workers N` multiplies both). Exports import it when asked."""
    import subprocess
    import sys

    code = ("import sys, api.main; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=__file__.rsplit("/tests/", 1)[0]).stdout
    assert out.strip() == "[]"


def test_job_reads_are_the_documented_json(client, alice):
    """GET /jobs and GET /jobs/{id} send the body serialised once; it is what the schema says."""
    from api.schemas import JobPublic, JobsPublic

    job = client.post("/jobs", json={"dataset": "digits", "name": "once"}, headers=alice).json()
    one = client.get(f"/jobs/{job['id']}", headers=alice)
    assert one.headers["content-type"] == "application/json"
    assert one.json() == job
    assert JobPublic.model_validate(one.json()).name == "once"
    page = client.get("/jobs?limit=5", headers=alice).json()
    assert page == {"data": [job], "count": 1}
    JobsPublic.model_validate(page)


@pytest.mark.timeout(120)
def test_an_upload_waiting_on_its_client_holds_no_database_slot(small_pool, live_keys,
                                                                 digits_npz):
    """With one slot, a slow upload in progress: reads are answered meanwhile (they got 503
    when the upload held its session for the whole body), and the upload then completes."""
    small_pool(db_pool_size="1", api_wait_s="2")
    boundary = "slow-upload-boundary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="digits.npz"\r\nContent-Type: application/octet-stream\r\n\r\n').encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    payload = digits_npz.read_bytes()

    async def run() -> tuple[list[int], httpx.Response]:
        more = asyncio.Event()

        async def body():
            yield head + payload[:1000]
            await more.wait()  # the client is slow
            yield payload[1000:] + tail

        transport = httpx.ASGITransport(app=_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://app",
                                     headers=live_keys["bob"], timeout=60) as http:
            upload = asyncio.create_task(http.post(
                "/datasets", content=body(),
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}))
            await asyncio.sleep(0.5)  # the upload is authenticated and waiting on its body
            reads = [(await http.get("/jobs")).status_code for _ in range(3)]
            more.set()
            done = await upload
            if done.status_code == 201:
                await http.delete(f"/datasets/{done.json()['id']}")
        return reads, done

    reads, upload = asyncio.run(run())
    assert reads == [200, 200, 200]
    assert upload.status_code == 201, upload.text
    assert upload.json()["num_samples"] == 400
