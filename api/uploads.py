"""Streaming multipart parsing: the file part goes straight to a temp file under DATA_DIR with a
size cap (413 as soon as it is exceeded), small text fields are kept in memory. Everything read
is bounded as it arrives, chunked bodies too: the whole body, the text fields together, the
number of parts and each part's headers. `ingest_upload` then makes the file a dataset, holding
no database session while it waits for a parser or is parsed."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.concurrency import parsers
from api.deps import without_database
from api.schemas import plain_text_problem
from api.services import datasets
from api.services.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from enas_service.models import Dataset
from enas_service.settings import Settings

MAX_FIELD_BYTES = 1024 * 1024
MAX_FIELDS_BYTES = 1024 * 1024  # all text fields together (700 fields of 1 MB were read)
MAX_PARTS = 16
MAX_PART_HEADER_BYTES = 16 * 1024
MULTIPART_OVERHEAD = 64 * 1024
MAX_BOUNDARY = 256  # python-multipart's limit (RFC 2046 allows 70)
# The temp file keeps the upload's suffixes (the format is sniffed with them), only if plain.
_SAFE_SUFFIX = re.compile(r"(\.[A-Za-z0-9_-]{1,10}){1,2}")
# A 413 that leaves the rest of the body unread closes the connection (api.bodies).
_CLOSE = {"Connection": "close"}


@dataclass
class Upload:
    """The parsed request: at most one file (`path`, deleted by `cleanup`) and text fields."""

    fields: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    filename: str | None = None
    size: int = 0

    def cleanup(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB" if n >= 1024 * 1024 else f"{n} bytes"


async def receive_upload(
    request: Request, *, file_field: str, max_bytes: int, tmp_dir: Path
) -> Upload:
    """Parse a multipart/form-data request. On any error the temp file is already removed."""
    content_type, params = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise UnsupportedMediaType(
            f"send multipart/form-data with the file in the field {file_field!r}"
        )
    boundary = params[b"boundary"]
    if not 1 <= len(boundary) <= MAX_BOUNDARY:
        raise InvalidInput(
            f"the multipart boundary is {len(boundary)} characters; it must be 1 to "
            f"{MAX_BOUNDARY} (RFC 2046 recommends at most 70)"
        )
    max_body = max_bytes + MAX_FIELDS_BYTES + MULTIPART_OVERHEAD
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_body:
        raise PayloadTooLarge(
            f"the upload is {_mb(int(length))}; the limit is {_mb(max_bytes)} "
            "(ENAS_MAX_UPLOAD_BYTES)", headers=_CLOSE,
        )

    upload = Upload()
    events: list[tuple[str, bytes]] = []

    def _push(kind: str):
        return lambda data=b"", start=0, end=0: events.append((kind, data[start:end]))

    callbacks = {
        "on_part_begin": _push("begin"),
        "on_part_data": _push("data"),
        "on_part_end": _push("end"),
        "on_header_field": _push("hfield"),
        "on_header_value": _push("hvalue"),
        "on_header_end": _push("hend"),
        "on_headers_finished": _push("hdone"),
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    headers: dict[bytes, bytes] = {}
    hfield, hvalue = b"", b""
    header_bytes = 0
    part_name: str | None = None
    part_is_file = False
    field_buf = bytearray()
    fields_bytes = 0
    parts = 0
    received = 0
    fh = None
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_body:  # a chunked body has no Content-Length to check first
                raise PayloadTooLarge(
                    f"the upload is over the limit of {_mb(max_bytes)} (ENAS_MAX_UPLOAD_BYTES)",
                    headers=_CLOSE,
                )
            try:
                parser.write(chunk)
            except FormParserError as exc:
                raise InvalidInput(f"malformed multipart body: {exc}") from exc
            for kind, data in events:
                if kind == "begin":
                    parts += 1
                    if parts > MAX_PARTS:
                        raise InvalidInput(f"the multipart body has more than {MAX_PARTS} "
                                           "parts; send the file and the fields once each")
                    headers, hfield, hvalue, header_bytes = {}, b"", b"", 0
                elif kind in ("hfield", "hvalue"):
                    header_bytes += len(data)
                    if header_bytes > MAX_PART_HEADER_BYTES:
                        raise InvalidInput("a multipart part's headers are over "
                                           f"{MAX_PART_HEADER_BYTES // 1024} KB")
                    if kind == "hfield":
                        hfield += data
                    else:
                        hvalue += data
                elif kind == "hend":
                    headers[hfield.lower()] = hvalue
                    hfield, hvalue = b"", b""
                elif kind == "hdone":
                    _, disp = parse_options_header(headers.get(b"content-disposition", b""))
                    part_name = disp.get(b"name", b"").decode("utf-8", "replace")
                    filename = disp.get(b"filename")
                    part_is_file = filename is not None
                    field_buf = bytearray()
                    if part_is_file:
                        if part_name != file_field:
                            raise InvalidInput(
                                f"unexpected file field {part_name!r}; send the file as "
                                f"{file_field!r}"
                            )
                        if upload.path is not None:
                            raise InvalidInput(f"send one file in {file_field!r}, not several")
                        upload.filename = filename.decode("utf-8", "replace")
                        bad = plain_text_problem(upload.filename)
                        if bad:  # before the name makes a path (NUL: "embedded null byte")
                            raise InvalidInput(f"the file's name {bad}", field=file_field,
                                               loc="form")
                        suffix = "".join(Path(upload.filename).suffixes[-2:])
                        if not _SAFE_SUFFIX.fullmatch(suffix):
                            suffix = ""
                        upload.path = tmp_dir / f"upload-{uuid.uuid4().hex}{suffix}"
                        fh = open(upload.path, "wb")
                elif kind == "data":
                    if part_is_file:
                        upload.size += len(data)
                        if upload.size > max_bytes:
                            raise PayloadTooLarge(
                                f"the file is larger than the limit of {_mb(max_bytes)} "
                                "(ENAS_MAX_UPLOAD_BYTES)", headers=_CLOSE,
                            )
                        await run_in_threadpool(fh.write, data)  # type: ignore[union-attr]
                    else:
                        field_buf += data
                        fields_bytes += len(data)
                        if len(field_buf) > MAX_FIELD_BYTES:
                            raise PayloadTooLarge(f"the field {part_name!r} is over 1 MB",
                                                  headers=_CLOSE)
                        if fields_bytes > MAX_FIELDS_BYTES:
                            raise PayloadTooLarge(
                                "the text fields are over 1 MB together; send the file, "
                                "config and name once each", headers=_CLOSE)
                elif kind == "end":
                    if part_is_file and fh is not None:
                        fh.close()
                        fh = None
                    elif part_name:
                        upload.fields[part_name] = field_buf.decode("utf-8", "replace")
            events.clear()
        try:
            parser.finalize()
        except FormParserError as exc:
            raise InvalidInput(f"malformed multipart body: {exc}") from exc
    except BaseException:
        if fh is not None:
            fh.close()
        upload.cleanup()
        raise
    if fh is not None:
        fh.close()
    return upload


async def ingest_upload(
    session: Session, upload: Upload, *, owner: str, settings: Settings
) -> Dataset:
    """The uploaded file as a dataset, in three steps: the checks that need the database
    (names, type, the storage quota against the file's size) in the request's session; the
    parse (which waits for one of ENAS_UPLOAD_PARSERS, then takes seconds) with the session's
    transaction committed and its database slot given back, so that a burst of uploads
    cannot take every slot and make other tenants' requests 503; then the row, in a slot
    again, with the quota checked once more. What the parse wrote is removed if the dataset
    is not stored."""
    if upload.path is None:
        raise InvalidInput("send the dataset file in the multipart field 'file'", field="file")
    pending = await run_in_threadpool(
        datasets.prepare_upload, session, owner=owner, tmp_path=upload.path,
        filename=upload.filename or "upload", size=upload.size, name=upload.fields.get("name"),
    )
    try:
        async with without_database(session), parsers(settings):
            ingested = await run_in_threadpool(datasets.parse_upload, pending)
        return await run_in_threadpool(datasets.store_dataset, session, pending, ingested)
    except BaseException:
        pending.discard()
        raise
