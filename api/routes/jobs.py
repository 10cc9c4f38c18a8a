from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.deps import (
    LimitQuery,
    OffsetQuery,
    OwnerDep,
    SessionDep,
    SettingsDep,
    without_database,
)
from api.responses import json_bytes
from api.schemas import (
    ArchitecturePublic,
    ArchitecturesPublic,
    HistoryPublic,
    JobCreate,
    JobPublic,
    JobsPublic,
    ParetoPublic,
    Problem,
    SearchReportPublic,
)
from api.services import events, model_files, submission
from api.services import jobs as service
from api.services.errors import InvalidInput, UnsupportedMediaType
from api.uploads import Upload, ingest_upload, receive_upload
from enas_core.data.formats import describe as describe_formats
from enas_service import artifacts
from enas_service.models import JobStatus

router = APIRouter(prefix="/jobs", tags=["jobs"])

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Missing or invalid API key"},
    404: {"model": Problem, "description": "No such job (or not yours)"},
}
_JOB_SCHEMA = JobCreate.model_json_schema()
SUBMIT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": _JOB_SCHEMA,
                "examples": {
                    "quick": {"summary": "A quick search on a built-in dataset",
                              "value": {"dataset": "digits", "preset": "quick"}},
                    "custom": {"summary": "Every knob",
                               "value": _JOB_SCHEMA["examples"][1]},
                    "limits": {"summary": "The most accurate network within limits",
                               "value": _JOB_SCHEMA["examples"][2]},
                },
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary",
                                 "description": "The dataset: "
                                 + describe_formats(uploads_only=True)},
                        "config": {
                            "type": "string",
                            "description": "The JSON config as in application/json, without "
                            "`dataset` (the uploaded file is the dataset).",
                            "example": '{"preset": "quick", "search_epochs": 5}',
                        },
                    },
                }
            },
        },
    }
}


def _validate(data: Any, *, loc: tuple[str, ...]) -> JobCreate:
    try:
        return JobCreate.model_validate(data)
    except ValidationError as exc:
        errors = [{**e, "loc": (*loc, *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from exc


def _loads(raw: bytes | str) -> Any:
    """JSON, or ValueError saying why not (also for nesting too deep to parse: json's
    RecursionError was a 500)."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("it is nested too deeply") from None


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                           and media.endswith("+json"))


def _parse_json_body(raw: bytes) -> JobCreate:
    try:
        data = _loads(raw or b"null")
    except ValueError as exc:
        raise InvalidInput(f"the body is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise InvalidInput("send a JSON object, e.g. {\"dataset\": \"digits\"}")
    return _validate(data, loc=("body",))


def _parse_upload_config(upload: Upload) -> JobCreate:
    """The `config` field of a one-request submission (the uploaded file is the dataset)."""
    if upload.path is None:
        raise InvalidInput("send the dataset file in the multipart field 'file'", field="file")
    try:
        config = _loads(upload.fields.get("config") or "{}")
    except ValueError as exc:
        raise InvalidInput(f"not valid JSON ({exc})", field="config", loc="form") from exc
    if not isinstance(config, dict) or "dataset" in config:
        raise InvalidInput(
            "a JSON object without 'dataset' (the uploaded file is the dataset)",
            field="config",
            loc="form",
        )
    # A stand-in dataset for validation; the service puts the uploaded one's id in its place.
    return _validate({**config, "dataset": "digits"}, loc=("form", "config"))


@router.post(
    "",
    status_code=202,
    response_model=JobPublic,
    summary="Submit a search job",
    description="A JSON config naming a built-in or uploaded dataset, or one multipart request "
    "with the dataset file and the config. Answers 202 with the queued job and its Location. "
    "With an `Idempotency-Key` header a retried submission returns the same job.",
    openapi_extra=SUBMIT_BODY,
    responses={
        401: PROBLEMS[401],
        409: {"model": Problem, "description": "Idempotency-Key reused for another request"},
        413: {"model": Problem, "description": "Upload too large"},
        415: {"model": Problem, "description": "Unsupported content or file type"},
        422: {"model": Problem, "description": "Invalid config (names the field) or dataset"},
        429: {"model": Problem, "description": "You have the most queued jobs one owner may "
              "have (ENAS_MAX_QUEUED_JOBS_PER_OWNER); retry after Retry-After seconds",
              "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
        503: {"model": Problem, "description": "The job queue (broker) is unreachable, so the "
              "job was not started (a retry with the same Idempotency-Key submits it again), "
              "or the service is overloaded; retry after Retry-After seconds"},
    },
)
async def submit_job(
    request: Request,
    response: Response,
    session: SessionDep,
    owner: OwnerDep,
    settings: SettingsDep,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", min_length=1, max_length=255,
               description="Any unique string (1 to 255 characters); a retry with the same "
               "key returns the same job"),
    ] = None,
) -> JobPublic:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        async with without_database(session):
            upload = await receive_upload(
                request, file_field="file", max_bytes=settings.max_upload_bytes,
                tmp_dir=artifacts.tmp_dir(),
            )
        try:
            body = _parse_upload_config(upload)
            existing = await run_in_threadpool(
                submission.check_upload_submission, session, owner=owner, body=body,
                filename=upload.filename or "upload", idempotency_key=idempotency_key,
            )
            if existing is not None:
                job, created = existing, False
            else:
                dataset = await ingest_upload(session, upload, owner=owner, settings=settings)
                job, created = await run_in_threadpool(
                    submission.submit_job_with_upload, session, owner=owner, body=body,
                    dataset=dataset, idempotency_key=idempotency_key,
                )
        finally:
            upload.cleanup()
    elif _is_json(content_type):
        body = _parse_json_body(await request.body())  # read already: api.bodies
        job, created = await run_in_threadpool(
            submission.submit_job, session, owner=owner, body=body,
            idempotency_key=idempotency_key,
        )
    else:
        raise UnsupportedMediaType(
            f"the body is {content_type[:100] or 'without a Content-Type'}; send the config as "
            "application/json (curl: -H 'Content-Type: application/json'), or the dataset "
            "file and the config as multipart/form-data"
        )
    response.headers["Location"] = f"/jobs/{job.id}"
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return JobPublic.model_validate(job)


@router.get("", response_model=JobsPublic, summary="List your jobs, newest first",
            responses={401: PROBLEMS[401]})
def list_jobs(
    session: SessionDep,
    owner: OwnerDep,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status")] = None,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Response:
    return json_bytes(service.jobs_page_json(session, owner=owner, status=status, limit=limit,
                                             offset=offset))


@router.get("/{job_id}", response_model=JobPublic, summary="A job's status and progress",
            responses=PROBLEMS)
def get_job(job_id: uuid.UUID, session: SessionDep, owner: OwnerDep) -> Response:
    return json_bytes(service.job_json(session, owner=owner, job_id=job_id))


@router.get("/{job_id}/history", response_model=HistoryPublic,
            summary="One row per finished epoch", responses=PROBLEMS)
def get_history(job_id: uuid.UUID, session: SessionDep, owner: OwnerDep) -> HistoryPublic:
    rows = service.history(session, owner=owner, job_id=job_id)
    return HistoryPublic(data=rows, count=len(rows))


@router.get(
    "/{job_id}/architecture",
    response_model=ArchitecturePublic,
    summary="The best architecture (so far, while searching)",
    responses={**PROBLEMS, 409: {"model": Problem, "description": "None found yet"}},
)
def get_architecture(
    job_id: uuid.UUID, session: SessionDep, owner: OwnerDep
) -> ArchitecturePublic:
    return service.best_architecture(session, owner=owner, job_id=job_id)


@router.get(
    "/{job_id}/architecture.svg",
    summary="The best architecture (or the one of `rank`) as an SVG picture",
    description="Micro: the normal cell above the reduction cell, the two cell inputs, each "
    "node with the op on each incoming edge, the concatenated output. Macro: the layers "
    "with their skip connections. `rank` picks one of GET /jobs/{id}/architectures.",
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {}}, "description": "The picture"},
        **PROBLEMS,
        409: {"model": Problem, "description": "None found yet"},
    },
)
def get_architecture_svg(
    job_id: uuid.UUID,
    session: SessionDep,
    owner: OwnerDep,
    rank: Annotated[int | None, Query(ge=1, le=1000,
                                      description="1 is the best (default)")] = None,
) -> Response:
    svg = service.architecture_svg(session, owner=owner, job_id=job_id, rank=rank)
    return Response(svg, media_type="image/svg+xml")


@router.get("/{job_id}/architectures", response_model=ArchitecturesPublic,
            summary="The top-k architectures of the search", responses=PROBLEMS)
def get_architectures(
    job_id: uuid.UUID, session: SessionDep, owner: OwnerDep
) -> ArchitecturesPublic:
    rows = service.architectures(session, owner=owner, job_id=job_id)
    return ArchitecturesPublic(data=rows, count=len(rows))


@router.get(
    "/{job_id}/pareto",
    response_model=ParetoPublic,
    summary="The Pareto front of the search over (val_acc, params, latency)",
    description="Every architecture ranked on validation data that no other beats in all of "
    "val_acc (higher), params and predicted latency (lower), best val_acc first, with its "
    "costs, whether it is within the hard limits, and its score. There once the search has "
    "ended, also when no architecture met the hard limits (the job then failed).",
    responses={**PROBLEMS, 409: {"model": Problem, "description": "No front yet"}},
)
def get_pareto(job_id: uuid.UUID, session: SessionDep, owner: OwnerDep) -> ParetoPublic:
    return service.pareto(session, owner=owner, job_id=job_id)


@router.get(
    "/{job_id}/search-report",
    response_model=SearchReportPublic,
    summary="Did the search help? The controller's candidates against random ones",
    description="After the search, `num_candidates` architectures sampled from the trained "
    "controller and as many drawn uniformly from the space (within the hard limits) are "
    "ranked on the same validation data with the same shared weights. Both groups (mean, "
    "spread, best, top-k) and the difference of their means with a 95% bootstrap interval. "
    "For `strategy: random` there is no controller group. There once the search has ended.",
    responses={**PROBLEMS, 409: {"model": Problem, "description": "No report yet"}},
)
def get_search_report(job_id: uuid.UUID, session: SessionDep,
                      owner: OwnerDep) -> SearchReportPublic:
    return service.search_report(session, owner=owner, job_id=job_id)


@router.get(
    "/{job_id}/model",
    summary="Download the trained model",
    description="format=pt: the engine's checkpoint (enas_core.export.load_model; its input "
    "is normalised with the saved mean/std); torchscript (torch.jit.load) and onnx (input "
    "`image`, output `logits`, dynamic batch) take raw pixels in [0, 1], NCHW.",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The model file"},
        **PROBLEMS,
        409: {"model": Problem, "description": "The job has not succeeded"},
        501: {"model": Problem, "description": "The server's install lacks the exporter"},
    },
)
def get_model(
    job_id: uuid.UUID,
    session: SessionDep,
    owner: OwnerDep,
    format: Annotated[Literal[model_files.MODEL_FORMATS], Query()] = "pt",  # type: ignore[valid-type]
) -> FileResponse:
    path, filename = model_files.model_file(session, owner=owner, job_id=job_id,
                                            format=format)
    return FileResponse(path, media_type="application/octet-stream", filename=filename)


@router.get(
    "/{job_id}/events",
    summary="Follow a job: server-sent events",
    description="`event: epoch` with each finished epoch's metrics (the id is the history row, "
    "so a reconnect with Last-Event-ID continues), `event: status` when the status changes. "
    "The stream ends when the job succeeds, fails or is cancelled. "
    "`curl -N -H 'Authorization: Bearer $KEY' http://localhost:8000/jobs/$JOB/events`",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **PROBLEMS},
)
def job_events(
    job_id: uuid.UUID,
    session: SessionDep,
    owner: OwnerDep,
    settings: SettingsDep,
    last_event_id: Annotated[
        int,
        Header(alias="Last-Event-ID", ge=0, le=2**31 - 1,
               description="The id of the last event received: the stream continues after it"),
    ] = 0,
) -> StreamingResponse:
    job = service.get_job(session, owner=owner, job_id=job_id)
    return StreamingResponse(
        events.job_events(job.id, last_event_id=last_event_id, settings=settings),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/{job_id}/cancel",
    status_code=202,
    response_model=JobPublic,
    summary="Cancel a job (a running one stops within one training step)",
    responses={**PROBLEMS, 409: {"model": Problem, "description": "Already finished"}},
)
def cancel_job(job_id: uuid.UUID, session: SessionDep, owner: OwnerDep) -> JobPublic:
    return JobPublic.model_validate(service.cancel_job(session, owner=owner, job_id=job_id))


@router.post(
    "/{job_id}/retry",
    status_code=202,
    response_model=JobPublic,
    summary="Resume a failed or cancelled job from its last checkpoint",
    description="The job is queued again with its failure and lost-worker counts reset; it "
    "resumes from the last epoch it recorded (or starts over when it recorded none). At most "
    "ENAS_MAX_RETRIES times per job.",
    responses={**PROBLEMS, 409: {"model": Problem, "description": "Not failed or cancelled, "
                                 "its dataset was deleted, or out of retries"}},
)
def retry_job(job_id: uuid.UUID, session: SessionDep, owner: OwnerDep,
              response: Response) -> JobPublic:
    job = service.retry_job(session, owner=owner, job_id=job_id)
    response.headers["Location"] = f"/jobs/{job.id}"
    return JobPublic.model_validate(job)


@router.delete(
    "/{job_id}",
    status_code=204,
    summary="Delete a job and its files (refused while it runs)",
    responses={**PROBLEMS, 409: {"model": Problem, "description": "The job is running"}},
)
def delete_job(job_id: uuid.UUID, session: SessionDep, owner: OwnerDep) -> Response:
    service.delete_job(session, owner=owner, job_id=job_id)
    return Response(status_code=204)
