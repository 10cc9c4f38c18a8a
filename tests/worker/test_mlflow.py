"""The MLflow hand-off against a real MLflow tracking server (SQLite backend, artifacts in a
folder) started here: a job run by the worker's code logs its config, per-epoch metrics,
artifacts and a registered model with its signature."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import TINY_JOB, free_port

mlflow = pytest.importorskip("mlflow")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - the child writes to it
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
         "--artifacts-destination", str(folder / "artifacts")],
        cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mlflow server did not start:\n"
                                   + (folder / "server.log").read_text()[-3000:])
            time.sleep(0.5)
        yield url
    finally:  # a throwaway server: no graceful shutdown to wait for
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)


def make_job(npz: Path, **request) -> uuid.UUID:
    """A queued job on an uploaded copy of `npz`, as POST /jobs stores it but not enqueued:
    the test runs it in-process, with this process's settings."""
    import shutil

    from api.schemas import JobCreate
    from api.services.datasets import create_dataset
    from api.services.submission import build_run_config
    from enas_core.config import to_dict
    from enas_service import artifacts
    from enas_service.db import session_scope
    from enas_service.models import Job

    body = JobCreate(dataset="digits", **request)
    upload = artifacts.tmp_dir() / f"{uuid.uuid4().hex}.npz"
    shutil.copy(npz, upload)
    with session_scope() as session:
        dataset = create_dataset(session, owner="alice", tmp_path=upload,
                                 filename="digits.npz", size=npz.stat().st_size, name=None)
        job = Job(owner="alice", name=body.name, dataset_id=dataset.id,
                  request={**body.model_dump(exclude_none=True), "dataset": str(dataset.id)},
                  config=to_dict(build_run_config(body)))
        session.add(job)
        session.flush()
        return job.id


@pytest.fixture
def mlflow_env(service_env, mlflow_server, monkeypatch):
    from enas_service.settings import get_settings

    monkeypatch.setenv("ENAS_MLFLOW_URI", mlflow_server)
    get_settings.cache_clear()
    yield mlflow_server
    monkeypatch.undo()
    get_settings.cache_clear()


def test_a_job_logs_to_mlflow_and_registers_its_model(mlflow_env, tmp_path, digits_npz):
    from mlflow.tracking import MlflowClient

    from enas_service.db import session_scope
    from enas_service.models import Job
    from worker.runner import execute_job

    experiment, model_name = f"enas-test-{uuid.uuid4().hex[:6]}", "tiny-digits"
    job_id = make_job(digits_npz, name="mlflow tiny", mlflow_experiment=experiment,
                      mlflow_model_name=model_name, **TINY_JOB)
    assert execute_job(job_id) == "succeeded"

    client = MlflowClient(tracking_uri=mlflow_env)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], f"tags.`enas.job_id` = '{job_id}'")
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED" and run.info.run_name == "mlflow tiny"
    # The resolved config as params.
    params = run.data.params
    assert params["search.epochs"] == str(TINY_JOB["search_epochs"])
    assert params["train.model.channels"] == str(TINY_JOB["final_channels"])
    assert params["request.mlflow_model_name"] == model_name
    # Per-epoch metrics as steps, and the final figures.
    def steps(key):
        return [m.step for m in client.get_metric_history(run.info.run_id, key)]

    assert steps("search/val_acc") == [1, 2]
    assert steps("search/entropy") == [1, 2] and steps("search/mean_reward") == [1, 2]
    assert steps("search/lr") == [1, 2] and steps("search/controller_loss") == [1, 2]
    assert steps("final/train_loss") == [1]
    with session_scope() as session:
        job = session.get(Job, job_id)
        result, best_arch, usage = job.result, job.best_arch, job.usage
    metrics = run.data.metrics
    assert metrics["final/test_acc"] == pytest.approx(result["test_acc"])
    assert metrics["final/params"] == result["params"]
    assert metrics["usage/search_seconds"] == pytest.approx(usage["phases"]["search"]["seconds"])
    # Artifacts: the architecture and result.json.
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"architecture.json", "architecture.svg", "result.json"} <= names  # models apart
    local = Path(client.download_artifacts(run.info.run_id, "architecture.json", str(tmp_path)))
    assert json.loads(local.read_text())["arch"] == best_arch
    # The model: registered, with its input signature, and it runs.
    versions = client.search_model_versions(f"name='{model_name}'")
    assert [v.run_id for v in versions] == [run.info.run_id]
    uri = f"models:/{model_name}/{versions[0].version}"
    info = mlflow.models.get_model_info(uri)
    signature = info.signature.inputs.to_dict()[0]
    assert list(signature["tensor-spec"]["shape"]) == [-1, 1, 8, 8]
    mlflow.set_tracking_uri(mlflow_env)
    model = mlflow.pytorch.load_model(uri)
    import torch

    assert model(torch.rand(3, 1, 8, 8)).shape == (3, 10)


def test_the_logged_picture_is_the_engines_drawing():
    from enas_core.spaces import arch_from_json, draw
    from worker.mlflow_log import architecture_svg

    arch = {"space": "macro", "text": "0 5 1 3 0 1"}
    assert architecture_svg(arch) == draw(arch_from_json(arch))
    assert architecture_svg(arch).startswith("<svg")
    assert architecture_svg(None) is None


def test_without_mlflow_settings_nothing_is_logged(service_env, digits_npz):
    from enas_service.settings import get_settings
    from worker.mlflow_log import JobRun

    assert not get_settings().mlflow_uri
    job_id = make_job(digits_npz, **TINY_JOB)
    assert JobRun.open(job_id, get_settings()) is None


def test_a_server_without_mlflow_refuses_mlflow_options(client, alice, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlflow" else real(name, *a))
    answer = client.post("/jobs", json={"dataset": "digits", "mlflow_model_name": "m"},
                         headers=alice)
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("mlflow_model_name: this server cannot log")
