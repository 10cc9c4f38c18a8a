"""The read path under load (issue 18, "Latency under load"): finished jobs' JSON cached by
version and never stale, reads without a transaction, pooled connections pinged only after
they sat idle. Against a live server on the test Postgres (a session per request, as in
production)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select, text

from api.schemas import JobPublic
from api.services import projections
from enas_service.db import new_session, session_scope
from enas_service.models import Job
from enas_service.repository import JobVersion

USAGE = {
    "device": {"type": "cpu", "device": "cpu", "name": "test cpu"}, "memory_kind": "process_rss",
    "phases": {"search": {"seconds": 12.5, "cpu_seconds": 11.0, "images": 640}},
}


@pytest.fixture
def http(live_url, live_keys, unread_queue) -> Iterator[httpx.Client]:
    """A client of the live server whose jobs no worker runs (they stay queued until
    cancelled); the jobs it submitted are deleted after the test (they are committed)."""
    with httpx.Client(base_url=live_url, headers=live_keys["alice"], timeout=30) as client:
        client.submitted = []  # type: ignore[attr-defined]
        yield client
        for job_id in client.submitted:  # type: ignore[attr-defined]
            client.post(f"/jobs/{job_id}/cancel")
            assert client.delete(f"/jobs/{job_id}").status_code == 204


def _cancelled_job(http: httpx.Client, **body: str) -> dict:
    job = http.post("/jobs", json={"dataset": "digits", **body}).json()
    http.submitted.append(job["id"])  # type: ignore[attr-defined]
    cancelled = http.post(f"/jobs/{job['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    return cancelled


def _projection(job_id: str) -> dict:
    """The job as JobPublic of its row now, read in a session of its own."""
    with session_scope() as session:
        from enas_service.repository import WITH_DATASET

        row = session.scalar(select(Job).options(WITH_DATASET)
                             .where(Job.id == uuid.UUID(job_id)))
        return JobPublic.model_validate(row).model_dump(mode="json")


def test_reads_of_finished_jobs_are_their_rows_projection_and_cached(http):
    ids = [_cancelled_job(http, name=f"cached-{i}")["id"] for i in range(3)]
    first = http.get("/jobs", params={"limit": 3})
    again = http.get("/jobs", params={"limit": 3})
    assert first.headers["content-type"] == "application/json"
    assert first.content == again.content  # the second from the cache, byte for byte
    page = first.json()
    assert [job["id"] for job in page["data"]] == ids[::-1]  # newest first
    assert page["data"] == [_projection(job_id) for job_id in ids[::-1]]
    assert page["count"] == len(http.get("/jobs", params={"limit": 500}).json()["data"])
    one = http.get(f"/jobs/{ids[0]}")
    assert one.json() == _projection(ids[0])
    assert one.content == http.get(f"/jobs/{ids[0]}").content
    assert projections.finished_jobs.size > 0
    # Past the last page: no rows, and the count still right.
    count = page["count"]
    assert http.get("/jobs", params={"offset": count}).json() == {"data": [], "count": count}


def test_usage_recorded_after_a_job_ended_is_shown(http):
    """The worker records an attempt's usage once more after its final status (the time of
    an epoch cut short counts too): the cached projection of the finished job must not hide
    it (its version did not change: `updated_at` was kept)."""
    from enas_service.usage import record_usage

    job = _cancelled_job(http)
    assert http.get(f"/jobs/{job['id']}").json()["usage"] is None  # cached without usage
    assert http.get("/jobs", params={"limit": 1}).json()["data"][0]["usage"] is None
    with session_scope() as session:
        assert record_usage(session, job_id=uuid.UUID(job["id"]), attempt=1, snapshot=USAGE)
    shown = http.get(f"/jobs/{job['id']}").json()
    assert shown["usage"]["seconds"] == 12.5 and shown["usage"]["images"] == 640
    assert shown["updated_at"] > job["updated_at"]
    listed = http.get("/jobs", params={"limit": 1}).json()["data"][0]
    assert listed["id"] == job["id"] and listed["usage"]["cpu_seconds"] == 11.0


def test_a_finished_job_whose_dataset_is_deleted_says_so(http, digits_npz):
    """Deleting a dataset sets its jobs' dataset_id NULL in Postgres (ON DELETE SET NULL),
    without a write that bumps their `updated_at`: the version names the dataset too."""
    dataset = http.post("/datasets", files={"file": ("d.npz", digits_npz.read_bytes())}).json()
    job = _cancelled_job(http, dataset=dataset["id"])
    assert http.get(f"/jobs/{job['id']}").json()["dataset"] == dataset["id"]
    assert http.delete(f"/datasets/{dataset['id']}").status_code == 204
    shown = http.get(f"/jobs/{job['id']}").json()
    assert (shown["dataset"], shown["dataset_id"], shown["dataset_name"]) == (
        "(deleted)", None, None)


def test_a_retried_job_is_shown_queued(http):
    job = _cancelled_job(http)
    http.get(f"/jobs/{job['id']}")
    assert http.post(f"/jobs/{job['id']}/retry").status_code == 202
    assert http.get(f"/jobs/{job['id']}").json()["status"] == "queued"
    assert http.post(f"/jobs/{job['id']}/cancel").json()["status"] == "cancelled"


def test_the_cache_keeps_the_most_recently_used_within_its_bytes():
    cache = projections.JsonCache(max_bytes=12)

    def key(i: int) -> JobVersion:
        return JobVersion(uuid.UUID(int=i), "cancelled", None, None)  # type: ignore[arg-type]

    for i in range(3):
        cache.put(key(i), b"abcd")
    assert cache.size == 12 and cache.get(key(0)) == b"abcd"  # 0 is now the most recent
    cache.put(key(3), b"abcd")  # 16 bytes: the least recently used (1) goes
    assert [cache.get(key(i)) for i in range(4)] == [b"abcd", None, b"abcd", b"abcd"]
    assert cache.size == 12
    cache.put(key(0), b"ab")
    assert cache.size == 10


def test_a_read_only_session_holds_no_transaction(service_env):
    """A GET's session reads without BEGIN and COMMIT (two of a cached read's four round
    trips); a writer's session is in a transaction from its first statement."""
    from psycopg.pq import TransactionStatus

    for read_only, expected in ((True, TransactionStatus.IDLE), (False, TransactionStatus.INTRANS)):
        session = new_session(read_only=read_only)
        try:
            session.execute(text("SELECT 1"))
            dbapi = session.connection().connection.dbapi_connection
            assert dbapi.info.transaction_status == expected, read_only
        finally:
            session.close()


def _backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_connection_killed_while_idle_is_replaced_on_checkout(service_env, monkeypatch):
    """Pinged when it sat in the pool longer than PING_AFTER_IDLE_S: a backend ended meanwhile
    (a restart, an idle-connection killer) costs the request nothing."""
    from enas_service import db

    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.05)
    engine = db.make_engine(service_env["ENAS_DATABASE_URL"], pool_size=1, max_overflow=0,
                            ping_idle_only=True)
    try:
        pid = _backend_pid(engine)
        with db.make_engine(service_env["ENAS_DATABASE_URL"]).connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            other.commit()
        time.sleep(0.2)
        assert _backend_pid(engine) != pid  # a new connection, no error
    finally:
        engine.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged(service_env, monkeypatch):
    """The API's engines (api.main.create_app); a worker's ping every checkout."""
    from enas_service import db

    engine = db.make_engine(service_env["ENAS_DATABASE_URL"], pool_size=1, max_overflow=0,
                            ping_idle_only=True)
    pings: list[object] = []
    ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(c) or ping(c))
    try:
        pid = _backend_pid(engine)
        assert [_backend_pid(engine) for _ in range(5)] == [pid] * 5
        assert pings == []
        monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.05)
        time.sleep(0.1)
        assert _backend_pid(engine) == pid and len(pings) == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize("cache_s", ["0.3", "0"])
def test_a_revoked_key_is_refused_within_api_key_cache_s(client, db_session, alice, monkeypatch,
                                                         cache_s):
    """A key found valid is not looked up again for ENAS_API_KEY_CACHE_S (the lookup was a
    third of a cached read's time); revoked, it is refused once that has passed (at once
    with 0)."""
    from enas_service import repository
    from enas_service.apikeys import hash_key
    from enas_service.models import ApiKey
    from enas_service.settings import get_settings

    monkeypatch.setenv("ENAS_API_KEY_CACHE_S", cache_s)
    get_settings.cache_clear()
    assert client.get("/jobs", headers=alice).status_code == 200
    key_hash = hash_key(alice["Authorization"].removeprefix("Bearer "))
    prefix = db_session.scalar(select(ApiKey.prefix).where(ApiKey.key_hash == key_hash))
    assert repository.revoke_api_key(db_session, prefix=prefix) == 1
    if cache_s != "0":
        assert client.get("/jobs", headers=alice).status_code == 200  # taken for valid
        time.sleep(float(cache_s) + 0.05)
    refused = client.get("/jobs", headers=alice)
    assert refused.status_code == 401
    assert refused.json()["detail"] == "invalid or revoked API key"


def test_the_api_pings_idle_connections_only_and_other_processes_every_checkout(service_env):
    from api.main import create_app
    from enas_service import db

    create_app()
    assert db._engine_key()[-1] is True
    assert db.get_engine().pool._pre_ping is False  # the API's: see above
    worker = db.make_engine(service_env["ENAS_DATABASE_URL"])
    try:
        assert worker.pool._pre_ping is True
    finally:
        worker.dispose()
