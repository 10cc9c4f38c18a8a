"""A job queued or paused before an upgrade runs after it: the worker reads the config the
previous release stored (no `config_version`) through the migrations, resuming from its
checkpoint; one it cannot read fails at once saying why, instead of being retried."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from enas_core.config_migrations import CONFIG_VERSION, load_stored
from enas_core.data import ImageDataset
from enas_service import artifacts
from enas_service.db import session_scope
from enas_service.models import Job, JobStatus
from tests.enas_core.helpers import previous_release_config
from worker.runner import JobRejected, execute_job


@pytest.fixture
def engine(service_env, monkeypatch) -> list[dict[str, Any]]:
    """The engine stubbed out: what `run_job` was called with, then the job stops."""
    import enas_core.data
    import enas_core.pipeline

    calls: list[dict[str, Any]] = []

    def run_job(config, data, *, resume_from, **kwargs):
        calls.append({"config": config, "resume_from": resume_from})
        raise JobRejected("stopped by the test")

    train = ImageDataset.from_arrays(np.zeros((20, 28, 28), np.uint8), np.arange(20) % 2)
    monkeypatch.setattr(enas_core.data, "prepare_data",
                        lambda *args, **kwargs: SimpleNamespace(train=train))
    monkeypatch.setattr(enas_core.pipeline, "run_job", run_job)
    return calls


def stored_job(config: dict[str, Any]) -> uuid.UUID:
    with session_scope() as session:
        job = Job(owner=f"upgrade-{uuid.uuid4()}", builtin_dataset="digits", request={},
                  config=config, status=JobStatus.queued)
        session.add(job)
        session.flush()
        return job.id


def read(job_id: uuid.UUID) -> Job:
    with session_scope() as session:
        job = session.get(Job, job_id)
        session.expunge(job)
        return job


def remove(job_id: uuid.UUID) -> None:
    with session_scope() as session:
        session.delete(session.get(Job, job_id))


def test_a_paused_job_of_the_previous_release_resumes_with_its_config(engine):
    data = previous_release_config()
    job_id = stored_job(data)
    checkpoint = artifacts.job_dir(job_id) / "checkpoint.pt"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    checkpoint.write_bytes(b"the previous release's checkpoint")
    with session_scope() as session:
        session.get(Job, job_id).checkpoint = artifacts.relative(checkpoint)
    try:
        assert execute_job(job_id) == "failed"
        assert len(engine) == 1
        assert engine[0]["config"] == load_stored(data)
        assert engine[0]["config"].search.constraints.max_params == 200_000
        assert Path(engine[0]["resume_from"]) == checkpoint
        assert read(job_id).error == "stopped by the test"  # the stub's, not the config's
    finally:
        remove(job_id)


def test_a_job_stored_by_a_newer_release_fails_at_once_saying_why(engine):
    job_id = stored_job({**previous_release_config(), "config_version": CONFIG_VERSION + 1})
    try:
        assert execute_job(job_id) == "failed"
        job = read(job_id)
        assert engine == []
        assert (job.status, job.failures) == (JobStatus.failed, 0)  # not retried
        assert job.error == (
            f"the job's config was stored by a newer release (config_version "
            f"{CONFIG_VERSION + 1}; this release reads up to {CONFIG_VERSION}): run it on a "
            f"worker of that release or later")
    finally:
        remove(job_id)
