"""Datasets: validate an uploaded file with the engine's loaders, store it, list, delete."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from api.schemas import (
    BuiltinDatasetPublic,
    BuiltinDatasetsPublic,
    UploadFormatPublic,
    UploadFormatsPublic,
    plain_text_problem,
)
from api.services.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from enas_core.data import BUILTIN_DATASETS, BUILTIN_SHAPES, DatasetError, load_canonical, preview
from enas_core.data.formats import describe as describe_formats
from enas_core.data.formats import formats, upload_suffixes
from enas_core.data.formats.safety import DatasetTooLarge, DecodedTooLarge
from enas_service import artifacts, repository
from enas_service.db import after_commit, after_rollback
from enas_service.ingest import Ingested, ParserLost, QuotaExceeded, ingest_in_child
from enas_service.models import Dataset
from enas_service.settings import get_settings


def builtin_datasets() -> BuiltinDatasetsPublic:
    """The engine's built-in datasets, with the shape jobs read them in."""
    data = []
    for name in BUILTIN_DATASETS:
        (channels, height, width), num_classes = BUILTIN_SHAPES[name]
        data.append(BuiltinDatasetPublic(name=name, image_shape=[height, width, channels],
                                         num_classes=num_classes))
    return BuiltinDatasetsPublic(data=data, count=len(data))


def upload_formats() -> UploadFormatsPublic:
    """The engine's upload formats (enas_core.data.formats), in the order it tries them."""
    data = [UploadFormatPublic(name=f.name, description=f.description, suffixes=list(f.suffixes))
            for f in formats()]
    return UploadFormatsPublic(data=data, count=len(data))


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


def _bytes(n: int) -> str:
    return f"{n:,} bytes" + (f" ({n / 1024**3:.1f} GiB)" if n >= 1024**3 else "")


def _over_quota(filename: str, needed: int, used: int, quota: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"{Path(filename).name}: storing it takes {_bytes(needed)} (the file and its "
        f"validated copy), and you use {_bytes(used)} of your storage quota of {_bytes(quota)} "
        "(ENAS_MAX_STORAGE_BYTES_PER_OWNER); delete datasets you no longer need "
        "(DELETE /datasets/{id})"
    )


def _ingest(
    tmp_path: Path, canonical: Path, *, filename: str, size: int, used: int, quota: int
) -> Ingested:
    """The upload validated and its canonical form written (`enas_service.ingest`), or the
    4xx that says why not."""
    settings = get_settings()
    try:
        return ingest_in_child(
            parsers=settings.upload_parsers, upload=tmp_path, canonical=canonical,
            name=Path(artifacts.safe_filename(filename)).stem, upload_bytes=size,
            max_decompressed_bytes=settings.max_decompressed_bytes,
            max_decoded_bytes=settings.max_decoded_bytes,
            room=quota - used if quota else None,
        )
    except DatasetTooLarge as exc:
        setting = ("ENAS_MAX_DECODED_BYTES" if isinstance(exc, DecodedTooLarge)
                   else "ENAS_MAX_DECOMPRESSED_BYTES")
        message = user_message(str(exc), tmp_path, filename)
        raise PayloadTooLarge(f"{message} ({setting})") from exc
    except DatasetError as exc:
        raise InvalidInput(user_message(str(exc), tmp_path, filename), field="file") from exc
    except QuotaExceeded as exc:
        raise _over_quota(filename, exc.needed, used, quota) from exc
    except ParserLost as exc:
        raise PayloadTooLarge(
            f"{filename}: validating it stopped before it finished ({exc}); it needs more "
            "memory than this server gives one upload: upload a smaller dataset"
        ) from exc


@dataclass(frozen=True)
class PendingUpload:
    """An upload checked against what the database knows (its names, its type, its owner's
    room), to be parsed without holding a database session (`parse_upload`), then stored in
    a short one (`store_dataset`)."""

    owner: str
    tmp_path: Path
    filename: str
    size: int
    name: str | None
    dataset_id: uuid.UUID
    used: int  # the owner's stored bytes when it was checked
    quota: int  # ENAS_MAX_STORAGE_BYTES_PER_OWNER, 0: none

    @property
    def folder(self) -> Path:
        return artifacts.dataset_dir(self.dataset_id)

    def discard(self) -> None:
        """Remove what parsing wrote, for an upload that is not stored after all."""
        artifacts.remove_tree(self.folder)


def prepare_upload(
    session: Session, *, owner: str, tmp_path: Path, filename: str, size: int, name: str | None
) -> PendingUpload:
    """The checks that need no parse: the names, the type, and the owner's storage quota
    against the file's size (one short query)."""
    check_names(filename, name)
    check_suffix(filename)
    quota = get_settings().max_storage_bytes_per_owner
    used = repository.storage_used(session, owner=owner) if quota else 0
    if quota and used + size > quota:
        raise _over_quota(filename, size, used, quota)
    return PendingUpload(owner=owner, tmp_path=tmp_path, filename=filename, size=size,
                         name=name, dataset_id=uuid.uuid4(), used=used, quota=quota)


def parse_upload(pending: PendingUpload) -> Ingested:
    """Validate the upload and write its canonical form into the dataset's folder, in a child
    process (`enas_service.ingest`, which waits for one of ENAS_UPLOAD_PARSERS). Needs no
    session: the caller holds none while it waits. Leaves nothing behind on failure."""
    pending.folder.mkdir(parents=True)
    try:
        return _ingest(pending.tmp_path, artifacts.canonical_dataset(pending.dataset_id),
                       filename=pending.filename, size=pending.size, used=pending.used,
                       quota=pending.quota)
    except BaseException:
        pending.discard()
        raise


def store_dataset(session: Session, pending: PendingUpload, ingested: Ingested) -> Dataset:
    """The parsed upload's row, and its file moved next to its canonical form. The quota is
    checked again against what the owner stores now (uploads stored while this one was
    parsed count). A rollback of the transaction removes the files."""
    after_rollback(session, pending.discard)
    needed = pending.size + ingested.canonical_bytes
    if pending.quota:
        used = repository.storage_used(session, owner=pending.owner)
        if used + needed > pending.quota:
            pending.discard()
            raise _over_quota(pending.filename, needed, used, pending.quota)
    stored_name = artifacts.safe_filename(pending.filename)
    os.replace(pending.tmp_path, pending.folder / stored_name)
    summary = ingested.summary
    return repository.add_dataset(
        session,
        dataset=Dataset(
            id=pending.dataset_id,
            owner=pending.owner,
            name=pending.name or Path(pending.filename).name,
            filename=stored_name,
            path=artifacts.relative(artifacts.canonical_dataset(pending.dataset_id)),
            size_bytes=needed,
            num_samples=summary["num_samples"],
            image_shape=list(summary["image_shape"]),
            channels=summary["channels"],
            num_classes=summary["num_classes"],
            classes=[str(c) for c in summary["classes"]],
            class_counts={str(k): int(v) for k, v in summary["class_counts"].items()},
        ),
    )


def create_dataset(
    session: Session, *, owner: str, tmp_path: Path, filename: str, size: int, name: str | None
) -> Dataset:
    """Validate the file at `tmp_path`, move it under DATA_DIR/datasets/<id>/ and write the
    validated data next to it in the engine's trusted form, which is what jobs read: the
    user's file is parsed once, in a child process (`enas_service.ingest`), so that the
    memory it takes goes back to the system.

    All in `session`, for scripts and tests; the API's routes run the three steps themselves,
    holding no database session while the upload waits for a parser or is parsed.

    The owner's storage quota is checked before anything is written: against the file's size
    first, then, in the child, against what the file and its validated copy take together,
    and once more when the row is written. (Two uploads at the same instant may both pass:
    the quota bounds what an owner stores, not the last byte.) Nothing is left behind on
    failure: a rollback of the transaction removes the stored files.
    """
    pending = prepare_upload(session, owner=owner, tmp_path=tmp_path, filename=filename,
                             size=size, name=name)
    return store_dataset(session, pending, parse_upload(pending))


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
