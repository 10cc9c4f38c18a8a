"""Per-owner quotas: at most ENAS_MAX_QUEUED_JOBS_PER_OWNER queued jobs (then 429), and at most
ENAS_MAX_STORAGE_BYTES_PER_OWNER bytes of datasets (then 413, before anything is stored)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from enas_service.models import Dataset, Job


@pytest.fixture
def two_queued(db_session, monkeypatch):
    from enas_service.settings import get_settings

    monkeypatch.setenv("ENAS_MAX_QUEUED_JOBS_PER_OWNER", "2")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_submission_over_the_queued_quota_is_429(client, db_session, alice, bob, two_queued,
                                                   digits_npz):
    ids = [client.post("/jobs", json={"dataset": "digits"}, headers=alice).json()["id"]
           for _ in range(2)]
    refused = client.post("/jobs", json={"dataset": "digits"}, headers=alice)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["detail"].startswith(
        "you have 2 jobs waiting in the queue, the most one owner may have "
        "(ENAS_MAX_QUEUED_JOBS_PER_OWNER=2)")
    # The one-request upload is refused before its file is stored.
    upload = client.post("/jobs", files={"file": ("digits.npz", digits_npz.read_bytes())},
                         headers=alice)
    assert upload.status_code == 429
    assert db_session.scalar(select(func.count()).select_from(Dataset)) == 0
    # Another owner has a quota of their own.
    assert client.post("/jobs", json={"dataset": "digits"}, headers=bob).status_code == 202
    # A cancelled job leaves the queue, and makes room.
    client.post(f"/jobs/{ids[0]}/cancel", headers=alice)
    assert client.post("/jobs", json={"dataset": "digits"}, headers=alice).status_code == 202
    assert db_session.scalar(select(func.count()).select_from(Job)) == 4


def test_a_replayed_submission_is_not_counted(client, alice, two_queued):
    headers = {**alice, "Idempotency-Key": "quota-replay"}
    first = client.post("/jobs", json={"dataset": "digits"}, headers=headers)
    client.post("/jobs", json={"dataset": "digits"}, headers=alice)
    replay = client.post("/jobs", json={"dataset": "digits"}, headers=headers)
    assert replay.status_code == 202 and replay.json()["id"] == first.json()["id"]


def _npz(n: int = 40) -> bytes:
    import io

    import numpy as np

    buf = io.BytesIO()
    np.savez(buf, x=np.zeros((n, 8, 8), np.uint8), y=np.arange(n) % 2)
    return buf.getvalue()


def test_uploads_past_the_storage_quota_are_413_before_anything_is_stored(
        client, db_session, alice, bob, monkeypatch):
    from enas_service import artifacts
    from enas_service.settings import get_settings

    payload = _npz()
    post = lambda headers: client.post(  # noqa: E731
        "/datasets", files={"file": ("d.npz", payload)}, headers=headers)
    first = post(alice).json()
    stored = first["size_bytes"]
    # Room for the second file, not for its validated copy: refused by what it would store.
    monkeypatch.setenv("ENAS_MAX_STORAGE_BYTES_PER_OWNER", str(stored + len(payload) + 100))
    get_settings.cache_clear()
    refused = post(alice)
    assert refused.status_code == 413, refused.text
    quota = stored + len(payload) + 100
    detail = refused.json()["detail"]
    needed = int(re.match(r"d\.npz: storing it takes ([\d,]+) bytes", detail)[1].replace(",", ""))
    assert stored < needed <= stored + 5 * 512  # known before writing: an upper bound
    assert detail.endswith(
        f" (the file and its validated copy), and you use {stored:,} bytes of your storage "
        f"quota of {quota:,} bytes (ENAS_MAX_STORAGE_BYTES_PER_OWNER); delete datasets you no "
        "longer need (DELETE /datasets/{id})")
    assert db_session.scalar(select(func.count()).select_from(Dataset)) == 1
    assert [p.name for p in artifacts.datasets_dir().iterdir()] == [first["id"]]
    # Another owner has a quota of their own; a deleted dataset makes room.
    assert post(bob).status_code == 201
    assert client.delete(f"/datasets/{first['id']}", headers=alice).status_code == 204
    assert post(alice).status_code == 201


def test_a_full_quota_refuses_an_upload_by_its_file_size(client, db_session, alice, monkeypatch):
    from enas_service.settings import get_settings

    monkeypatch.setenv("ENAS_MAX_STORAGE_BYTES_PER_OWNER", "1000")
    get_settings.cache_clear()
    payload = _npz()
    refused = client.post("/datasets", files={"file": ("d.npz", payload)}, headers=alice)
    assert refused.status_code == 413, refused.text
    assert refused.json()["detail"].startswith(
        f"d.npz: storing it takes {len(payload):,} bytes (the file and its validated copy), "
        "and you use 0 bytes of your storage quota of 1,000 bytes")
    assert db_session.scalar(select(func.count()).select_from(Dataset)) == 0


def test_the_quota_is_checked_again_when_a_parsed_upload_is_stored(
        db_session, monkeypatch, tmp_path):
    """An upload is parsed holding no database session (api.uploads.ingest_upload), so
    another upload of the same owner may be stored meanwhile: what the owner stores is read
    again when the row is written, and an upload that no longer fits is 413, its files gone."""
    from api.services import datasets
    from api.services.errors import PayloadTooLarge
    from enas_service import artifacts
    from enas_service.settings import get_settings

    payload = _npz()
    files = []
    for i in range(2):
        files.append(tmp_path / f"upload-{i}.npz")
        files[-1].write_bytes(payload)
    first = datasets.prepare_upload(db_session, owner="alice", tmp_path=files[0],
                                    filename="a.npz", size=len(payload), name=None)
    one = len(payload) + datasets.parse_upload(first).canonical_bytes
    first.discard()
    # Room for one of the two: both pass the checks before their parse.
    monkeypatch.setenv("ENAS_MAX_STORAGE_BYTES_PER_OWNER", str(one + one // 2))
    get_settings.cache_clear()
    first = datasets.prepare_upload(db_session, owner="alice", tmp_path=files[0],
                                    filename="a.npz", size=len(payload), name=None)
    second = datasets.prepare_upload(db_session, owner="alice", tmp_path=files[1],
                                     filename="b.npz", size=len(payload), name=None)
    parsed = [datasets.parse_upload(first), datasets.parse_upload(second)]
    stored = datasets.store_dataset(db_session, first, parsed[0])
    assert stored.size_bytes == one
    with pytest.raises(PayloadTooLarge) as refused:
        datasets.store_dataset(db_session, second, parsed[1])
    assert str(refused.value).startswith(
        f"b.npz: storing it takes {one:,} bytes (the file and its validated copy), and you "
        f"use {one:,} bytes of your storage quota of {one + one // 2:,} bytes")
    assert [p.name for p in artifacts.datasets_dir().iterdir()] == [str(stored.id)]
    assert db_session.scalar(select(func.count()).select_from(Dataset)) == 1
