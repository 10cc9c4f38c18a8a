"""The worker's thread setting: ENAS_TORCH_THREADS (or `enas worker|serve --threads`) is the
number of torch threads a job runs with. Real Postgres; the engine itself is stubbed."""

from __future__ import annotations

import argparse
import os
import uuid
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from enas_core.data import ImageDataset
from enas_service.db import session_scope
from enas_service.models import Job
from enas_service.settings import Settings, get_settings
from launcher.cli import _apply_env, register
from worker.runner import JobRejected, execute_job


def test_a_job_runs_with_the_threads_of_the_setting(service_env, monkeypatch):
    import enas_core.data
    import enas_core.pipeline

    with session_scope() as session:
        job = Job(owner=f"threads-{uuid.uuid4()}", builtin_dataset="digits", request={},
                  config={})
        session.add(job)
        session.flush()
        job_id = job.id
    seen = []

    def run_job(*args, **kwargs):
        seen.append(torch.get_num_threads())
        raise JobRejected("that is all this test needs")

    train = ImageDataset.from_arrays(np.zeros((20, 8, 8), np.uint8), np.arange(20) % 2)
    monkeypatch.setattr(enas_core.data, "prepare_data",
                        lambda *args, **kwargs: SimpleNamespace(train=train))
    monkeypatch.setattr(enas_core.pipeline, "run_job", run_job)
    before = torch.get_num_threads()
    monkeypatch.setenv("ENAS_TORCH_THREADS", str(before + 1))
    get_settings.cache_clear()
    try:
        assert execute_job(job_id) == "failed"
        assert seen == [before + 1]
    finally:
        torch.set_num_threads(before)
        monkeypatch.undo()
        get_settings.cache_clear()
        with session_scope() as session:
            session.delete(session.get(Job, job_id))


def test_the_setting_is_a_positive_count(monkeypatch):
    monkeypatch.setenv("ENAS_TORCH_THREADS", "3")
    assert Settings().torch_threads == 3
    monkeypatch.delenv("ENAS_TORCH_THREADS")
    assert Settings().torch_threads is None
    monkeypatch.setenv("ENAS_TORCH_THREADS", "0")
    with pytest.raises(ValidationError, match="torch_threads"):
        Settings()


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_threads_flag_reaches_the_worker_processes_environment(command, monkeypatch, capsys):
    parser = argparse.ArgumentParser(prog="enas")
    register(parser.add_subparsers(dest="command"))
    monkeypatch.delenv("ENAS_TORCH_THREADS", raising=False)
    _apply_env(parser.parse_args([command, "--threads", "3"]))
    assert os.environ["ENAS_TORCH_THREADS"] == "3"  # the pool's and serve's worker children
    get_settings.cache_clear()
    assert get_settings().torch_threads == 3
    monkeypatch.undo()
    get_settings.cache_clear()
    with pytest.raises(SystemExit):
        parser.parse_args([command, "--threads", "0"])
    assert "--threads: must be a whole number of threads from 1 to 4096" in \
        capsys.readouterr().err
