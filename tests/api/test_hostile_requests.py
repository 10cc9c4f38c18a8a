"""Requests a hostile (or careless) client sends get a 4xx that says what to fix, or a 503
where the cause is ours, never a 500 (issue 18, items 5 and 7)."""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import time
import uuid
import zipfile

import numpy as np
import pytest

from tests.conftest import MAX_UPLOAD_BYTES

# A job id no test creates; fixed so that parallel runners (pytest-xdist) collect the same
# test ids in every worker.
NO_SUCH_JOB = uuid.UUID(int=1)

DEEP = 100_000  # nesting levels: json's parser raised RecursionError (a 500)


def _multipart(parts: list[tuple[bytes, bytes]], boundary: str = "hostile-boundary"
               ) -> tuple[bytes, dict[str, str]]:
    """A multipart body from raw (Content-Disposition parameters, content) pairs, so that a
    file name can hold any byte."""
    body = b"".join(
        b"--" + boundary.encode() + b"\r\nContent-Disposition: form-data; " + disposition
        + b"\r\n\r\n" + content + b"\r\n" for disposition, content in parts
    ) + b"--" + boundary.encode() + b"--\r\n"
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.fixture
def npz_bytes(digits_npz) -> bytes:
    return digits_npz.read_bytes()


# -- item 5: the seven 500s -------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    b"[" * DEEP + b"]" * DEEP,
    b'{"dataset": "digits", "name": ' + b"[" * DEEP + b"]" * DEEP + b"}",
])
def test_deeply_nested_json_is_422(client, alice, body):
    response = client.post("/jobs", content=body,
                           headers={**alice, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"] == "the body is not valid JSON (it is nested too deeply)"


def test_deeply_nested_config_of_an_upload_is_422_naming_config(client, alice, npz_bytes):
    body, headers = _multipart([(b'name="file"; filename="d.npz"', npz_bytes),
                                (b'name="config"', b"[" * DEEP + b"]" * DEEP)])
    response = client.post("/jobs", content=body, headers={**alice, **headers})
    assert response.status_code == 422
    assert response.json()["detail"] == "config: not valid JSON (it is nested too deeply)"


@pytest.mark.parametrize("field", ["name", "dataset", "preset", "mlflow_experiment"])
def test_a_lone_surrogate_in_a_text_field_is_422(client, alice, field):
    """`"\\ud800"` decodes to a string UTF-8 cannot encode: psycopg raised UnicodeEncodeError."""
    body = b'{"dataset": "digits", "' + field.encode() + b'": "ab\\ud800"}'
    response = client.post("/jobs", content=body,
                           headers={**alice, "Content-Type": "application/json"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith(f"{field}: must be valid Unicode text") and "lone surrogate" in detail


def test_a_lone_surrogate_in_a_key_is_422(client, alice):
    response = client.post("/jobs", content=b'{"dataset": "digits", "\\udfff": 1}',
                           headers={**alice, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "body: must be valid Unicode text (it holds a lone surrogate such as \\ud800; send "
        "characters outside the BMP as a surrogate pair)")


def test_a_problem_quoting_a_lone_surrogate_is_still_sent():
    """A detail that quotes the client's input could not be encoded as UTF-8 (a 500): the
    lone surrogate goes back as the JSON escape it came as."""
    import json

    from starlette.requests import Request

    from api.errors import problem

    request = Request({"type": "http", "path": "/jobs", "headers": [], "query_string": b""})
    response = problem(request, 422, "no dataset named '\udfff'")
    assert json.loads(response.body)["detail"] == "no dataset named '\udfff'"


def test_a_lone_surrogate_in_an_upload_config_is_422(client, alice, npz_bytes):
    body, headers = _multipart([(b'name="file"; filename="d.npz"', npz_bytes),
                                (b'name="config"', b'{"name": "\\ud800"}')])
    response = client.post("/jobs", content=body, headers={**alice, **headers})
    assert response.status_code == 422
    assert "name: must be valid Unicode text" in response.json()["detail"]


@pytest.mark.parametrize("filename", [b"d.n\x00pz", b"d\x00.npz", b"d.npz\x01"])
@pytest.mark.parametrize("path", ["/datasets", "/jobs"])
def test_a_control_character_in_an_upload_file_name_is_422(client, alice, npz_bytes,
                                                           filename, path):
    """The temp file was opened with the name's suffix before the name was checked:
    "embedded null byte" (a 500)."""
    body, headers = _multipart([(b'name="file"; filename="' + filename + b'"', npz_bytes)])
    response = client.post(path, content=body, headers={**alice, **headers})
    assert response.status_code == 422
    problem = response.json()
    assert problem["detail"].startswith("file: the file's name must not contain control")
    assert problem["errors"][0]["loc"] == ["form", "file"]


def test_an_odd_suffix_is_kept_out_of_the_temp_file_name(client, alice, npz_bytes):
    """Only a plain suffix goes into the temp file's name; the file is still sniffed."""
    body, headers = _multipart([(b'name="file"; filename="d.a b*c.npz"', npz_bytes)])
    response = client.post("/datasets", content=body, headers={**alice, **headers})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("length", [257, 5000])
def test_a_multipart_boundary_too_long_is_422(client, alice, npz_bytes, length):
    body, headers = _multipart([(b'name="file"; filename="d.npz"', npz_bytes)],
                               boundary="b" * length)
    response = client.post("/datasets", content=body, headers={**alice, **headers})
    assert response.status_code == 422
    assert response.json()["detail"] == (
        f"the multipart boundary is {length} characters; it must be 1 to 256 "
        "(RFC 2046 recommends at most 70)")


def test_a_database_connection_killed_mid_request_is_503_with_retry_after(service_env,
                                                                          live_keys):
    """Postgres ends the request's connection (a restart, a failover, an idle killer) after
    the request took it: 503 with Retry-After, not a 500 (OperationalError)."""
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    from api.deps import get_session
    from api.main import create_app
    from enas_service.db import get_engine, new_session

    def killed_session():
        session = new_session()
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        # Autocommit: in one transaction pg_stat_activity would show the same snapshot.
        with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            deadline = time.monotonic() + 30
            while other.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                                {"pid": pid}).scalar_one():
                assert time.monotonic() < deadline, "the backend did not end"
                time.sleep(0.05)
        try:
            yield session
        finally:
            session.close()

    app = create_app()
    app.dependency_overrides[get_session] = killed_session
    with TestClient(app, raise_server_exceptions=False) as http:
        response = http.get("/jobs", headers=live_keys["alice"])
        after = http.get("/jobs", headers={**live_keys["alice"]})
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.json()["detail"].startswith("the database connection was lost")
    assert after.status_code == 503  # each request of this override gets a killed one


# -- item 7: the smaller ones -----------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("PUT", "/jobs", "GET, POST"),
    ("DELETE", "/jobs", "GET, POST"),
    ("PATCH", f"/jobs/{NO_SUCH_JOB}", "DELETE, GET"),
    ("GET", f"/jobs/{NO_SUCH_JOB}/cancel", "POST"),
    ("POST", "/usage", "GET"),
    ("POST", "/static/dashboard/app.js", "GET, HEAD"),
])
def test_405_names_every_allowed_method(client, method, path, allowed):
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json()["detail"] == f"{method} is not allowed on {path}; use {allowed}"


@pytest.mark.parametrize("value", ["0.5", "1700000000", "-1", "12/01/2026"])
def test_usage_dates_must_be_iso_8601(client, alice, value):
    response = client.get("/usage", params={"until": value}, headers=alice)
    assert response.status_code == 422
    assert response.json()["detail"] == ("until: Input should be an ISO 8601 date or "
                                         "date-time, e.g. 2026-12-01 or 2026-12-01T08:00:00Z")


def test_usage_takes_iso_dates_and_date_times(client, alice):
    for value in ("2026-12-01", "2026-12-01T08:00:00Z", "2026-12-01T08:00:00+02:00"):
        response = client.get("/usage", params={"until": value}, headers=alice)
        assert response.status_code == 200, (value, response.text)


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("search_epochs", "7", "search_epochs: Input should be a valid integer (a JSON number, "
     "not a string)"),
    ("max_params", "250000", "max_params: Input should be a valid integer (a JSON number, "
     "not a string)"),
    ("search_lr", "0.1", "search_lr: Input should be a valid number (a JSON number, not a "
     "string)"),
    ("aux_head", "true", "aux_head: Input should be a valid boolean"),
    ("aux_head", 1, "aux_head: Input should be a valid boolean"),
])
def test_numbers_and_booleans_must_be_json_numbers_and_booleans(client, alice, field, value,
                                                                 expected):
    response = client.post("/jobs", json={"dataset": "digits", field: value}, headers=alice)
    assert response.status_code == 422
    assert response.json()["detail"] == expected


def test_json_numbers_of_either_form_are_taken(client, alice):
    """JSON has one kind of number: 1 for a float field, 1e9 (1000000000.0) for an integer."""
    response = client.post("/jobs", json={"dataset": "digits", "search_lr": 1,
                                          "max_flops": 1e9}, headers=alice)
    assert response.status_code == 202, response.text
    config = response.json()["config"]
    assert config["search"]["lr_max"] == 1.0
    assert config["search"]["constraints"]["max_flops"] == 1_000_000_000


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          None])
def test_a_json_submission_must_say_application_json(client, alice, content_type):
    headers = {**alice, **({"Content-Type": content_type} if content_type else {})}
    response = client.post("/jobs", content=b'{"dataset": "digits"}', headers=headers)
    assert response.status_code == 415
    detail = response.json()["detail"]
    assert detail.startswith(f"the body is {content_type or 'without a Content-Type'}; send "
                             "the config as application/json")


def test_a_json_media_type_with_parameters_or_suffix_is_json(client, alice):
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = client.post("/jobs", content=b'{"dataset": "digits"}',
                               headers={**alice, "Content-Type": content_type})
        assert response.status_code == 202, (content_type, response.text)


def _asgi_request(app, method: str, path: str, headers: dict[str, str],
                  messages: list[dict]) -> list[dict]:
    """One request straight into the ASGI app: `receive` gives `messages`, then waits
    forever; returns what the app sent."""
    sent: list[dict] = []

    async def run() -> None:
        queue = list(messages)

        async def receive() -> dict:
            if queue:
                return queue.pop(0)
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "server": ("app", 80),
            "client": ("127.0.0.1", 5000),
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }
        await asyncio.wait_for(app(scope, receive, send), 60)

    asyncio.run(run())
    return sent


@pytest.mark.parametrize("kind", ["upload", "json"])
def test_a_client_disconnect_is_logged_quietly(service_env, live_keys, caplog, kind):
    """A client that goes away mid-body is routine: no ERROR, no traceback (each one was
    logged as an unhandled error with its traceback)."""
    from api.main import create_app

    if kind == "upload":
        headers = {**live_keys["alice"], "Content-Type": "multipart/form-data; boundary=b",
                   "Content-Length": "100000"}
        path, first = "/datasets", b'--b\r\nContent-Disposition: form-data; name="file"; ' \
            b'filename="d.npz"\r\n\r\nPK'
    else:
        headers = {**live_keys["alice"], "Content-Type": "application/json",
                   "Content-Length": "100"}
        path, first = "/jobs", b'{"dataset":'
    caplog.set_level(logging.DEBUG)
    _asgi_request(create_app(), "POST", path, headers, [
        {"type": "http.request", "body": first, "more_body": True},
        {"type": "http.disconnect"},
    ])
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert loud == []
    assert any("client went away" in r.getMessage() for r in caplog.records)


def test_worker_reaper_help_says_it_starts_a_process():
    from launcher.cli import register

    parser = argparse.ArgumentParser(prog="enas")
    register(parser.add_subparsers(dest="command"))
    worker = parser._subparsers._group_actions[0].choices["worker"]  # type: ignore[union-attr]
    reaper = next(a for a in worker._actions if "--reaper" in a.option_strings)
    assert "process" in reaper.help and "thread" not in reaper.help


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _tampered_npz() -> bytes:
    """An .npz whose x.npy header is not a Python literal (its CRC is right)."""
    x = _npy(np.zeros((40, 8, 8), np.uint8))
    assert b"'fortran_order': False" in x
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("x.npy", x.replace(b"'fortran_order': False", b"'fortran_order': Fals)"))
        zf.writestr("y.npy", _npy(np.arange(40) % 2))
    return buf.getvalue()


def test_a_tampered_npz_header_is_a_plain_422(client, alice):
    """numpy's message quoted the header's Python literal and its parser."""
    response = client.post("/datasets", files={"file": ("t.npz", _tampered_npz())},
                           headers=alice)
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "file: t.npz: array 'x' in t.npz is corrupt: its .npy header cannot be read; save "
        "the arrays again with np.savez(path, x=images, y=labels)")
    assert len(_tampered_npz()) < MAX_UPLOAD_BYTES
