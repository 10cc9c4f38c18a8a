"""The MLflow hand-off: a job logs to an MLflow tracking server as it runs.

On when the worker has `ENAS_MLFLOW_URI` (every job), or when a job names an
`mlflow_experiment` or an `mlflow_model_name` (MLflow's default tracking URI without
ENAS_MLFLOW_URI), and only with the `mlflow` extra installed: nothing changes without it.

One MLflow run per job (a retried attempt finds its job's run by the `enas.job_id` tag and
goes on in it): the resolved config as params; each finished epoch's metrics as steps
(`search/val_acc`, `search/mean_reward`, `search/entropy`, `search/controller_loss`,
`search/train_loss`, `search/lr`, `final/...`); at the end the trained network's figures and
what the job cost as metrics, the best architecture (JSON, and SVG where the engine draws) and
`result.json` as artifacts, and the model as an MLflow PyTorch model (TorchScript, so loading it
needs no enas code) with its input signature, registered under `mlflow_model_name`. A logging
failure is logged and never fails the job.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from enas_service import artifacts
from enas_service.db import session_scope
from enas_service.models import Job
from enas_service.settings import Settings

log = logging.getLogger(__name__)

EPOCH_METRICS = ("val_acc", "train_loss", "train_acc", "val_loss", "lr", "seconds",
                 "controller_loss", "entropy", "baseline", "mean_reward")
FINAL_METRICS = ("test_acc", "test_loss", "val_acc", "params", "flops", "latency_ms",
                 "memory_mb")
JOB_TAG = "enas.job_id"
# What `execute_job` returned -> the run's end status (a retry leaves the run open).
END_STATUS = {"succeeded": "FINISHED", "failed": "FAILED", "cancelled": "KILLED"}


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """{"search": {"epochs": 5}} -> {"search.epochs": "5"} (MLflow params are flat strings)."""
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = json.dumps(value) if isinstance(value, list | tuple) else str(value)
    return out


# The worker sends nothing anywhere but to the tracking server it was given (MLflow 3 reports
# usage to its makers unless told not to); an operator may still set it to false.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def _wanted(request: dict[str, Any], settings: Settings) -> bool:
    return bool(settings.mlflow_uri or request.get("mlflow_experiment")
                or request.get("mlflow_model_name"))


class JobRun:
    """One job's MLflow run, driven by the worker: `log_epoch` per recorded epoch, `close`
    when the attempt ends."""

    def __init__(self, client: Any, run_id: str, *, job_id: uuid.UUID, model_name: str | None,
                 tracking_uri: str | None) -> None:
        self.client, self.run_id = client, run_id
        self.job_id, self.model_name, self.tracking_uri = job_id, model_name, tracking_uri
        self.failed = False

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def open(cls, job_id: uuid.UUID, settings: Settings) -> JobRun | None:
        """The job's run (made, or found again for a retried attempt), or None when the job
        does not log to MLflow (or cannot: no mlflow installed, no server answering)."""
        try:
            with session_scope() as session:
                job = session.get(Job, job_id)
                if job is None:
                    return None
                request, config = dict(job.request or {}), dict(job.config or {})
                name, owner = job.name, job.owner
                dataset = job.builtin_dataset or str(job.dataset_id)
        except Exception:
            log.exception("job %s: could not read it for MLflow; not logging", job_id)
            return None
        if not _wanted(request, settings):
            return None
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            log.warning("job %s asks for MLflow, but mlflow is not installed; not logging",
                        job_id)
            return None
        uri = settings.mlflow_uri or None
        experiment = request.get("mlflow_experiment") or settings.mlflow_experiment
        try:
            client = MlflowClient(tracking_uri=uri)
            found = client.get_experiment_by_name(experiment)
            experiment_id = found.experiment_id if found else client.create_experiment(experiment)
            runs = client.search_runs([experiment_id], f"tags.`{JOB_TAG}` = '{job_id}'",
                                      max_results=1)
            if runs:
                run_id = runs[0].info.run_id
                client.update_run(run_id, status="RUNNING")
            else:
                tags = {JOB_TAG: str(job_id), "enas.owner": owner, "enas.dataset": dataset}
                run = client.create_run(experiment_id, run_name=name or f"enas-{job_id}"[:13],
                                        tags=tags)
                run_id = run.info.run_id
                params = {"job_id": str(job_id), "dataset": dataset,
                          **flatten(config), **{f"request.{k}": str(v)
                                                for k, v in request.items()}}
                _log_params(client, run_id, params)
        except Exception:
            log.exception("job %s: could not open its MLflow run at %s; not logging", job_id,
                          uri or "the default tracking URI")
            return None
        log.info("job %s: logging to MLflow run %s (%s)", job_id, run_id, experiment)
        return cls(client, run_id, job_id=job_id, model_name=request.get("mlflow_model_name"),
                   tracking_uri=uri)

    # -- during the job ---------------------------------------------------------------------

    def _guard(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception:
            log.exception("job %s: MLflow: could not %s", self.job_id, what)
            self.failed = True
            return None

    def log_epoch(self, row: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        phase, step = row.get("phase", "search"), int(row.get("epoch") or 0)
        now = int(time.time() * 1000)
        metrics = [Metric(f"{phase}/{key}", float(row[key]), now, step)
                   for key in EPOCH_METRICS if isinstance(row.get(key), int | float)]
        metrics.append(Metric("progress", float(row.get("progress") or 0.0), now,
                              int(round(1000 * float(row.get("progress") or 0.0)))))
        self._guard("log the epoch's metrics", self.client.log_batch, self.run_id,
                    metrics=metrics)

    # -- at the end -------------------------------------------------------------------------

    def close(self, outcome: str) -> None:
        """After the attempt: the results when it succeeded, then the run's end status (a job
        going back to the queue keeps its run open)."""
        status = END_STATUS.get(outcome)
        if status is None:
            return
        if outcome == "succeeded":
            self._guard("log the results", self._log_results)
        else:
            self._log_job_figures()
        self._guard("end the run", self.client.set_terminated, self.run_id, status)

    def _job(self) -> dict[str, Any] | None:
        with session_scope() as session:
            job = session.get(Job, self.job_id)
            if job is None:
                return None
            return {"result": job.result, "best_arch": job.best_arch,
                    "best_val_acc": job.best_val_acc, "best_costs": job.best_costs,
                    "model_path": job.model_path, "usage": job.usage, "error": job.error,
                    "input_shape": job.input_shape}

    def _log_job_figures(self) -> dict[str, Any] | None:
        from mlflow.entities import Metric

        job = self._job()
        if job is None:
            return None
        now = int(time.time() * 1000)
        metrics = [Metric(f"final/{k}", float(v), now, 0)
                   for k, v in (job["result"] or {}).items()
                   if k in FINAL_METRICS and isinstance(v, int | float)]
        if job["best_val_acc"] is not None:
            metrics.append(Metric("best_val_acc", float(job["best_val_acc"]), now, 0))
        usage = job["usage"] or {}
        for phase, part in (usage.get("phases") or {}).items():
            for key in ("seconds", "images", "peak_memory_bytes"):
                if isinstance(part.get(key), int | float):
                    metrics.append(Metric(f"usage/{phase}_{key}", float(part[key]), now, 0))
        if metrics:
            self._guard("log the final figures", self.client.log_batch, self.run_id,
                        metrics=metrics)
        if job["error"]:
            self._guard("tag the error", self.client.set_tag, self.run_id, "enas.error",
                        job["error"][:5000])
        return job

    def _log_results(self) -> None:
        job = self._log_job_figures()
        if job is None:
            return
        folder = artifacts.job_dir(self.job_id)
        with tempfile.TemporaryDirectory(prefix="enas-mlflow-") as tmp:
            arch = {"arch": job["best_arch"], "val_acc": job["best_val_acc"],
                    "costs": job["best_costs"]}
            (Path(tmp) / "architecture.json").write_text(json.dumps(arch, indent=2))
            self.client.log_artifact(self.run_id, str(Path(tmp) / "architecture.json"))
            svg = architecture_svg(job["best_arch"])
            if svg:
                (Path(tmp) / "architecture.svg").write_text(svg)
                self.client.log_artifact(self.run_id, str(Path(tmp) / "architecture.svg"))
        result = folder / "result.json"
        if result.is_file():
            self.client.log_artifact(self.run_id, str(result))
        if job["model_path"]:
            self._guard("log the model", self._log_model, artifacts.absolute(job["model_path"]))

    def _log_model(self, model_path: Path) -> None:
        """The TorchScript export (raw pixels in [0, 1], NCHW; no enas code needed to load it)
        as an MLflow PyTorch model with its signature, registered under the job's name."""
        import mlflow
        import mlflow.pytorch
        import numpy as np
        import torch
        from mlflow.models import infer_signature

        from enas_core.export import read_model_file, to_torchscript

        scripted = model_path.parent / artifacts.EXPORT_FILES["torchscript"]
        if not scripted.is_file():  # as GET /jobs/{id}/model?format=torchscript makes it
            tmp = scripted.with_name(f".{uuid.uuid4().hex}.{scripted.name}")
            try:
                to_torchscript(model_path, tmp)
                os.replace(tmp, scripted)
            finally:
                tmp.unlink(missing_ok=True)
        model = torch.jit.load(str(scripted), map_location="cpu").eval()
        shape = read_model_file(model_path)["input_shape"]
        example = np.random.default_rng(0).random((2, *shape), dtype=np.float32)
        with torch.no_grad():
            output = model(torch.from_numpy(example)).numpy()
        signature = infer_signature(example, output)
        if self.tracking_uri:
            mlflow.set_tracking_uri(self.tracking_uri)
        with mlflow.start_run(run_id=self.run_id):
            mlflow.pytorch.log_model(
                model, name="model", signature=signature,
                registered_model_name=self.model_name,
                serialization_format="pickle",  # a ScriptModule: saved with torch.jit.save
                pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "numpy"],
            )


def architecture_svg(arch: dict[str, Any] | None) -> str | None:
    """The engine's drawing of an architecture (`enas_core.spaces.draw`: its space draws it)."""
    if not arch:
        return None
    from enas_core.spaces import arch_from_json, draw

    try:
        return draw(arch_from_json(arch))
    except Exception:
        log.exception("drawing the architecture failed")
        return None


def _log_params(client: Any, run_id: str, params: dict[str, str]) -> None:
    from mlflow.entities import Param

    items = [Param(k[:250], v[:6000]) for k, v in params.items()]
    for start in range(0, len(items), 100):  # MLflow takes at most 100 params a batch
        client.log_batch(run_id, params=items[start:start + 100])
