"""The MLflow hand-off, seen from the API: refuse a job that asks for MLflow on a server that
cannot log to it, instead of running it without (the worker logs: worker/mlflow_log.py)."""

from __future__ import annotations

import importlib.util

from api.schemas import JobCreate
from api.services.errors import InvalidInput


def check(body: JobCreate) -> None:
    field = next((f for f in ("mlflow_experiment", "mlflow_model_name")
                  if getattr(body, f, None) is not None), None)
    if field and importlib.util.find_spec("mlflow") is None:
        raise InvalidInput(
            "this server cannot log to MLflow: it was installed without mlflow "
            "(pip install 'enas-service[mlflow]')",
            field=field,
        )
