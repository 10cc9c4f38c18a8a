"""Inputs that once answered 500 answer a 4xx naming what to fix, and store nothing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from api.deps import MAX_OFFSET
from enas_service import artifacts
from enas_service.models import Dataset, Job


def _count(db_session, model) -> int:
    return db_session.scalar(select(func.count()).select_from(model))


def _nothing_stored(db_session) -> bool:
    datasets = artifacts.datasets_dir()
    return (
        _count(db_session, Job) == 0 and _count(db_session, Dataset) == 0
        and (not datasets.exists() or not any(datasets.iterdir()))
        and not any(artifacts.tmp_dir().iterdir())
    )


@pytest.mark.parametrize("path", ["/jobs", "/datasets"])
def test_offset_and_limit_are_bounded(client, alice, path):
    for query, field in ((f"offset={2**63}", "offset"), (f"offset={MAX_OFFSET + 1}", "offset"),
                         ("offset=-1", "offset"), ("limit=501", "limit"), ("limit=0", "limit")):
        response = client.get(f"{path}?{query}", headers=alice)
        assert response.status_code == 422, (query, response.text)
        assert response.json()["detail"].startswith(f"{field}: ")
        assert response.headers["content-type"] == "application/problem+json"
    response = client.get(f"{path}?offset={MAX_OFFSET}&limit=500", headers=alice)
    assert response.status_code == 200
    assert response.json()["data"] == []


@pytest.mark.parametrize("key, words", [("", "at least 1 character"),
                                        ("k" * 256, "at most 255 characters")])
def test_an_empty_or_long_idempotency_key_is_422(client, db_session, alice, key, words):
    for _ in range(2):  # the second answered 500 once the first had stored an empty key
        response = client.post("/jobs", json={"dataset": "digits"},
                               headers={**alice, "Idempotency-Key": key})
        assert response.status_code == 422, response.text
        assert response.json()["detail"] == f"Idempotency-Key: String should have {words}"
    assert _count(db_session, Job) == 0
    # A key of 255 characters is taken.
    response = client.post("/jobs", json={"dataset": "digits"},
                           headers={**alice, "Idempotency-Key": "k" * 255})
    assert response.status_code == 202


@pytest.mark.parametrize("value, words", [(str(2**31), "less than or equal to 2147483647"),
                                          ("abc", "valid integer"), ("-1", "greater than")])
def test_a_bad_last_event_id_is_422(client, alice, value, words):
    job = client.post("/jobs", json={"dataset": "digits"}, headers=alice).json()
    response = client.get(f"/jobs/{job['id']}/events",
                          headers={**alice, "Last-Event-ID": value})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("Last-Event-ID: ")
    assert words in response.json()["detail"]


def test_the_largest_last_event_id_streams(client, alice):
    job = client.post("/jobs", json={"dataset": "digits"}, headers=alice).json()
    client.post(f"/jobs/{job['id']}/cancel", headers=alice)
    response = client.get(f"/jobs/{job['id']}/events",
                          headers={**alice, "Last-Event-ID": str(2**31 - 1)})
    assert response.status_code == 200
    # The stream reads through sessions of its own, outside the test's transaction: to it
    # the job is gone, and it says so and ends.
    assert response.text.startswith("event: status\n")


@pytest.mark.parametrize("field", ["name", "dataset", "preset", "mlflow_experiment"])
@pytest.mark.parametrize("bad, shown", [("a\x00b", "NUL"), ("two\nlines", "U+000A")])
def test_control_characters_in_a_string_field_are_422(client, db_session, alice, field, bad,
                                                      shown):
    body = {"dataset": "digits", field: bad}
    response = client.post("/jobs", json=body, headers=alice)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    if field == "preset":  # an enum: the answer lists what it takes
        assert detail.startswith("preset: Input should be 'quick', 'demo'"), detail
    else:
        assert detail == (f"{field}: must not contain control characters such as NUL or line "
                          f"breaks (found {shown})")
    assert _count(db_session, Job) == 0


def _multipart(filename: bytes, payload: bytes, name: str | None = None) -> tuple[bytes, str]:
    """A multipart body written by hand: httpx would escape a NUL in the file's name."""
    boundary = "enas-test-boundary"
    parts = []
    if name is not None:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\n'
                     f"{name}\r\n".encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="'.encode() + filename + b'"\r\n'
                 b"Content-Type: application/octet-stream\r\n\r\n" + payload + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("path", ["/datasets", "/jobs"])
@pytest.mark.parametrize("filename, name, field, words", [
    (b"x" * 300 + b".npz", None, "file", "the file's name is 304 characters long; at most 200"),
    (b"dig\x00its.npz", None, "file", "the file's name must not contain control characters"),
    (b"digits.npz", "n" * 201, "name", "the name is 201 characters long; at most 200"),
    (b"digits.npz", "a\x00b", "name", "the name must not contain control characters"),
])
def test_upload_names_are_bounded(client, db_session, alice, digits_npz, path, filename, name,
                                  field, words):
    body, content_type = _multipart(filename, digits_npz.read_bytes(), name)
    response = client.post(path, content=body, headers={**alice, "Content-Type": content_type})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["detail"].startswith(f"{field}: {words}")
    assert problem["errors"][0]["loc"] == ["form", field]
    assert _nothing_stored(db_session)


def test_concurrent_submissions_with_one_key_answer_the_one_job(live_url, live_keys):
    headers = {**live_keys["alice"], "Idempotency-Key": "concurrent-key-1"}

    def submit(_: int) -> httpx.Response:
        return httpx.post(f"{live_url}/jobs", json={"dataset": "digits", "name": "race"},
                          headers=headers, timeout=60)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(submit, range(8)))
    for job_id in {r.json().get("id") for r in responses} - {None}:  # the next tests count jobs
        httpx.delete(f"{live_url}/jobs/{job_id}", headers=headers, timeout=60)
    assert [r.status_code for r in responses] == [202] * 8, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 7


def test_concurrent_uploads_with_one_key_answer_the_one_job(live_url, live_keys, digits_npz):
    """The one-request submission: every answer is the one job (not a 409 for the dataset id
    each request stored), and the datasets of the requests that lost the race are removed."""
    headers = {**live_keys["bob"], "Idempotency-Key": "concurrent-upload-1"}
    payload = digits_npz.read_bytes()

    def datasets() -> int:
        return httpx.get(f"{live_url}/datasets", headers=headers, timeout=60).json()["count"]

    before = datasets()

    def submit(_: int) -> httpx.Response:
        return httpx.post(f"{live_url}/jobs", files={"file": ("digits.npz", payload)},
                          data={"config": '{"search_epochs": 1}'}, headers=headers, timeout=60)

    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(submit, range(4)))
    after = datasets()
    for job_id in {r.json().get("id") for r in responses} - {None}:
        job = httpx.get(f"{live_url}/jobs/{job_id}", headers=headers, timeout=60).json()
        httpx.delete(f"{live_url}/jobs/{job_id}", headers=headers, timeout=60)
        httpx.delete(f"{live_url}/datasets/{job['dataset_id']}", headers=headers, timeout=60)
    assert [r.status_code for r in responses] == [202] * 4, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert after == before + 1
