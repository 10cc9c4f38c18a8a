"""Clients that stall or send too much hold no database slot and no unbounded buffer (issue 18,
items 1 and 3): bodies are read before a request takes a slot, within ENAS_BODY_TIMEOUT_S
(408), and bounded as they arrive, chunked ones too (413 naming the limit). Uploads hold no
slot either while they wait for a parser or are parsed."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from tests.conftest import FINAL_STATUSES, free_port, wait_for

MiB = 1024**2


@pytest.fixture
def serve(service_env, monkeypatch) -> Iterator[Callable[..., str]]:
    """Starts the app under uvicorn (in a thread, on a free port, on the test Postgres) with
    the given ENAS_* settings; returns its URL. Stopped after the test."""
    import uvicorn

    from api.main import create_app
    from enas_service.settings import get_settings

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(**settings: str) -> str:
        for name, value in settings.items():
            monkeypatch.setenv(f"ENAS_{name.upper()}", value)
        get_settings.cache_clear()
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port,
                                               log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=15)
    monkeypatch.undo()
    get_settings.cache_clear()


def _stall(url: str, request: bytes) -> socket.socket:
    """A socket that sent `request` (headers and part of a body) and then sends nothing."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=60)
    sock.sendall(request)
    return sock


def _answer(sock: socket.socket) -> bytes:
    """What the server sent before it closed the connection (or the first 64 KB)."""
    data = b""
    while len(data) < 65536:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _partial_json(key: str) -> bytes:
    return (f"POST /jobs HTTP/1.1\r\nHost: x\r\nAuthorization: {key}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            '{"dataset":').encode()


def _partial_upload(key: str) -> bytes:
    boundary = "stalled-boundary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="d.npz"\r\n\r\nPK\x03\x04')
    return (f"POST /datasets HTTP/1.1\r\nHost: x\r\nAuthorization: {key}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: 100000\r\n\r\n{head}").encode()


@pytest.mark.timeout(180)
def test_stalled_bodies_hold_no_database_slot_and_are_answered_408(serve, live_keys):
    """Ten sockets (eight JSON submissions, two uploads) send their headers and part of their
    body, then stall, against a pool of 2 connections: every other tenant's request is still
    answered 200 (it was 503 after api_wait_s: the stalled submissions held both slots, "idle
    in transaction"), and each stalled request is answered 408 once its body is overdue."""
    url = serve(db_pool_size="2", db_max_overflow="0", api_wait_s="1", body_timeout_s="5")
    alice = live_keys["alice"]["Authorization"]
    stalled = [_stall(url, _partial_json(alice)) for _ in range(8)]
    stalled += [_stall(url, _partial_upload(alice)) for _ in range(2)]
    try:
        time.sleep(1)  # the stalled requests reach the app (else the test proves nothing)
        with httpx.Client(base_url=url, headers=live_keys["bob"], timeout=60) as http:
            reads = [http.get("/jobs").status_code, http.get("/usage").status_code,
                     http.get("/jobs?limit=1").status_code]
        assert reads == [200, 200, 200]
        answers = [_answer(sock) for sock in stalled]
    finally:
        for sock in stalled:
            sock.close()
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert b"connection: close" in answer.lower()
        assert b"ENAS_BODY_TIMEOUT_S" in answer


def _hold_parsers() -> list[object]:
    """Take every turn to parse an upload in this process (enas_service.ingest's, which the
    server in this process shares): uploads then wait for a parser until they are given back.
    Returns what to release."""
    from enas_service import ingest

    semaphore = ingest._semaphore(1)  # the first call's size holds
    held = []
    while semaphore.acquire(blocking=False):
        held.append(semaphore)
    assert held
    return held


def _uploads_received(tmp_dir, count: int, size: int) -> None:
    """Wait until `count` uploads of `size` bytes are in the staging folder (their bodies
    read: each then waits for a parser)."""
    deadline = time.monotonic() + 60
    while sum(1 for f in tmp_dir.iterdir() if f.stat().st_size == size) < count:
        assert time.monotonic() < deadline, "the uploads did not arrive"
        time.sleep(0.05)


@pytest.mark.timeout(180)
def test_uploads_waiting_for_a_parser_hold_no_database_slot(serve, live_keys, digits_npz):
    """Four uploads (three datasets, one job with its file) wait for the one parser, against a
    pool of 2 connections: other requests are still answered 200 (each upload held its slot
    and its transaction while it waited and while the child parsed: 503 after api_wait_s),
    and the uploads are all stored once a parser comes free, leaving no staged file."""
    from enas_service import artifacts

    url = serve(db_pool_size="2", db_max_overflow="0", api_wait_s="1", upload_parsers="1")
    alice = live_keys["alice"]
    payload = digits_npz.read_bytes()
    answers: dict[int, httpx.Response] = {}

    def upload(i: int) -> None:
        path, data = ("/jobs", {"config": "{}"}) if i == 3 else ("/datasets", {})
        with httpx.Client(base_url=url, headers=alice, timeout=120) as http:
            answers[i] = http.post(path, files={"file": (f"d{i}.npz", payload)}, data=data)

    held = _hold_parsers()
    threads = [threading.Thread(target=upload, args=(i,)) for i in range(4)]
    try:
        for thread in threads:
            thread.start()
        _uploads_received(artifacts.tmp_dir(), 4, len(payload))
        with httpx.Client(base_url=url, headers=live_keys["bob"], timeout=60) as http:
            reads = [http.get("/jobs").status_code, http.get("/datasets").status_code,
                     http.get("/usage").status_code]
        assert reads == [200, 200, 200]
        assert not answers  # the uploads were still waiting for the parser
    finally:
        for semaphore in held:
            semaphore.release()  # type: ignore[attr-defined]
        for thread in threads:
            thread.join(timeout=120)
    assert [answers[i].status_code for i in range(4)] == [201, 201, 201, 202], answers
    assert {answers[i].json()["num_samples"] for i in range(3)} == {400}
    with httpx.Client(base_url=url, headers=alice, timeout=60) as http:
        job = answers[3].json()
        assert http.get(f"/datasets/{job['dataset_id']}").json()["num_samples"] == 400
        # Committed: removed, as other tests count the rows of the database they share.
        http.post(f"/jobs/{job['id']}/cancel")
        # A worker of this test process (another test's) may have started it: cancelled
        # once the worker sees the request.
        wait_for(lambda: http.get(f"/jobs/{job['id']}").json()["status"] in FINAL_STATUSES,
                 timeout=60, what="the job to be cancelled")
        assert http.delete(f"/jobs/{job['id']}").status_code == 204
        for dataset_id in [answers[i].json()["id"] for i in range(3)] + [job["dataset_id"]]:
            assert http.delete(f"/datasets/{dataset_id}").status_code == 204
    assert not any(artifacts.tmp_dir().iterdir())


def _app():
    from api.main import create_app

    return create_app()


@pytest.fixture
def settings_env(service_env, monkeypatch):
    from enas_service.settings import get_settings

    def configure(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"ENAS_{name.upper()}", value)
        get_settings.cache_clear()

    yield configure
    monkeypatch.undo()
    get_settings.cache_clear()


def _post_counting(path: str, chunks: Iterator[bytes], headers: dict[str, str]
                   ) -> tuple[httpx.Response, int]:
    """POST a chunked body (no Content-Length) in process; returns the answer and how many
    bytes of the body the app pulled."""
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for chunk in chunks:
            pulled += len(chunk)
            yield chunk

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://app",
                                     timeout=60) as http:
            return await http.post(path, content=body(), headers=headers)

    return asyncio.run(run()), pulled


def test_a_chunked_json_body_is_413_at_the_limit_not_after_it_is_read(settings_env):
    """300 MB of chunked JSON grew the API by 884 MB before its 422: now reading stops at
    ENAS_MAX_JSON_BYTES and the answer names the limit."""
    settings_env(max_json_bytes=str(64 * 1024))
    chunks = (b"[" + b"1," * (MiB // 2 - 1) + b"1" if i == 0 else b",1" * (MiB // 2)
              for i in range(300))
    response, pulled = _post_counting("/jobs", chunks, {"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert "65536 bytes (ENAS_MAX_JSON_BYTES)" in response.json()["detail"]
    assert pulled <= MiB  # the first chunk, not 300 MB


def test_a_declared_length_over_the_limit_is_413_before_reading(settings_env):
    settings_env(max_json_bytes=str(64 * 1024))
    pulled_chunks: list[bytes] = []

    async def run() -> httpx.Response:
        async def body() -> AsyncIterator[bytes]:
            for _ in range(10):
                pulled_chunks.append(b"x")
                yield b" " * MiB

        transport = httpx.ASGITransport(app=_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            return await http.post("/jobs", content=body(), headers={
                "Content-Type": "application/json", "Content-Length": str(10 * MiB)})

    response = asyncio.run(run())
    assert response.status_code == 413 and response.headers["connection"] == "close"
    assert pulled_chunks == []


def test_multipart_text_fields_are_capped_together(settings_env, live_keys):
    """700 fields of 1 MB were all read (API +706 MB) before the 422: the text fields are
    capped at 1 MB together, and reading stops there."""
    settings_env()
    boundary = "fields-boundary"
    field = b"x" * (900 * 1024)

    def chunks() -> Iterator[bytes]:
        for i in range(700):
            yield (f'--{boundary}\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\n'
                   ).encode() + field + b"\r\n"
        yield f"--{boundary}--\r\n".encode()

    response, pulled = _post_counting("/datasets", chunks(), {
        **live_keys["alice"], "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 413
    assert "text fields are over 1 MB together" in response.json()["detail"]
    assert pulled < 3 * MiB


def test_a_chunked_upload_is_capped_also_outside_its_parts(settings_env, live_keys):
    """Bytes after the closing boundary (the epilogue) are in no part: the parser skipped
    them, reading on without limit. The whole body is capped too (ENAS_MAX_UPLOAD_BYTES plus
    the fields' and the framing's allowance), chunked or not."""
    settings_env()  # conftest's ENAS_MAX_UPLOAD_BYTES: 2 MiB
    boundary = "epilogue-boundary"

    def chunks() -> Iterator[bytes]:
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
               f'filename="d.npz"\r\n\r\nPK\r\n--{boundary}--\r\n').encode()
        for _ in range(64):
            yield b"e" * MiB  # 64 MiB of epilogue

    response, pulled = _post_counting("/datasets", chunks(), {
        **live_keys["alice"], "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 413
    assert "2 MB (ENAS_MAX_UPLOAD_BYTES)" in response.json()["detail"]
    assert pulled <= 5 * MiB
