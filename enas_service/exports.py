"""The trained model's exports (TorchScript, ONNX), written next to model.pt: by the worker
when the job ends, so that a download is a file send; on first download for a job that ended
before exports were made there."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

from enas_service import artifacts

log = logging.getLogger(__name__)

EXPORT_FORMATS = tuple(f for f in artifacts.EXPORT_FILES if f != "pt")  # torchscript, onnx


def export_path(model: Path, format: str) -> Path:
    return model.parent / artifacts.EXPORT_FILES[format]


def export_model(model: Path, format: str) -> Path:
    """The export of `model` (a model.pt) in `format`, written once, atomically (a reader
    never sees half a file). Exports take raw pixels in [0, 1]: the saved normalisation is
    part of the graph. ImportError when the exporter is not installed."""
    from enas_core import export

    target = export_path(model, format)
    if target.is_file():
        return target
    tmp = target.with_name(f".{uuid.uuid4().hex}.{target.name}")
    try:
        if format == "torchscript":
            export.to_torchscript(model, tmp)
        else:
            export.to_onnx(model, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def export_all(model: Path) -> list[str]:
    """Every export of `model`; returns the formats made. One that fails is logged and left
    to the download's fallback: the job has succeeded all the same."""
    made = []
    for format in EXPORT_FORMATS:
        try:
            export_model(model, format)
            made.append(format)
        except Exception:
            log.exception("could not export %s to %s; it is made on first download",
                          model, format)
    return made
