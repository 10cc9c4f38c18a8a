"""The whole service over real HTTP (uvicorn), Postgres, Redis and a Celery worker process:
upload, submit, follow by server-sent events, results, model download; cancel; kill -9."""

from __future__ import annotations

import io
import json
from collections import Counter

import httpx
import pytest
import torch
from sqlalchemy import select

from enas_core.architecture import arch_from_json
from enas_core.export import load_model
from enas_service.db import session_scope
from enas_service.models import EpochRecord, Job
from tests.conftest import TINY_JOB, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def http(live_url, worker):
    with httpx.Client(base_url=live_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def dataset_id(http, live_keys, digits_npz) -> str:
    response = http.post(
        "/datasets", files={"file": ("digits.npz", digits_npz.read_bytes())},
        headers=live_keys["alice"],
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def follow(http: httpx.Client, headers: dict, job_id: str, timeout: float = 180) -> list:
    """The job's server-sent events until the stream ends: [(event, data), ...]."""
    events = []
    with http.stream("GET", f"/jobs/{job_id}/events", headers=headers, timeout=timeout) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((event, json.loads(line.removeprefix("data: "))))
    return events


def history_rows(job_id: str) -> list[EpochRecord]:
    with session_scope() as session:
        return list(session.scalars(select(EpochRecord).where(EpochRecord.job_id == job_id)))


def test_a_job_end_to_end(http, live_keys, dataset_id, tmp_path):
    alice = live_keys["alice"]
    response = http.post("/jobs", json={"dataset": dataset_id, **TINY_JOB}, headers=alice)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    assert http.get(response.headers["location"], headers=alice).json()["id"] == job_id

    events = follow(http, alice, job_id)
    epochs = [data for event, data in events if event == "epoch"]
    statuses = [data["status"] for event, data in events if event == "status"]
    assert statuses[-1] == "succeeded", statuses
    assert [(e["phase"], e["epoch"]) for e in epochs] == [("search", 1), ("search", 2),
                                                          ("final", 1)]

    job = http.get(f"/jobs/{job_id}", headers=alice).json()
    assert job["status"] == "succeeded" and job["progress"] == 1.0
    assert job["phase"] == "final" and job["epoch"] == job["epochs"] == 1
    assert job["attempts"] == 1 and job["error"] is None
    assert 0 <= job["best_val_acc"] <= 1
    assert job["final"]["params"] > 0 and 0 <= job["final"]["test_acc"] <= 1

    history = http.get(f"/jobs/{job_id}/history", headers=alice).json()
    assert history["count"] == 3
    assert history["data"] == epochs
    search = history["data"][0]
    assert search["entropy"] is not None and search["controller_loss"] is not None
    assert search["sampled"] and "reward" in search["sampled"][0]
    assert all(row["seconds"] > 0 for row in history["data"])

    best = http.get(f"/jobs/{job_id}/architecture", headers=alice).json()
    assert best["rank"] == 1 and best["source"] == "final"
    arch = best["arch"]
    assert arch["space"] == "micro" and len(arch["conv"]) == len(arch["reduce"]) == 4 * 2
    assert arch["conv_text"] == " ".join(map(str, arch["conv"]))
    assert len(arch["conv_ops"]) == 2
    arch_from_json(arch)  # the engine's strict parser accepts it
    assert best["final"] == job["final"]
    top = http.get(f"/jobs/{job_id}/architectures", headers=alice).json()
    assert 1 <= top["count"] <= 2 and top["data"][0] == best

    weights = http.get(f"/jobs/{job_id}/model", headers=alice)
    assert weights.status_code == 200
    path = tmp_path / "model.pt"
    path.write_bytes(weights.content)
    model = load_model(path)
    assert model(torch.rand(2, 1, 8, 8)).shape == (2, 10)

    script = http.get(f"/jobs/{job_id}/model", params={"format": "torchscript"}, headers=alice)
    assert script.status_code == 200
    traced = torch.jit.load(io.BytesIO(script.content))
    assert traced(torch.rand(3, 1, 8, 8)).shape == (3, 10)

    onnx = http.get(f"/jobs/{job_id}/model", params={"format": "onnx"}, headers=alice)
    try:
        import onnx as _  # noqa: F401
    except ImportError:
        assert onnx.status_code == 501 and "onnx" in onnx.json()["detail"]
    else:
        assert onnx.status_code == 200 and onnx.content

    rows = history_rows(job_id)
    assert Counter((r.phase, r.epoch) for r in rows) == {("search", 1): 1, ("search", 2): 1,
                                                         ("final", 1): 1}


def test_cancel_a_running_job(http, live_keys, dataset_id):
    alice = live_keys["alice"]
    body = {"dataset": dataset_id, **TINY_JOB, "search_epochs": 50}
    job_id = http.post("/jobs", json=body, headers=alice).json()["id"]
    wait_for(lambda: http.get(f"/jobs/{job_id}", headers=alice).json()["epoch"] >= 1,
             timeout=90, what="the first epoch")
    response = http.post(f"/jobs/{job_id}/cancel", headers=alice)
    assert response.status_code == 202
    assert response.json()["cancel_requested"] is True
    job = wait_for(
        lambda: (j := http.get(f"/jobs/{job_id}", headers=alice).json())["status"] == "cancelled"
        and j,
        timeout=15, what="the cancel",
    )
    assert job["epoch"] < 50 and job["finished_at"]
    assert http.post(f"/jobs/{job_id}/cancel", headers=alice).status_code == 409
    assert http.delete(f"/jobs/{job_id}", headers=alice).status_code == 204


def test_sigkill_the_worker_mid_job(http, live_keys, dataset_id, worker):
    """The worker dies with SIGKILL; the reaper re-queues the job once its heartbeat is stale,
    a new worker resumes from the last recorded checkpoint, and every epoch has one row."""
    alice = live_keys["alice"]
    body = {"dataset": dataset_id, **TINY_JOB, "search_epochs": 3, "final_epochs": 1}
    job_id = http.post("/jobs", json=body, headers=alice).json()["id"]
    wait_for(lambda: http.get(f"/jobs/{job_id}", headers=alice).json()["epoch"] >= 2,
             timeout=90, interval=0.05, what="two epochs")
    worker.kill()
    killed_at = http.get(f"/jobs/{job_id}", headers=alice).json()
    assert killed_at["status"] == "running"
    worker.start()

    events = follow(http, alice, job_id)
    assert events[-1][1]["status"] == "succeeded", worker.logs()[-3000:]
    with session_scope() as session:
        job = session.get(Job, job_id)
        assert job.attempts == 2
        assert job.resumed_from and job.resumed_from.startswith(f"jobs/{job_id}/checkpoints/")
    rows = history_rows(job_id)
    assert Counter((r.phase, r.epoch) for r in rows) == {
        ("search", 1): 1, ("search", 2): 1, ("search", 3): 1, ("final", 1): 1
    }
    assert {r.attempt for r in rows} == {1, 2}
    assert "resuming from" in worker.logs()


def test_a_job_that_fails_three_times_fails_with_the_reason(http, live_keys):
    """Each attempt raises (its recorded checkpoint is gone); after three it is failed."""
    from api.schemas import JobCreate
    from api.services.jobs import build_run_config
    from enas_core.config import to_dict
    from worker.celery_app import enqueue_run_job

    config = to_dict(build_run_config(JobCreate(dataset="digits", **TINY_JOB)))
    with session_scope() as session:
        job = Job(owner="alice", builtin_dataset="digits", request={"dataset": "digits"},
                  config=config, checkpoint="jobs/gone/checkpoints/search-0001.pt")
        session.add(job)
    enqueue_run_job(job.id)
    done = wait_for(
        lambda: (j := http.get(f"/jobs/{job.id}", headers=live_keys["alice"]).json())["status"]
        in ("succeeded", "failed", "cancelled") and j,
        timeout=90, what="three attempts",
    )
    assert done["status"] == "failed" and done["attempts"] == 3
    assert done["error"].startswith("failed 3 times; last error: FileNotFoundError")
    assert "search-0001.pt is missing" in done["error"]


def test_readyz_on_postgres_and_redis(http):
    assert http.get("/readyz").json() == {
        "status": "ok", "checks": {"database": "ok", "broker": "ok"}
    }


def test_events_resume_after_last_event_id(http, live_keys):
    alice = live_keys["alice"]
    jobs = http.get("/jobs", params={"status": "succeeded", "limit": 1}, headers=alice).json()
    job_id = jobs["data"][0]["id"]
    rows = sorted(history_rows(job_id), key=lambda r: r.id)
    events = follow(http, {**alice, "Last-Event-ID": str(rows[0].id)}, job_id)
    epochs = [(d["phase"], d["epoch"]) for e, d in events if e == "epoch"]
    assert epochs == [(r.phase, r.epoch) for r in rows[1:]]
    assert events[-1][0] == "status" and events[-1][1]["status"] == "succeeded"


def test_concurrent_retries_with_one_idempotency_key_make_one_job(http, live_keys, dataset_id):
    from concurrent.futures import ThreadPoolExecutor

    headers = {**live_keys["alice"], "Idempotency-Key": f"race-{dataset_id}"}
    body = {"dataset": dataset_id, **TINY_JOB}
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda _: http.post("/jobs", json=body, headers=headers),
                                  range(6)))
    assert {r.status_code for r in responses} == {202}
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 5
    job_id = ids.pop()
    http.post(f"/jobs/{job_id}/cancel", headers=live_keys["alice"])
    wait_for(lambda: http.get(f"/jobs/{job_id}", headers=live_keys["alice"]).json()["status"]
             in ("cancelled", "succeeded"), timeout=60, what="the job to stop")
