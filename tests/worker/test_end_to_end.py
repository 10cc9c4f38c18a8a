"""The whole service over real HTTP (uvicorn), Postgres, Redis and a Celery worker process:
upload, submit, follow by server-sent events, results, model download; cancel; kill -9."""

from __future__ import annotations

import io
import json
import random
from collections import Counter
from pathlib import Path

import httpx
import pytest
import torch
from sqlalchemy import select

from enas_core.costs import CostModel
from enas_core.export import load_model, read_model_file
from enas_core.spaces import arch_from_json, prior_score, random_architecture
from enas_service.db import session_scope
from enas_service.models import EpochRecord, Job
from tests.conftest import TINY_JOB, digits_arrays, wait_for

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

    for row in history["data"][:2]:  # the sampled architectures carry their costs
        assert all(s["params"] > 0 and s["flops"] > 0 for s in row["sampled"])
        assert row["best"]["costs"]["params"] > 0

    best = http.get(f"/jobs/{job_id}/architecture", headers=alice).json()
    assert best["rank"] == 1 and best["source"] == "final"
    costs = best["costs"]
    assert costs["params"] == job["final"]["params"] and costs["flops"] == job["final"]["flops"]
    assert costs["latency_ms"] > 0 and costs["memory_mb"] > 0
    assert best["feasible"] is True and best["score"] == best["val_acc"]  # no limits
    assert job["final"]["memory_mb"] > 0 and job["final"]["constraints"] is None
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

    # The worker exported the model when the job ended: a download is a file send.
    from enas_service import artifacts

    exported = {f: artifacts.job_dir(job_id) / name
                for f, name in (("torchscript", "model.torchscript.pt"), ("onnx", "model.onnx"))}
    before = {f: p.stat() for f, p in exported.items()}
    script = http.get(f"/jobs/{job_id}/model", params={"format": "torchscript"}, headers=alice)
    assert script.status_code == 200
    traced = torch.jit.load(io.BytesIO(script.content))
    assert traced(torch.rand(3, 1, 8, 8)).shape == (3, 10)

    onnx = http.get(f"/jobs/{job_id}/model", params={"format": "onnx"}, headers=alice)
    assert onnx.status_code == 200
    check_exports_match(path, script.content, onnx.content)
    for f, p in exported.items():  # sent as they were, not exported again
        assert (p.stat().st_ino, p.stat().st_mtime_ns) == (before[f].st_ino,
                                                           before[f].st_mtime_ns)

    rows = history_rows(job_id)
    assert Counter((r.phase, r.epoch) for r in rows) == {("search", 1): 1, ("search", 2): 1,
                                                         ("final", 1): 1}


def check_exports_match(pt: Path, torchscript: bytes, onnx: bytes) -> None:
    """The downloaded TorchScript and ONNX models compute what the .pt model does, on real
    digits: exports take raw pixels in [0, 1], the .pt network its normalised input."""
    import onnxruntime

    x = torch.from_numpy(digits_arrays(64)[0]).float().div(255).unsqueeze(1)  # (64, 1, 8, 8)
    blob = read_model_file(pt)
    mean = torch.tensor(blob["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(blob["std"]).view(1, -1, 1, 1)
    with torch.no_grad():
        expected = load_model(pt)((x - mean) / std)
        scripted = torch.jit.load(io.BytesIO(torchscript))(x)
    session = onnxruntime.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    (from_onnx,) = session.run(["logits"], {"image": x.numpy()})
    assert expected.shape == (64, 10) and expected.abs().max() > 0
    torch.testing.assert_close(scripted, expected, rtol=0, atol=1e-4)
    torch.testing.assert_close(torch.from_numpy(from_onnx), expected, rtol=0, atol=1e-4)


def tight_max_params() -> int:
    """A params limit that only one random architecture in five meets, for TINY_JOB's final
    network on the uploaded 8x8 digits."""
    from api.schemas import JobCreate
    from api.services.submission import build_run_config

    final = build_run_config(JobCreate(dataset="digits", **TINY_JOB)).train.model
    price = CostModel(final, (1, 8, 8), 10)
    rng = random.Random(0)
    spread = sorted(price(random_architecture(final, rng)).params for _ in range(100))
    return spread[len(spread) // 5]


def test_a_job_under_a_tight_max_params(http, live_keys, dataset_id):
    """Every architecture the API returns is within the limit, the trained network measures
    within it, and the Pareto front is served."""
    alice = live_keys["alice"]
    limit = tight_max_params()
    body = {"dataset": dataset_id, **TINY_JOB, "max_params": limit}
    job_id = http.post("/jobs", json=body, headers=alice).json()["id"]
    events = follow(http, alice, job_id)
    job = http.get(f"/jobs/{job_id}", headers=alice).json()
    assert events[-1][1]["status"] == job["status"] == "succeeded", job["error"]

    top = http.get(f"/jobs/{job_id}/architectures", headers=alice).json()["data"]
    assert top and top[0] == http.get(f"/jobs/{job_id}/architecture", headers=alice).json()
    for arch in top:
        assert arch["costs"]["params"] <= limit and arch["feasible"] is True
    final = top[0]["final"]
    assert final["constraints"] == [{
        "name": "params", "limit": limit, "measured": final["params"], "met": True,
        "mode": "hard", "unit": "parameters", "device": None, "batch_size": None,
    }]
    assert final["params"] == top[0]["costs"]["params"] and final["constraints_met"] is True
    assert job["constraints"]["limits"] == {"max_params": limit}
    assert job["constraints"]["satisfied"] is True and job["constraints"]["message"] is None

    pareto = http.get(f"/jobs/{job_id}/pareto", headers=alice).json()
    assert pareto["objectives"] == {"val_acc": "max", "params": "min", "latency_ms": "min"}
    assert pareto["latency_device"] == "cpu" and pareto["latency_batch_size"] == 1
    assert pareto["count"] == len(pareto["front"]) >= 1
    assert pareto["evaluated"] >= pareto["count"]
    assert pareto["constraints"] == job["constraints"]
    accs = [p["val_acc"] for p in pareto["front"]]
    assert accs == sorted(accs, reverse=True)
    for point in pareto["front"]:
        assert point["params"] <= limit and point["feasible"] is True
        assert point["flops"] > 0 and point["latency_ms"] > 0 and point["memory_mb"] > 0
        arch = arch_from_json(point["arch"])
        assert point["arch"]["conv_ops"] == arch.conv.to_ops() and point["arch"]["conv"]

    history = http.get(f"/jobs/{job_id}/history", headers=alice).json()["data"]
    sampled = [s for row in history if row["phase"] == "search" for s in row["sampled"]]
    assert sampled and all(s["feasible"] == (s["params"] <= limit) for s in sampled)
    assert all(row["best"] is None or row["best"]["costs"]["params"] <= limit
               for row in history if row["phase"] == "search")


def test_no_architecture_within_the_limits_fails_with_the_reason(http, live_keys, dataset_id):
    """A latency limit no network meets (no lower bound is known at submission): the search
    runs, finds nothing within it, and the job fails at once, saying so, with the front."""
    alice = live_keys["alice"]
    body = {"dataset": dataset_id, **TINY_JOB, "search_epochs": 1, "max_latency_ms": 1e-4}
    job_id = http.post("/jobs", json=body, headers=alice).json()["id"]
    follow(http, alice, job_id)
    job = http.get(f"/jobs/{job_id}", headers=alice).json()
    assert job["status"] == "failed" and job["attempts"] == 1
    assert job["error"].startswith(
        "no architecture satisfies the hard limits (max_latency_ms=0.0001) among the ")
    assert "the closest has" in job["error"] and job["final"] is None
    assert job["constraints"]["satisfied"] is False
    assert job["constraints"]["message"] == job["error"]
    pareto = http.get(f"/jobs/{job_id}/pareto", headers=alice)
    assert pareto.status_code == 200, pareto.text
    assert pareto.json()["constraints"] == job["constraints"]
    front = pareto.json()["front"]  # what the search reached, every point marked infeasible
    assert front and all(point["feasible"] is False for point in front)
    assert http.get(f"/jobs/{job_id}/architectures", headers=alice).json()["count"] == 0
    assert http.get(f"/jobs/{job_id}/model", headers=alice).status_code == 409


def run_config_job(http: httpx.Client, headers: dict, **overrides) -> dict:
    """Insert a job with a config the API would refuse (the worker must refuse it too), run
    it, and wait for it to end."""
    from api.schemas import JobCreate
    from api.services.submission import build_run_config
    from enas_core.config import ConstraintConfig, replace, to_dict
    from enas_service.queue import enqueue_run_job

    config = build_run_config(JobCreate(dataset="digits", **TINY_JOB))
    config = replace(config, search=replace(config.search,
                                            constraints=ConstraintConfig(**overrides)))
    with session_scope() as session:
        job = Job(owner="alice", builtin_dataset="digits", request={"dataset": "digits"},
                  config=to_dict(config))
        session.add(job)
    enqueue_run_job(job.id)
    return wait_for(
        lambda: (j := http.get(f"/jobs/{job.id}", headers=headers).json())["status"]
        in ("succeeded", "failed", "cancelled") and j,
        timeout=60, what="the job to end",
    )


def test_an_impossible_limit_fails_at_once_on_the_worker(http, live_keys):
    done = run_config_job(http, live_keys["alice"], max_params=10)
    assert done["status"] == "failed" and done["attempts"] == 1
    assert done["error"].startswith("max_params=10 cannot be met: the cheapest micro network")
    assert "input (1, 28, 28), 10 classes" in done["error"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a worker without CUDA")
def test_a_cuda_latency_device_on_a_worker_without_one_fails_at_once(http, live_keys):
    done = run_config_job(http, live_keys["alice"], max_latency_ms=5.0, latency_device="cuda")
    assert done["status"] == "failed" and done["attempts"] == 1
    assert done["error"].startswith(
        "latency device 'cuda' asked for, but CUDA is not available on this machine (worker ")
    assert "latency_device 'cpu'" in done["error"]


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


def test_retry_resumes_a_cancelled_job_from_its_checkpoint(http, live_keys, dataset_id):
    alice = live_keys["alice"]
    body = {"dataset": dataset_id, **TINY_JOB, "search_epochs": 4}
    job_id = http.post("/jobs", json=body, headers=alice).json()["id"]
    wait_for(lambda: http.get(f"/jobs/{job_id}", headers=alice).json()["epoch"] >= 1,
             timeout=90, interval=0.05, what="the first epoch")
    http.post(f"/jobs/{job_id}/cancel", headers=alice)
    cancelled = wait_for(
        lambda: (j := http.get(f"/jobs/{job_id}", headers=alice).json())["status"]
        in ("cancelled", "succeeded") and j, timeout=30, what="the cancel")
    assert cancelled["status"] == "cancelled" and cancelled["epoch"] < 4

    response = http.post(f"/jobs/{job_id}/retry", headers=alice)
    assert response.status_code == 202, response.text
    events = follow(http, alice, job_id)
    assert events[-1][1]["status"] == "succeeded"
    with session_scope() as session:
        job = session.get(Job, job_id)
        assert (job.retries, job.attempts) == (1, 2)
        assert job.resumed_from and job.resumed_from.startswith(f"jobs/{job_id}/checkpoints/")
    assert Counter((r.phase, r.epoch) for r in history_rows(job_id)) == {
        ("search", 1): 1, ("search", 2): 1, ("search", 3): 1, ("search", 4): 1, ("final", 1): 1
    }


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
        assert (job.worker_losses, job.failures) == (1, 0)  # a lost worker is not a failure
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
    from api.services.submission import build_run_config
    from enas_core.config import to_dict
    from enas_service.queue import enqueue_run_job

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
    assert (done["failures"], done["worker_losses"]) == (3, 0)
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


def test_random_strategy_with_a_random_baseline_end_to_end(http, live_keys, dataset_id):
    """`strategy: random` and `baseline: random` through the API and a real worker: the report
    has no controller group, and the best random candidate is trained with the final budget."""
    alice = live_keys["alice"]
    job = {"dataset": dataset_id, **TINY_JOB, "strategy": "random", "baseline": "random"}
    response = http.post("/jobs", json=job, headers=alice)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    assert http.get(f"/jobs/{job_id}/search-report", headers=alice).status_code == 409

    events = follow(http, alice, job_id)
    assert [d["status"] for e, d in events if e == "status"][-1] == "succeeded"
    phases = [(d["phase"], d["epoch"]) for e, d in events if e == "epoch"]
    assert phases == [("search", 1), ("search", 2), ("final", 1), ("baseline", 1)]

    report = http.get(f"/jobs/{job_id}/search-report", headers=alice).json()
    assert report["strategy"] == "random" and report["controller"] is None
    assert report["random"]["n"] == TINY_JOB["num_candidates"]
    assert report["difference"] is None

    got = http.get(f"/jobs/{job_id}", headers=alice).json()
    assert got["search_summary"]["strategy"] == "random"
    baseline = got["baseline"]
    assert baseline["arch"] == report["random"]["top"][0]["arch"]
    assert 0 <= baseline["final"]["test_acc"] <= 1 and baseline["final"]["params"] > 0
    assert got["phase"] == "baseline" and got["progress"] == 1.0


def test_every_job_reports_the_controller_against_random(http, live_keys, dataset_id):
    alice = live_keys["alice"]
    response = http.post("/jobs", json={"dataset": dataset_id, **TINY_JOB}, headers=alice)
    job_id = response.json()["id"]
    events = follow(http, alice, job_id)
    assert [d["status"] for e, d in events if e == "status"][-1] == "succeeded"
    report = http.get(f"/jobs/{job_id}/search-report", headers=alice).json()
    n = TINY_JOB["num_candidates"]
    assert report["strategy"] == "enas"
    assert report["controller"]["n"] == report["random"]["n"] == n
    lo, hi = report["difference"]["ci95"]
    assert lo <= report["difference"]["mean"] <= hi
    assert report["verdict"] in ("controller better", "random better", "no clear difference")
    assert "random" in report["summary"]
    assert http.get(f"/jobs/{job_id}", headers=alice).json()["baseline"] is None


def test_a_job_with_a_selection_stage_reports_its_trust_figure(http, live_keys, dataset_id):
    """`select_candidates` through the API and a real worker: the pool trained alone shows up
    as `select` epochs, the job trains the selection's pick, and both the job and its search
    report say how far the shared weights' ranking agreed (Kendall tau)."""
    alice = live_keys["alice"]
    job = {"dataset": dataset_id, **TINY_JOB, "select_candidates": 2, "select_epochs": 1}
    response = http.post("/jobs", json=job, headers=alice)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    events = follow(http, alice, job_id)
    assert [d["status"] for e, d in events if e == "status"][-1] == "succeeded"
    phases = [(d["phase"], d["epoch"]) for e, d in events if e == "epoch"]
    assert phases == [("search", 1), ("search", 2), ("select", 1), ("select", 2), ("final", 1)]

    report = http.get(f"/jobs/{job_id}/search-report", headers=alice).json()["selection"]
    assert report["rounds"] == [{"candidates": 2, "epochs": 1}]
    assert len(report["candidates"]) == 2 and report["epochs_trained"] == 2
    # the pool was chosen by the space's prior, and says so per candidate
    for c in report["candidates"]:
        assert c["prior"] == pytest.approx(prior_score(arch_from_json(c["arch"])))
    # the stage ranks by the mean of each candidate's ranks in val_acc and train_acc alone
    val = [c["alone_val_acc"][0] for c in report["candidates"]]
    fit = [c["alone_train_acc"][0] for c in report["candidates"]]
    alone = [(val[i] > val[1 - i]) - (val[i] < val[1 - i]) + (fit[i] > fit[1 - i])
             - (fit[i] < fit[1 - i]) for i in range(2)]
    shared = [c["shared_val_acc"] for c in report["candidates"]]
    assert report["picked"] == max(range(2), key=lambda i: (alone[i], shared[i], -i))
    tau = (None if alone[0] == alone[1] or shared[0] == shared[1]
           else 1.0 if (alone[0] > alone[1]) == (shared[0] > shared[1]) else -1.0)
    assert report["kendall_tau"] == tau
    best = http.get(f"/jobs/{job_id}/architecture", headers=alice).json()
    assert best["arch"] == report["candidates"][report["picked"]]["arch"]
    got = http.get(f"/jobs/{job_id}", headers=alice).json()
    summary = got["search_summary"]["selection"]
    assert summary["kendall_tau"] == tau and summary["summary"] == report["summary"]
    assert "select" in got["usage"]["phases"]
