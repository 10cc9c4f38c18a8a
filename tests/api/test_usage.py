"""Compute accounting: the ledger a worker writes (enas_service.usage.record_usage, as
worker/runner.py calls it), the usage shown on the job, and GET /usage's totals per owner."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from enas_service.models import Job, UsageRecord
from enas_service.usage import record_usage
from tests.conftest import make_key

CPU = {"type": "cpu", "device": "cpu", "name": "AMD EPYC", "threads": 2, "cores": 2}
GPU = {"type": "cuda", "device": "cuda:0", "name": "NVIDIA H100", "memory_bytes": 80 * 2**30}


def snapshot(device, **phases):
    parts = {name: {"seconds": s, "cpu_seconds": 2 * s, "images": i, "peak_memory_bytes": m}
             for name, (s, i, m) in phases.items()}
    return {"device": device, "memory_kind": "process_rss" if device is CPU else
            "cuda_allocated", "phases": parts}


def submit(client, headers) -> str:
    return client.post("/jobs", json={"dataset": "digits"}, headers=headers).json()["id"]


def test_the_job_shows_its_usage_summed_over_attempts(client, db_session, alice):
    job_id = submit(client, alice)
    assert client.get(f"/jobs/{job_id}", headers=alice).json()["usage"] is None
    job = db_session.get(Job, job_id)
    # Attempt 1 on the CPU: a snapshot after each epoch, rewritten, then the worker died.
    record_usage(db_session, job_id=job.id, attempt=1, snapshot=snapshot(CPU, search=(5, 100, 10)))
    record_usage(db_session, job_id=job.id, attempt=1, snapshot=snapshot(CPU, search=(9, 300, 30)))
    # Attempt 2 resumed on a GPU and trained the final network.
    record_usage(db_session, job_id=job.id, attempt=2,
                 snapshot=snapshot(GPU, search=(1, 50, 40), final=(20, 1000, 20)))
    db_session.commit()
    usage = client.get(f"/jobs/{job_id}", headers=alice).json()["usage"]
    assert usage["phases"] == {
        "search": {"seconds": 10.0, "cpu_seconds": 20.0, "images": 350, "peak_memory_bytes": 40},
        "final": {"seconds": 20.0, "cpu_seconds": 40.0, "images": 1000, "peak_memory_bytes": 20},
    }
    assert usage["seconds"] == 30.0 and usage["images"] == 1350
    assert usage["peak_memory_bytes"] == 40 and usage["attempts"] == 2
    assert usage["device"]["name"] == "NVIDIA H100" and usage["devices"] == ["cpu", "cuda:0"]
    assert usage["memory_kind"] == "cuda_allocated"
    listed = client.get("/jobs", headers=alice).json()["data"]
    assert next(j for j in listed if j["id"] == job_id)["usage"] == usage


def test_usage_totals_per_owner_and_period(client, db_session, bob):
    # An owner of this test's own: the live tests commit jobs of alice's to this database.
    alice = make_key(db_session, f"carol-{uuid.uuid4().hex[:8]}")
    db_session.commit()
    mine = [submit(client, alice) for _ in range(2)]
    theirs = submit(client, bob)
    for job_id, snap in ((mine[0], snapshot(CPU, search=(60, 1000, 5), final=(30, 500, 5))),
                         (mine[1], snapshot(GPU, search=(10, 2000, 7))),
                         (theirs, snapshot(CPU, search=(999, 9, 9)))):
        record_usage(db_session, job_id=db_session.get(Job, job_id).id, attempt=1,
                     snapshot=snap)
    db_session.commit()
    total = client.get("/usage", headers=alice).json()
    assert total["owner"].startswith("carol-") and total["jobs"] == 2
    before = total
    # Deleting a job does not undo what it cost.
    assert client.delete(f"/jobs/{mine[0]}", headers=alice).status_code == 204
    after = client.get("/usage", headers=alice).json()
    assert after == before

    now = datetime.now(UTC)
    window = {"since": (now - timedelta(minutes=5)).isoformat(),
              "until": (now + timedelta(minutes=5)).isoformat()}
    recent = client.get("/usage", params=window, headers=alice).json()
    assert recent["jobs"] == 2
    assert recent["phases"]["search"] == {"seconds": 70.0, "cpu_seconds": 140.0,
                                          "images": 3000, "jobs": 2}
    assert recent["phases"]["final"]["seconds"] == 30.0
    assert recent["seconds"] == 100.0 and recent["images"] == 3500
    devices = {d["device"]: d for d in recent["devices"]}
    assert devices["cpu"]["seconds"] == 90.0 and devices["cpu"]["name"] == "AMD EPYC"
    assert devices["cuda:0"]["seconds"] == 10.0 and devices["cuda:0"]["jobs"] == 1
    later = client.get("/usage", params={"since": (now + timedelta(hours=1)).isoformat()},
                       headers=alice).json()
    assert later["jobs"] == 0 and later["seconds"] == 0 and later["devices"] == []
    assert client.get("/usage", params={"since": "2026-01-01"}, headers=alice).json()["jobs"] \
        == 2  # a date alone is midnight UTC


def test_bad_periods_are_422(client, alice):
    bad = client.get("/usage", params={"since": "yesterday"}, headers=alice)
    assert bad.status_code == 422 and "since" in bad.json()["detail"]
    backwards = client.get("/usage", params={"since": "2026-02-01", "until": "2026-01-01"},
                           headers=alice)
    assert backwards.status_code == 422 and backwards.json()["detail"].startswith("until:")
    assert client.get("/usage").status_code == 401


def test_records_without_a_job_are_not_written(db_session):
    job_id = uuid.uuid4()
    assert not record_usage(db_session, job_id=job_id, attempt=1,
                            snapshot=snapshot(CPU, search=(1, 1, 1)))
    assert db_session.scalar(select(UsageRecord).where(UsageRecord.job_id == job_id)) is None
