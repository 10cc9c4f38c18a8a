"""Uploaded datasets (GET /datasets, POST /datasets)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.examples import DATASET_EXAMPLES


class DatasetPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"examples": DATASET_EXAMPLES},
    )

    id: uuid.UUID
    name: str
    filename: str
    size_bytes: int = Field(
        description="Bytes stored: the uploaded file and its validated copy, which jobs read "
        "(counted against ENAS_MAX_STORAGE_BYTES_PER_OWNER)")
    num_samples: int
    image_shape: list[int] = Field(description="[height, width, channels]")
    channels: int
    num_classes: int
    classes: list[str]
    class_counts: dict[str, int]
    created_at: datetime


class DatasetsPublic(BaseModel):
    data: list[DatasetPublic]
    count: int


class BuiltinDatasetPublic(BaseModel):
    """A dataset every job may name without an upload (it is fetched or bundled)."""

    name: str = Field(description="What a job's `dataset` names it by.")
    image_shape: list[int] = Field(description="[height, width, channels], as jobs read it")
    num_classes: int


class BuiltinDatasetsPublic(BaseModel):
    data: list[BuiltinDatasetPublic]
    count: int


class UploadFormatPublic(BaseModel):
    """A file format POST /datasets (and POST /jobs with a file) reads."""

    name: str
    description: str = Field(description="The format in a few words, e.g. \".npz (arrays x, "
                             "y)\".")
    suffixes: list[str] = Field(
        description="The endings an uploaded file's name may have; empty for a format that "
        "is uploaded only inside another (an IDX pair inside a .zip).")


class UploadFormatsPublic(BaseModel):
    data: list[UploadFormatPublic] = Field(description="In the order the server tries them.")
    count: int
