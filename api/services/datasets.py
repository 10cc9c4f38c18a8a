"""Datasets: validate an uploaded file with the engine's loaders, store it, list, delete."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.orm import Session

from api.services.errors import Conflict, InvalidInput, NotFound, UnsupportedMediaType
from enas_core.data import DatasetError, load_file
from enas_service import artifacts, repository
from enas_service.db import after_commit, after_rollback
from enas_service.models import Dataset

# What one uploaded file can be: .npz (x, y), CSV (label, pixels...), or a zip holding class
# folders of images or an MNIST-style IDX pair.
UPLOAD_SUFFIXES = (".npz", ".csv", ".csv.gz", ".zip")


def check_suffix(filename: str | None) -> None:
    name = (filename or "").lower()
    if not name.endswith(UPLOAD_SUFFIXES):
        suffix = "".join(Path(name).suffixes[-2:]) or "no extension"
        raise UnsupportedMediaType(
            f"unsupported file type ({suffix}) for {filename!r}; upload .npz (arrays x, y), "
            ".csv (label, pixels...), or .zip (class folders of images, or an IDX pair)"
        )


def create_dataset(
    session: Session, *, owner: str, tmp_path: Path, filename: str, size: int, name: str | None
) -> Dataset:
    """Validate the file at `tmp_path` and move it under DATA_DIR/datasets/<id>/.

    Nothing is left behind on failure: an invalid file raises before anything is stored, and a
    rollback of the request's transaction removes the stored file.
    """
    check_suffix(filename)
    try:
        summary = load_file(tmp_path).summary()
    except DatasetError as exc:
        raise InvalidInput(f"{filename}: {exc}", field="file") from exc
    dataset_id = uuid.uuid4()
    stored_name = artifacts.safe_filename(filename)
    folder = artifacts.dataset_dir(dataset_id)
    after_rollback(session, lambda: artifacts.remove_tree(folder))
    folder.mkdir(parents=True)
    target = folder / stored_name
    os.replace(tmp_path, target)
    return repository.add_dataset(
        session,
        dataset=Dataset(
            id=dataset_id,
            owner=owner,
            name=name or Path(filename).name,
            filename=stored_name,
            path=artifacts.relative(target),
            size_bytes=size,
            num_samples=summary["num_samples"],
            image_shape=list(summary["image_shape"]),
            channels=summary["channels"],
            num_classes=summary["num_classes"],
            classes=[str(c) for c in summary["classes"]],
            class_counts={str(k): int(v) for k, v in summary["class_counts"].items()},
        ),
    )


def get_dataset(session: Session, *, owner: str, dataset_id: uuid.UUID) -> Dataset:
    dataset = repository.get_dataset(session, owner=owner, dataset_id=dataset_id)
    if dataset is None:
        raise NotFound(f"no dataset {dataset_id}")
    return dataset


def list_datasets(
    session: Session, *, owner: str, limit: int, offset: int
) -> tuple[Sequence[Dataset], int]:
    return repository.list_datasets(session, owner=owner, limit=limit, offset=offset)


def delete_dataset(session: Session, *, owner: str, dataset_id: uuid.UUID) -> None:
    dataset = get_dataset(session, owner=owner, dataset_id=dataset_id)
    if repository.dataset_in_use(session, dataset_id=dataset.id):
        raise Conflict(
            f"dataset {dataset_id} is used by a queued or running job; cancel the job first"
        )
    folder = artifacts.dataset_dir(dataset.id)
    repository.delete_dataset(session, dataset=dataset)
    after_commit(session, lambda: artifacts.remove_tree(folder))
