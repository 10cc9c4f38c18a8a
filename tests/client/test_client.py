"""enas_client against the live service (uvicorn, Postgres, Redis, a Celery worker process):
upload, submit, wait with a progress bar, results, model download, errors, retries, events
resumed after a dropped connection."""

from __future__ import annotations

import threading

import httpx
import numpy as np
import pytest

from enas_client import (
    Architecture,
    AuthenticationError,
    Client,
    ConflictError,
    Dataset,
    Job,
    NotFoundError,
    RetryPolicy,
    TransportError,
    ValidationError,
)
from enas_client.options import packaged_schema, schema_from_openapi
from tests.conftest import ROOT, TINY_JOB, digits_arrays, wait_for

pytestmark = pytest.mark.slow

CLIENT_SRC = str(ROOT / "clients" / "python")  # importable in subprocesses, installed or not
FAST_RETRY = RetryPolicy(attempts=4, backoff_s=0.01, max_backoff_s=0.05)


def token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


@pytest.fixture(scope="module")
def enas(live_url, live_keys, worker):
    with Client(live_url, token(live_keys["alice"]), retry=FAST_RETRY) as client:
        yield client


@pytest.fixture(scope="module")
def dataset(enas) -> Dataset:
    x, y = digits_arrays()
    return enas.upload_dataset(x=x, y=y, name="digits arrays")


@pytest.fixture(scope="module")
def done_job(enas, dataset) -> Job:
    job = enas.submit(dataset, name="client: tiny", **TINY_JOB)
    assert job.status == "queued"
    return job.wait(timeout=300)


def test_the_live_openapi_matches_the_packaged_schema(live_url):
    openapi = httpx.get(f"{live_url}/openapi.json", timeout=30).json()
    assert schema_from_openapi(openapi) == packaged_schema(), (
        "the API's job options changed: run `python clients/python/update_schema.py`"
    )


def test_upload_arrays_and_a_file(enas, dataset, digits_npz):
    assert isinstance(dataset, Dataset)
    assert dataset.num_samples == 400 and dataset.image_shape == [8, 8, 1]
    assert dataset.num_classes == 10 and dataset.name == "digits arrays"
    again = enas.upload_dataset(digits_npz)
    assert again.filename == "digits.npz" and again.num_samples == 400
    assert again.id in {d.id for d in enas.datasets(limit=500)}
    assert enas.dataset(again.id) == again
    again.delete()
    with pytest.raises(NotFoundError):
        enas.dataset(again.id)


def test_a_corrupt_upload_is_a_422_naming_the_file(enas, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValidationError) as caught:
        enas.upload_dataset(bad)
    assert caught.value.field == "file"
    assert "bad.npz" in caught.value.detail


def test_wait_follows_the_job_to_its_end(done_job):
    assert done_job.status == "succeeded", done_job.error
    assert done_job.progress == 1.0
    assert 0 <= done_job.final["test_acc"] <= 1
    assert done_job.config["search"]["epochs"] == TINY_JOB["search_epochs"]


def test_what_the_job_cost_is_on_it_and_in_the_totals(enas, done_job):
    usage = done_job.usage
    assert usage["device"]["type"] == "cpu" and usage["device"]["name"]
    assert usage["device"]["threads"] >= 1 and usage["memory_kind"] == "process_rss"
    search, final = usage["phases"]["search"], usage["phases"]["final"]
    s = TINY_JOB
    assert search["images"] >= s["search_epochs"] * s["steps_per_epoch"] * s["search_batch_size"]
    assert final["images"] >= s["final_epochs"] * s["final_steps_per_epoch"] * \
        s["final_batch_size"]
    assert search["seconds"] > 0 and final["seconds"] > 0
    assert search["peak_memory_bytes"] > 50 * 2**20  # a worker process with torch loaded
    # The phases hold at least the time of their epochs.
    rows = done_job.history(as_frame=False)
    assert search["seconds"] >= sum(r["seconds"] for r in rows if r["phase"] == "search")
    totals = enas.usage(since=done_job.data["created_at"])
    assert totals["owner"] == "alice" and totals["jobs"] >= 1
    assert totals["phases"]["search"]["seconds"] >= search["seconds"]
    assert any(d["device"] == "cpu" for d in totals["devices"])


def test_wait_with_a_progress_bar(enas, done_job, capsys):
    job = enas.job(done_job.id)
    # A finished job's bar shows it whole at once; the event stream is not needed.
    job.wait(progress=True)
    err = capsys.readouterr().err
    total = TINY_JOB["search_epochs"] + TINY_JOB["final_epochs"]
    assert f"{total}/{total}" in err and "100%" in err


def test_history_as_a_list_and_a_frame(done_job):
    rows = done_job.history(as_frame=False)
    phases = [(r["phase"], r["epoch"]) for r in rows]
    assert phases == [("search", 1), ("search", 2), ("final", 1)]
    assert all(0 <= r["val_acc"] <= 1 for r in rows if r["val_acc"] is not None)
    pd = pytest.importorskip("pandas")
    frame = done_job.history()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["phase"]) == ["search", "search", "final"]


def test_architecture_pareto_and_display(done_job):
    arch = done_job.architecture()
    assert isinstance(arch, Architecture) and arch.rank == 1
    assert len(arch.conv_text.split()) == 4 * TINY_JOB["nodes"]
    assert arch.arch["conv"] == [int(v) for v in arch.conv_text.split()]
    assert arch.costs["params"] > 0
    assert [a.rank for a in done_job.architectures()] == list(range(1, TINY_JOB["top_k"] + 1))
    front = done_job.pareto()["front"]
    assert front and all("val_acc" in p and "params" in p for p in front)
    html = arch._repr_html_()
    assert arch.conv_text in html
    assert any(op in html for op in ("sep_conv", "pool", "identity"))
    job_html = done_job._repr_html_()
    assert "succeeded" in job_html and "<svg" in job_html  # the val_acc curve
    svg = arch._repr_svg_()  # the server's drawing (GET /jobs/{id}/architecture.svg)
    assert svg.lstrip().startswith("<svg") and arch.conv_text in svg


@pytest.mark.parametrize("fmt", ["pt", "onnx"])
def test_download_model(done_job, tmp_path, fmt):
    path = done_job.download_model(tmp_path, format=fmt)
    assert path.parent == tmp_path and path.stat().st_size > 1000
    assert path.name.startswith(f"enas-{done_job.id[:8]}")
    named = done_job.download_model(tmp_path / "sub" / f"model.{fmt}", format=fmt)
    assert named.read_bytes() == path.read_bytes()
    if fmt == "onnx":
        ort = pytest.importorskip("onnxruntime")
        session = ort.InferenceSession(str(named))
        x, _ = digits_arrays(4)
        logits = session.run(None, {"image": x[:, None].astype(np.float32) / 255})[0]
        assert logits.shape == (4, 10)


def test_errors_carry_the_problem_detail_and_field(enas, live_url, dataset):
    with pytest.raises(NotFoundError) as caught:
        enas.job("00000000-0000-0000-0000-000000000000")
    assert caught.value.status == 404 and "no job" in caught.value.detail
    # Valid for the schema, refused by the engine: the server's 422 names the field.
    with pytest.raises(ValidationError) as caught:
        enas.submit(dataset, layers=4)
    assert caught.value.field == "layers"
    assert "multiple of 3" in caught.value.detail
    with pytest.raises(ValidationError) as caught:
        enas.submit("no-such-dataset")
    assert caught.value.field == "dataset"
    with Client(live_url, "enas_wrong", retry=FAST_RETRY) as stranger, \
            pytest.raises(AuthenticationError):
        stranger.jobs()


def test_cancel_and_delete(enas, dataset):
    job = enas.submit(dataset, name="client: cancel", **{**TINY_JOB, "search_epochs": 50})
    with pytest.raises(TimeoutError):
        job.wait(timeout=0.5)
    job.cancel()
    assert job.status in ("cancelled", "running")
    wait_for(lambda: job.refresh().status == "cancelled", timeout=60, what="the cancel")
    with pytest.raises(ConflictError):
        job.cancel()
    job.delete()
    with pytest.raises(NotFoundError):
        job.refresh()
    assert job.id not in {j.id for j in enas.jobs(limit=500)}


def test_jobs_filters_by_status(enas, done_job):
    succeeded = enas.jobs("succeeded", limit=500)
    assert done_job.id in {j.id for j in succeeded}
    assert all(j.status == "succeeded" for j in succeeded)
    assert done_job.id in {j.id for j in enas.iter_jobs(page=2)}


def test_the_async_client(live_url, live_keys, done_job, tmp_path):
    import asyncio

    from enas_client.aio import AsyncClient

    async def session():
        async with AsyncClient(live_url, token(live_keys["alice"]), retry=FAST_RETRY) as client:
            job = await client.job(done_job.id)
            events = [e async for e in job.events()]
            await job.wait(timeout=60)
            rows = await job.history()
            arch = await job.architecture()
            path = await job.download_model(tmp_path, format="pt")
            listed = await client.jobs("succeeded", limit=500)
            with pytest.raises(ValidationError):
                await client.submit("digits", search_epochs=0)
            return job, events, rows, arch, path, listed

    job, events, rows, arch, path, listed = asyncio.run(session())
    assert job.status == "succeeded" and job.usage == done_job.refresh().usage
    assert [(e.data["phase"], e.data["epoch"]) for e in events if e.event == "epoch"] == \
        [(r["phase"], r["epoch"]) for r in rows]
    assert arch.conv_text == done_job.architecture().conv_text
    assert path.stat().st_size > 1000 and done_job.id in {j.id for j in listed}


# -- faults: retries, idempotency, dropped event streams ----------------------------------------


class FlakyTransport(httpx.BaseTransport):
    """Real HTTP to the live server with injected faults: `plan` maps a request count
    (1-based) to "503", "connect" (refused before sending) or "lost" (sent, answer lost)."""

    def __init__(self, plan: dict[int, str]) -> None:
        self.inner = httpx.HTTPTransport()
        self.plan = plan
        self.requests: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        fault = self.plan.get(len(self.requests))
        if fault == "connect":
            raise httpx.ConnectError("refused", request=request)
        if fault == "503":
            return httpx.Response(503, headers={"Retry-After": "0"},
                                  json={"title": "Service unavailable", "status": 503,
                                        "detail": "try again"})
        response = self.inner.handle_request(request)
        if fault == "lost":
            response.read()
            response.close()
            raise httpx.ReadError("connection reset", request=request)
        return response


def test_retries_on_503_and_connection_errors(live_url, live_keys, worker):
    flaky = FlakyTransport({1: "503", 2: "connect", 3: "503"})
    with Client(live_url, token(live_keys["alice"]), retry=FAST_RETRY,
                transport=flaky) as client:
        assert isinstance(client.jobs(), list)
    assert flaky.requests == ["GET /jobs"] * 4


def test_a_lost_submission_answer_is_retried_without_a_second_job(
    live_url, live_keys, dataset, worker
):
    flaky = FlakyTransport({1: "lost"})  # the server made the job; the client never heard
    name = f"client: idempotent {id(flaky)}"
    with Client(live_url, token(live_keys["alice"]), retry=FAST_RETRY,
                transport=flaky) as client:
        job = client.submit(dataset, name=name, **{**TINY_JOB, "search_epochs": 50})
        assert flaky.requests == ["POST /jobs", "POST /jobs"]
        same = [j for j in client.jobs(limit=500) if j.name == name]
        assert [j.id for j in same] == [job.id]
        job.cancel()


def test_a_plain_post_is_not_repeated_after_a_lost_answer(live_url, live_keys, worker):
    flaky = FlakyTransport({1: "lost"})
    x, y = digits_arrays(50)
    with Client(live_url, token(live_keys["alice"]), retry=FAST_RETRY,
                transport=flaky) as client, pytest.raises(TransportError):
        client.upload_dataset(x=x, y=y)  # no Idempotency-Key: one try once it was sent
    assert flaky.requests == ["POST /datasets"]


class DroppingProxy:
    """A TCP proxy to the live server that cuts the first event stream after its first epoch
    event, as a flaky network would; later connections pass through."""

    def __init__(self, target_port: int) -> None:
        import socket

        self.target_port = target_port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.cut = 0
        self.requests: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, upstream, True),
                             daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False),
                             daemon=True).start()

    def _pipe(self, src, dst, upstream_bound: bool) -> None:
        seen = b""
        try:
            while chunk := src.recv(65536):
                if upstream_bound:
                    self.requests.append(chunk)
                    dst.sendall(chunk)
                    continue
                seen += chunk
                if self.cut == 0 and b"event: epoch" in seen:
                    end = seen.index(b"event: epoch")
                    end = seen.index(b"\n\n", end) + 2 if b"\n\n" in seen[end:] else len(seen)
                    dst.sendall(chunk[: max(0, len(chunk) - (len(seen) - end))])
                    self.cut += 1
                    raise ConnectionResetError
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            import socket

            for s in (src, dst):  # shutdown wakes the other direction's blocked recv
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self.server.close()


def test_events_reconnect_with_last_event_id_after_a_drop(live_url, live_keys, done_job):
    proxy = DroppingProxy(int(live_url.rsplit(":", 1)[1]))
    try:
        with Client(f"http://127.0.0.1:{proxy.port}", token(live_keys["alice"]),
                    retry=FAST_RETRY) as client:
            events = list(client.job(done_job.id).events())
    finally:
        proxy.close()
    assert proxy.cut == 1
    epochs = [(e.data["phase"], e.data["epoch"]) for e in events if e.event == "epoch"]
    assert epochs == [("search", 1), ("search", 2), ("final", 1)]  # none lost, none twice
    first_id = next(e.id for e in events if e.event == "epoch")
    assert any(f"last-event-id: {first_id}".encode() in r.lower() for r in proxy.requests)
    assert events[-1].final and events[-1].data["status"] == "succeeded"


def test_the_client_imports_no_torch_and_nothing_of_the_service(live_url, live_keys):
    """With torch and the service's packages made unimportable, the client still works."""
    import subprocess
    import sys

    code = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"torch", "api", "worker", "enas_core", "enas_service"}:
            raise ImportError(f"{name} is blocked")
sys.meta_path.insert(0, Block())
import enas_client, enas_client.cli
client = enas_client.Client()
print(len(client.jobs()), "jobs")
assert enas_client.cli.main(["datasets", "list"]) == 0
"""
    env = {"ENAS_URL": live_url, "ENAS_KEY": token(live_keys["alice"]), "PATH": "/usr/bin:/bin",
           "PYTHONPATH": CLIENT_SRC}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert " jobs\nID " in done.stdout  # the count, then the CLI's dataset table


def test_the_npz_written_for_arrays_is_what_the_server_reads(enas):
    x = np.random.default_rng(0).integers(0, 255, (30, 6, 6), dtype=np.uint8)
    y = np.arange(30) % 3
    uploaded = enas.upload_dataset(x=x, y=y)
    assert uploaded.num_samples == 30 and uploaded.image_shape == [6, 6, 1]
    assert uploaded.class_counts == {"0": 10, "1": 10, "2": 10}
    uploaded.delete()
    with pytest.raises(ValueError, match="same length"):
        enas.upload_dataset(x=x, y=y[:5])
