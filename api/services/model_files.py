"""The trained model as a file: the engine's model.pt, or an export (TorchScript, ONNX) that
the worker made when the job ended; for a job that ended before it made them, the export is
made on first request and kept next to model.pt."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy.orm import Session

from api.services.errors import Conflict, NotFound, NotSupported
from api.services.jobs import get_job
from enas_service import artifacts, exports
from enas_service.models import JobStatus

MODEL_FORMATS = tuple(artifacts.EXPORT_FILES)  # pt, torchscript, onnx


def model_file(
    session: Session, *, owner: str, job_id: uuid.UUID, format: str
) -> tuple[Path, str]:
    """The trained model as a file (exported on first request); (path, download name)."""
    job = get_job(session, owner=owner, job_id=job_id)
    if job.status is not JobStatus.succeeded:
        raise Conflict(
            f"the model is there once the job has succeeded; it is {job.status.value}"
        )
    if not job.model_path:
        raise Conflict("this job trained no model (final_epochs was 0)")
    source = artifacts.absolute(job.model_path)
    if not source.is_file():
        raise NotFound(f"the model file of job {job_id} is missing from the data directory")
    short = str(job.id)[:8]
    if format == "pt":
        return source, f"enas-{short}.pt"
    target = exports.export_path(source, format)
    if not target.is_file():  # a job that ended before the worker made its exports
        try:
            target = exports.export_model(source, format)
        except ImportError as exc:  # `onnx` is a dependency; only a broken install lacks it
            raise NotSupported(
                f"{format} export is not available on this server ({exc}); reinstall the "
                "service with its dependencies (pip install enas-service)"
            ) from exc
    suffix = ".onnx" if format == "onnx" else ".torchscript.pt"
    return target, f"enas-{short}{suffix}"
