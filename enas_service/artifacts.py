"""Where files live under DATA_DIR. The database stores paths relative to DATA_DIR so that the
API and the workers can mount the same volume at different places."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

from enas_service.settings import get_settings

EXPORT_FILES = {"pt": "model.pt", "torchscript": "model.torchscript.pt", "onnx": "model.onnx"}


def data_dir() -> Path:
    return get_settings().data_dir


def datasets_dir() -> Path:
    return data_dir() / "datasets"


def dataset_dir(dataset_id: uuid.UUID) -> Path:
    return datasets_dir() / str(dataset_id)


def canonical_dataset(dataset_id: uuid.UUID) -> Path:
    """The validated upload in the engine's trusted form (enas_core.data.canonical), next to
    the file as uploaded; `safe_filename` never starts a name with "_", so they cannot clash."""
    return dataset_dir(dataset_id) / "_canonical.npz"


def job_dir(job_id: uuid.UUID) -> Path:
    """The job's `out_dir` for `run_job`: checkpoints/, model.pt, result.json, exports."""
    return data_dir() / "jobs" / str(job_id)


def cache_dir() -> Path:
    """Where built-in datasets are downloaded to (prepare_data's data_dir)."""
    return data_dir() / "cache"


def latency_cache_dir() -> Path:
    """Where the worker keeps measured latency tables: ENAS_LATENCY_CACHE, else under
    DATA_DIR like every other file the service writes (not the user's ~/.cache)."""
    configured = get_settings().latency_cache
    return configured.expanduser().resolve() if configured else cache_dir() / "latency"


def tmp_dir() -> Path:
    path = data_dir() / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def relative(path: Path | str) -> str:
    """`path` relative to DATA_DIR when it lies inside it, else unchanged."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(data_dir()))
    except ValueError:
        return str(path)


def absolute(path: str) -> Path:
    return data_dir() / path  # an absolute `path` stays as it is


def safe_filename(name: str) -> str:
    """A file name without directories or odd characters, keeping the extension."""
    name = Path(name.replace("\\", "/")).name
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "data"
    return name[-200:]


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
