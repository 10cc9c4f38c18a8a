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
