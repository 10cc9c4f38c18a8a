"""The worker writes the ETA's reference (`jobs.progress_from`, `progress_from_at`): the first
progress report of its attempt past the progress it started at; a new claim clears it."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import numpy as np

from enas_core.data import ImageDataset
from enas_core.metrics import EpochMetrics
from enas_service import repository
from enas_service.db import session_scope
from enas_service.models import Job, JobStatus, utcnow
from worker.runner import JobRejected, execute_job


def test_a_new_claim_measures_the_eta_anew(db_session):
    job = Job(owner="alice", builtin_dataset="digits", request={}, config={},
              status=JobStatus.queued, progress=0.5, progress_from=0.1,
              progress_from_at=utcnow())
    db_session.add(job)
    db_session.flush()
    assert repository.claim_job(db_session, job_id=job.id, worker="w1") == 1
    db_session.refresh(job)
    assert (job.progress, job.progress_from, job.progress_from_at) == (0.5, None, None)


def test_the_first_report_past_the_start_is_the_reference(service_env, monkeypatch):
    import enas_core.data
    import enas_core.pipeline

    with session_scope() as session:
        job = Job(owner=f"eta-{uuid.uuid4()}", builtin_dataset="digits", request={},
                  config={})
        session.add(job)
        session.flush()
        job_id = job.id

    def row() -> tuple[float, float | None, bool]:
        with session_scope() as session:
            job = session.get(Job, job_id)
            return job.progress, job.progress_from, job.progress_from_at is not None

    seen = []

    def run_job(config, data, *, on_phase, on_epoch, **kwargs):
        for phase, progress in (("preparing", 0.0), ("search", 0.0), ("search", 0.02),
                                ("search", 0.05)):
            on_phase(phase, epoch=0, epochs=2, progress=progress)
            seen.append(row())
        on_epoch(EpochMetrics(phase="search", epoch=1, epochs=2, progress=0.25,
                              train_loss=1.0, train_acc=0.5, val_acc=0.5, lr=0.1,
                              seconds=1.0))
        seen.append(row())
        raise JobRejected("that is all this test needs")

    train = ImageDataset.from_arrays(np.zeros((20, 8, 8), np.uint8), np.arange(20) % 2)
    monkeypatch.setattr(enas_core.data, "prepare_data",
                        lambda *args, **kwargs: SimpleNamespace(train=train))
    monkeypatch.setattr(enas_core.pipeline, "run_job", run_job)
    try:
        assert execute_job(job_id) == "failed"
        assert seen == [(0.0, None, False), (0.0, None, False), (0.02, 0.02, True),
                        (0.05, 0.02, True), (0.25, 0.02, True)]
    finally:
        with session_scope() as session:
            session.delete(session.get(Job, job_id))
