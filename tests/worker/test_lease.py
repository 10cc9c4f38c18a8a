"""The lease: one claim per queued job, every later write conditional on it, and the reaper
that takes jobs back from dead workers. Against Postgres, each test rolled back."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from enas_service import repository
from enas_service.db import commit
from enas_service.models import EpochRecord, Job, JobStatus, utcnow
from enas_service.queue import held_job_ids
from tests.conftest import _purge_queue
from worker.reaper import reap_stale_jobs, resend_lost_jobs
from worker.runner import execute_job


def _job(db_session, **values) -> Job:
    job = Job(owner="alice", builtin_dataset="digits", request={}, config={}, **values)
    db_session.add(job)
    db_session.flush()
    return job


def _metrics(phase: str, epoch: int) -> dict:
    return {"phase": phase, "epoch": epoch, "epochs": 2, "progress": epoch / 4, "seconds": 1.5,
            "val_acc": 0.5, "best": {"arch": {"space": "micro"}, "val_acc": 0.5}}


def _rows(db_session, job: Job) -> int:
    return db_session.scalar(
        select(func.count()).select_from(EpochRecord).where(EpochRecord.job_id == job.id)
    )


@pytest.fixture
def scope(db_session):
    """The reaper's sessions, inside the test's transaction."""

    @contextmanager
    def _scope():
        yield db_session
        commit(db_session)

    return _scope


def test_a_job_is_claimed_once(db_session):
    job = _job(db_session)
    assert repository.claim_job(db_session, job_id=job.id, worker="w1") == 1
    assert repository.claim_job(db_session, job_id=job.id, worker="w2") is None
    db_session.refresh(job)
    assert (job.status, job.lease, job.lease_owner, job.attempts) == ("running", 1, "w1", 1)
    assert job.heartbeat_at is not None and job.started_at is not None


def test_writes_need_the_lease(db_session):
    job = _job(db_session)
    lease = repository.claim_job(db_session, job_id=job.id, worker="w1")
    ok = repository.record_epoch(
        db_session, job_id=job.id, lease=lease, metrics=_metrics("search", 1),
        checkpoint="jobs/x/checkpoints/search-0001.pt", attempt=1,
    )
    assert ok and _rows(db_session, job) == 1
    db_session.refresh(job)
    assert (job.phase, job.epoch, job.progress, job.best_val_acc) == ("search", 1, 0.25, 0.5)
    assert job.checkpoint == "jobs/x/checkpoints/search-0001.pt"
    assert job.elapsed_s == 1.5

    # The job is taken back (its worker looked dead) and claimed again: lease 2.
    past = utcnow() + timedelta(seconds=1)
    assert repository.requeue_stale_job(
        db_session, job_id=job.id, lease=lease, before=past, error="lost"
    )
    assert repository.claim_job(db_session, job_id=job.id, worker="w2") == lease + 1
    # The first worker is still alive after all: none of its writes land.
    assert not repository.record_epoch(
        db_session, job_id=job.id, lease=lease, metrics=_metrics("search", 2),
        checkpoint="x", attempt=1,
    )
    assert not repository.finish_job(
        db_session, job_id=job.id, lease=lease, status=JobStatus.succeeded
    )
    assert not repository.heartbeat(db_session, job_id=job.id, lease=lease).held
    assert repository.heartbeat(db_session, job_id=job.id, lease=lease + 1).held
    db_session.refresh(job)
    assert (job.status, job.epoch, job.lease_owner) == ("running", 1, "w2")
    assert _rows(db_session, job) == 1


def test_one_history_row_per_epoch(db_session):
    job = _job(db_session)
    lease = repository.claim_job(db_session, job_id=job.id, worker="w1")
    kwargs = {"job_id": job.id, "lease": lease, "checkpoint": "c", "attempt": 1}
    repository.record_epoch(db_session, metrics=_metrics("search", 1), **kwargs)
    repository.record_epoch(db_session, metrics=_metrics("final", 1), **kwargs)
    with pytest.raises(IntegrityError), db_session.begin_nested():
        repository.record_epoch(db_session, metrics=_metrics("search", 1), **kwargs)


def test_cancel_requests_reach_the_lease_holder(db_session):
    job = _job(db_session)
    lease = repository.claim_job(db_session, job_id=job.id, worker="w1")
    assert not repository.lease_state(db_session, job_id=job.id, lease=lease).cancel_requested
    assert repository.request_cancel(db_session, job_id=job.id)
    assert repository.lease_state(db_session, job_id=job.id, lease=lease).cancel_requested
    assert not repository.cancel_queued_job(db_session, job_id=job.id)  # it is running


def _stale(db_session, job: Job, *, attempts: int = 1, **values) -> None:
    job.status, job.lease, job.attempts = JobStatus.running, attempts, attempts
    job.heartbeat_at = utcnow() - timedelta(seconds=600)
    for name, value in values.items():
        setattr(job, name, value)
    db_session.flush()


def test_the_reaper_requeues_stale_jobs(db_session, scope):
    stale, fresh = _job(db_session), _job(db_session)
    _stale(db_session, stale)
    fresh.status, fresh.lease, fresh.heartbeat_at = JobStatus.running, 1, utcnow()
    db_session.commit()
    assert reap_stale_jobs(stale_after_s=60, scope=scope) == [stale.id]
    db_session.refresh(stale)
    db_session.refresh(fresh)
    assert stale.status == "queued" and stale.lease_owner is None
    assert "the worker was lost" in stale.error
    assert fresh.status == "running"
    assert reap_stale_jobs(stale_after_s=60, scope=scope) == []


def test_a_lost_worker_is_not_a_failure_of_the_job(db_session, scope):
    """Three attempts that ended in a lost worker (a deploy, an out-of-memory kill) and two
    errors the job raised: the job goes on; the loss is counted apart."""
    job = _job(db_session, failures=2)
    _stale(db_session, job, attempts=3)
    db_session.commit()
    assert reap_stale_jobs(stale_after_s=60, scope=scope) == [job.id]
    db_session.refresh(job)
    assert (job.status, job.failures, job.worker_losses) == ("queued", 2, 1)
    assert "the worker was lost (1 of 10 allowed)" in job.error


def test_the_reaper_fails_a_job_whose_worker_was_lost_too_often(db_session, scope):
    job = _job(db_session, worker_losses=9)
    _stale(db_session, job, attempts=9)
    db_session.commit()
    assert reap_stale_jobs(stale_after_s=60, scope=scope) == []
    db_session.refresh(job)
    assert job.status == "failed" and job.finished_at is not None
    assert job.worker_losses == 10 and job.failures == 0
    assert job.error.startswith("the worker running the job was lost 10 times")
    assert f"POST /jobs/{job.id}/retry" in job.error


def test_the_reaper_finishes_a_cancel(db_session, scope):
    job = _job(db_session)
    _stale(db_session, job, cancel_requested=True)
    db_session.commit()
    reap_stale_jobs(stale_after_s=60, scope=scope)
    db_session.refresh(job)
    assert job.status == "cancelled"


def test_a_task_for_a_job_that_is_not_queued_does_nothing(service_env):
    assert execute_job(uuid.uuid4()) == "skipped"


@pytest.fixture
def own_queue(db_session, monkeypatch):
    """A queue of the test's own on the test Redis, which no worker consumes."""
    from enas_service.queue import get_celery
    from enas_service.settings import get_settings

    queue = f"lost-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("ENAS_QUEUE", queue)
    get_settings.cache_clear()
    get_celery.cache_clear()
    yield queue
    _purge_queue(queue)
    get_celery.cache_clear()


def test_queued_jobs_the_broker_lost_are_sent_again(db_session, scope, own_queue):
    """A job queued long ago whose message the broker does not hold (it was never sent here,
    as after a Redis restarted empty) is sent again, once; a recent one is left alone."""
    old = _job(db_session, enqueued_at=utcnow() - timedelta(seconds=600))
    recent = _job(db_session)
    db_session.commit()
    assert str(old.id) not in (held_job_ids() or set())
    assert resend_lost_jobs(after_s=60, scope=scope) == [old.id]
    assert str(old.id) in held_job_ids()  # Redis holds its message now
    db_session.refresh(old)
    assert old.status == "queued" and old.enqueued_at > utcnow() - timedelta(seconds=60)

    # Its message is there: a later pass, even once the grace has passed, sends nothing.
    old.enqueued_at = utcnow() - timedelta(seconds=600)
    db_session.commit()
    assert resend_lost_jobs(after_s=60, scope=scope) == []
    assert str(recent.id) not in held_job_ids()


def test_the_filesystem_broker_says_which_jobs_it_holds(tmp_path, monkeypatch):
    """Embedded mode's broker: its message files name the jobs they run."""
    from enas_service.queue import enqueue_run_job, get_celery
    from enas_service.settings import get_settings

    monkeypatch.setenv("ENAS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ENAS_BROKER_URL", "")
    monkeypatch.setenv("ENAS_DATABASE_URL", "")
    get_settings.cache_clear()
    get_celery.cache_clear()
    try:
        job_id = uuid.uuid4()
        assert held_job_ids() == set()
        enqueue_run_job(job_id)
        assert held_job_ids() == {str(job_id)}
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        get_celery.cache_clear()


def test_a_broker_that_is_down_holds_up_no_reaper_pass(db_session, scope, monkeypatch):
    """Nothing listens at the broker's address: the pass neither hangs nor raises; the job
    stays queued, marked as sent now, and is tried again a grace period later."""
    from enas_service.queue import get_celery
    from enas_service.settings import get_settings
    from tests.conftest import free_port

    job = _job(db_session, enqueued_at=utcnow() - timedelta(seconds=600))
    db_session.commit()
    monkeypatch.setenv("ENAS_BROKER_URL", f"redis://127.0.0.1:{free_port()}/0")
    get_settings.cache_clear()
    get_celery.cache_clear()
    try:
        assert held_job_ids() is None
        assert resend_lost_jobs(after_s=60, scope=scope) == [job.id]
    finally:
        get_celery.cache_clear()
    db_session.refresh(job)
    assert job.status == "queued" and job.enqueued_at > utcnow() - timedelta(seconds=60)
