from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse

from api.deps import (
    LimitQuery,
    OffsetQuery,
    OwnerDep,
    SessionDep,
    SettingsDep,
    without_database,
)
from api.schemas import (
    PLAIN_TEXT_PATTERN,
    BuiltinDatasetsPublic,
    DatasetPublic,
    DatasetsPublic,
    Problem,
    UploadFormatsPublic,
)
from api.services import datasets as service
from api.uploads import ingest_upload, receive_upload
from enas_core.data import preview
from enas_core.data.formats import describe as describe_formats
from enas_service import artifacts

router = APIRouter(prefix="/datasets", tags=["datasets"])

PROBLEMS = {
    401: {"model": Problem, "description": "Missing or invalid API key"},
    404: {"model": Problem, "description": "No such dataset (or not yours)"},
}
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": describe_formats(uploads_only=True),
                        },
                        "name": {"type": "string", "maxLength": 200,
                                 "pattern": PLAIN_TEXT_PATTERN,
                                 "description": "A label for you (default: the file's name)."},
                    },
                },
                "encoding": {"file": {"contentType": "application/octet-stream"}},
            }
        },
    }
}


@router.post(
    "",
    status_code=201,
    response_model=DatasetPublic,
    summary="Upload a dataset",
    description="Validated with the engine's loaders, then stored. Example: "
    "`curl -H 'Authorization: Bearer $KEY' -F file=@digits.npz http://localhost:8000/datasets`",
    openapi_extra=UPLOAD_BODY,
    responses={
        **PROBLEMS,
        413: {"model": Problem, "description": "The file is over ENAS_MAX_UPLOAD_BYTES, "
              "decompresses or decodes to more than ENAS_MAX_DECOMPRESSED_BYTES or "
              "ENAS_MAX_DECODED_BYTES, or would pass your ENAS_MAX_STORAGE_BYTES_PER_OWNER"},
        415: {"model": Problem, "description": "Not a supported file type"},
        422: {"model": Problem, "description": "The file is corrupt, not a valid dataset, "
              "or one no search can train on (the message names the limit: image sides, "
              "channels, classes, samples per class)"},
    },
)
async def upload_dataset(
    request: Request, session: SessionDep, owner: OwnerDep, settings: SettingsDep,
    response: Response,
) -> DatasetPublic:
    async with without_database(session):
        upload = await receive_upload(
            request, file_field="file", max_bytes=settings.max_upload_bytes,
            tmp_dir=artifacts.tmp_dir(),
        )
    try:
        dataset = await ingest_upload(session, upload, owner=owner, settings=settings)
    finally:
        upload.cleanup()
    response.headers["Location"] = f"/datasets/{dataset.id}"
    return DatasetPublic.model_validate(dataset)


# A listing names the first classes of each dataset (as many as its sample grid shows), so a
# page's size does not grow with the datasets' classes; GET /datasets/{id} names them all.
LISTED_CLASSES = preview.MAX_CLASSES


def _listed(dataset: DatasetPublic) -> DatasetPublic:
    if len(dataset.classes) <= LISTED_CLASSES:
        return dataset
    classes = dataset.classes[:LISTED_CLASSES]
    counts = {c: dataset.class_counts[c] for c in classes if c in dataset.class_counts}
    return dataset.model_copy(update={"classes": classes, "class_counts": counts})


@router.get(
    "", response_model=DatasetsPublic, summary="List your datasets", responses=PROBLEMS,
    description=f"Newest first. Each names its first {LISTED_CLASSES} classes in `classes` "
    "and `class_counts` (`num_classes` counts them all; GET /datasets/{id} lists them all).",
)
def list_datasets(
    session: SessionDep,
    owner: OwnerDep,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> DatasetsPublic:
    rows, count = service.list_datasets(session, owner=owner, limit=limit, offset=offset)
    return DatasetsPublic(data=[_listed(DatasetPublic.model_validate(r)) for r in rows],
                          count=count)


# Before /{dataset_id}, which would take "builtin" for an id. Static lists, yet behind a key
# like every route but the health checks and the pages.
@router.get(
    "/builtin", response_model=BuiltinDatasetsPublic, summary="The built-in datasets",
    description="The datasets a job may name in `dataset` without an upload.",
    responses={401: PROBLEMS[401]},
)
def list_builtin_datasets(owner: OwnerDep) -> BuiltinDatasetsPublic:
    return service.builtin_datasets()


@router.get(
    "/formats", response_model=UploadFormatsPublic, summary="The file formats an upload may have",
    description="What POST /datasets (and POST /jobs with a file) reads: each format's "
    "description and the file name endings it accepts (anything else is a 415).",
    responses={401: PROBLEMS[401]},
)
def list_upload_formats(owner: OwnerDep) -> UploadFormatsPublic:
    return service.upload_formats()


@router.get(
    "/{dataset_id}", response_model=DatasetPublic, summary="One dataset", responses=PROBLEMS
)
def get_dataset(dataset_id: uuid.UUID, session: SessionDep, owner: OwnerDep) -> DatasetPublic:
    return DatasetPublic.model_validate(
        service.get_dataset(session, owner=owner, dataset_id=dataset_id)
    )


@router.get(
    "/{dataset_id}/samples.png",
    summary="A grid of sample images, one row per class",
    description="The first `per_class` images of each class (of the first 20 classes), each "
    "scaled to 40 pixels on its longer side, the class name at the start of each row: a PNG "
    "of at most 768 x 840 pixels.",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}}, "description": "The PNG"}, **PROBLEMS},
)
def get_samples(
    dataset_id: uuid.UUID,
    session: SessionDep,
    owner: OwnerDep,
    per_class: Annotated[int, Query(ge=1, le=16, description="Images per class")] = 8,
) -> FileResponse:
    path = service.sample_grid(session, owner=owner, dataset_id=dataset_id, per_class=per_class)
    return FileResponse(path, media_type="image/png",
                        headers={"Cache-Control": "private, max-age=3600"})


@router.delete(
    "/{dataset_id}",
    status_code=204,
    summary="Delete a dataset (refused while a queued or running job uses it)",
    responses={**PROBLEMS, 409: {"model": Problem, "description": "A job uses it"}},
)
def delete_dataset(dataset_id: uuid.UUID, session: SessionDep, owner: OwnerDep) -> Response:
    service.delete_dataset(session, owner=owner, dataset_id=dataset_id)
    return Response(status_code=204)
