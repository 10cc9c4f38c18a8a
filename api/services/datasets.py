"""Datasets: validate an uploaded file with the engine's loaders, store it, list, delete."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from sqlalchemy.orm import Session

from api.schemas import plain_text_problem
from api.services.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from enas_core.data import DatasetError, load_canonical, preview, save_canonical
from enas_core.data.formats import describe as describe_formats
from enas_core.data.formats import load_file_with_test, upload_suffixes
from enas_core.data.formats.safety import DatasetTooLarge, limited
from enas_core.layout import too_small
from enas_service import artifacts, repository
from enas_service.db import after_commit, after_rollback
from enas_service.models import Dataset
from enas_service.settings import get_settings


def check_suffix(filename: str | None) -> None:
    """415 unless the name ends as an upload format's files do (enas_core.data.formats)."""
    name = (filename or "").lower()
    if not name.endswith(upload_suffixes()):
        suffix = "".join(Path(name).suffixes[-2:]) or "no extension"
        raise UnsupportedMediaType(
            f"unsupported file type ({suffix}) for {filename!r}; upload "
            f"{describe_formats(uploads_only=True)}"
        )


MAX_NAME_CHARS = 200


def check_names(filename: str, name: str | None) -> None:
    """422 for an upload's file name or label that cannot be stored: over 200 characters, or
    holding a control character (NUL cannot go into Postgres text)."""
    for field, value in (("file", filename), ("name", name)):
        if value is None:
            continue
        what = "the file's name" if field == "file" else "the name"
        if len(value) > MAX_NAME_CHARS:
            raise InvalidInput(
                f"{what} is {len(value)} characters long; at most {MAX_NAME_CHARS}", field=field,
                loc="form",
            )
        problem = plain_text_problem(value)
        if problem:
            raise InvalidInput(f"{what} {problem}", field=field, loc="form")


def user_message(message: str, tmp_path: Path, filename: str) -> str:
    """An engine error about the temp file, in the user's terms: their file's name where the
    engine named the temp file (`upload-3e16...csv`), and that name first."""
    name = Path(filename).name
    message = message.replace(tmp_path.name, name).replace(tmp_path.stem, Path(name).stem)
    return message if message.startswith(name) else f"{name}: {message}"


def create_dataset(
    session: Session, *, owner: str, tmp_path: Path, filename: str, size: int, name: str | None
) -> Dataset:
    """Validate the file at `tmp_path`, move it under DATA_DIR/datasets/<id>/ and write the
    validated data next to it in the engine's trusted form, which is what jobs read: the
    user's file is parsed once, here.

    Nothing is left behind on failure: an invalid file raises before anything is stored, and a
    rollback of the request's transaction removes the stored files.
    """
    check_names(filename, name)
    check_suffix(filename)
    try:
        # Decompression is metered: this upload holds at most about this much in memory.
        with limited(get_settings().max_decompressed_bytes):
            train, test = load_file_with_test(tmp_path)
    except DatasetTooLarge as exc:
        raise PayloadTooLarge(f"{filename}: {exc} (ENAS_MAX_DECOMPRESSED_BYTES)") from exc
    except DatasetError as exc:
        raise InvalidInput(user_message(str(exc), tmp_path, filename), field="file") from exc
    small = too_small(train.image_shape[:2])
    if small is not None:
        raise InvalidInput(f"{Path(filename).name}: {small}", field="file")
    train = replace(train, name=Path(artifacts.safe_filename(filename)).stem)
    summary = train.summary()
    dataset_id = uuid.uuid4()
    stored_name = artifacts.safe_filename(filename)
    folder = artifacts.dataset_dir(dataset_id)
    after_rollback(session, lambda: artifacts.remove_tree(folder))
    folder.mkdir(parents=True)
    os.replace(tmp_path, folder / stored_name)
    canonical = save_canonical(artifacts.canonical_dataset(dataset_id), train, test)
    return repository.add_dataset(
        session,
        dataset=Dataset(
            id=dataset_id,
            owner=owner,
            name=name or Path(filename).name,
            filename=stored_name,
            path=artifacts.relative(canonical),
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


def discard_dataset(session: Session, *, dataset: Dataset) -> None:
    """Remove a dataset this request stored and no longer needs (its row now, its files once
    the request commits)."""
    folder = artifacts.dataset_dir(dataset.id)
    repository.delete_dataset(session, dataset=dataset)
    after_commit(session, lambda: artifacts.remove_tree(folder))


def sample_grid(session: Session, *, owner: str, dataset_id: uuid.UUID, per_class: int) -> Path:
    """A PNG of sample images per class, made once per size and kept next to the dataset."""
    dataset = get_dataset(session, owner=owner, dataset_id=dataset_id)
    path = artifacts.dataset_dir(dataset.id) / f"_samples-{per_class}.png"
    if not path.is_file():
        train, _ = load_canonical(artifacts.absolute(dataset.path))
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(preview.sample_grid(train, per_class=per_class))
        os.replace(tmp, path)  # two requests at once both write; either file is the same
    return path
