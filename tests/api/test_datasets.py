"""Uploads: each format the engine reads is accepted; bad files get a 4xx that says what to fix
and leave nothing behind (no row, no file)."""

from __future__ import annotations

import io
import uuid
import zipfile

import numpy as np
import pytest
from sqlalchemy import func, select

from enas_core.data import is_canonical, load_canonical
from enas_core.data.formats import load_file_with_test
from enas_service import artifacts
from enas_service.models import Dataset
from tests.conftest import MAX_UPLOAD_BYTES, digits_arrays


def _stored(db_session) -> tuple[int, list]:
    rows = db_session.scalar(select(func.count()).select_from(Dataset))
    files = [p for p in artifacts.datasets_dir().rglob("*") if p.is_file()]
    leftovers = list(artifacts.tmp_dir().iterdir())
    return rows, files + leftovers


def _npz() -> bytes:
    x, y = digits_arrays(60)
    buf = io.BytesIO()
    np.savez(buf, x=x, y=y)
    return buf.getvalue()


def _csv() -> bytes:
    x, y = digits_arrays(60)
    lines = ["label," + ",".join(f"p{i}" for i in range(64))]
    lines += [
        f"{label}," + ",".join(map(str, img.ravel())) for img, label in zip(x, y, strict=True)
    ]
    return "\n".join(lines).encode()


def _zip_folders() -> bytes:
    from PIL import Image

    x, y = digits_arrays(40)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, (img, label) in enumerate(zip(x, y, strict=True)):
            png = io.BytesIO()
            Image.fromarray(img).save(png, format="PNG")
            zf.writestr(f"digits/{label}/{i}.png", png.getvalue())
    return buf.getvalue()


def _zip_idx() -> bytes:
    x, y = digits_arrays(60)
    images = b"\x00\x00\x08\x03" + np.array([len(x), 8, 8], ">i4").tobytes() + x.tobytes()
    labels = b"\x00\x00\x08\x01" + np.array([len(y)], ">i4").tobytes() + y.astype("u1").tobytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("train-images-idx3-ubyte", images)
        zf.writestr("train-labels-idx1-ubyte", labels)
    return buf.getvalue()


@pytest.mark.parametrize(
    "filename,make,samples",
    [
        ("digits.npz", _npz, 60),
        ("digits.csv", _csv, 60),
        ("folders.zip", _zip_folders, 40),
        ("idx.zip", _zip_idx, 60),
    ],
)
def test_upload_each_format(client, db_session, alice, filename, make, samples):
    response = client.post(
        "/datasets", files={"file": (filename, make())}, data={"name": "mine"}, headers=alice
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["num_samples"] == samples
    assert body["image_shape"] == [8, 8, 1]
    assert body["channels"] == 1
    assert body["name"] == "mine"
    assert sum(body["class_counts"].values()) == samples
    assert body["num_classes"] == len(body["classes"])
    assert response.headers["location"] == f"/datasets/{body['id']}"
    stored = artifacts.dataset_dir(body["id"]) / filename
    assert stored.is_file()
    # What jobs read: the validated data in the trusted form, parsed once at upload.
    row = db_session.get(Dataset, uuid.UUID(body["id"]))
    canonical = artifacts.absolute(row.path)
    assert canonical == artifacts.canonical_dataset(body["id"]) and is_canonical(canonical)
    train, test = load_canonical(canonical)
    expected, _ = load_file_with_test(stored)
    np.testing.assert_array_equal(train.x, expected.x)
    np.testing.assert_array_equal(train.y, expected.y)
    assert train.classes == expected.classes and test is None
    assert client.get(f"/datasets/{body['id']}", headers=alice).json() == body
    assert client.get("/datasets", headers=alice).json() == {"data": [body], "count": 1}


def test_delete_dataset(client, db_session, alice):
    dataset = client.post("/datasets", files={"file": ("d.npz", _npz())}, headers=alice).json()
    assert client.delete(f"/datasets/{dataset['id']}", headers=alice).status_code == 204
    assert client.get(f"/datasets/{dataset['id']}", headers=alice).status_code == 404
    assert _stored(db_session) == (0, [])


def test_delete_refused_while_a_job_uses_it(client, db_session, alice):
    dataset = client.post("/datasets", files={"file": ("d.npz", _npz())}, headers=alice).json()
    job = client.post("/jobs", json={"dataset": dataset["id"]}, headers=alice).json()
    response = client.delete(f"/datasets/{dataset['id']}", headers=alice)
    assert response.status_code == 409
    assert "cancel the job first" in response.json()["detail"]
    client.post(f"/jobs/{job['id']}/cancel", headers=alice)
    assert client.delete(f"/datasets/{dataset['id']}", headers=alice).status_code == 204
    assert client.get(f"/jobs/{job['id']}", headers=alice).json()["dataset"] == "(deleted)"


BAD_UPLOADS = [
    # (name, payload, status, words in the message)
    ("corrupt.npz", b"PK\x03\x04 this is not a zip", 422, "corrupt.npz"),
    ("noise.csv", b"a,b\nx,y\n1,2,3\n", 422, "noise.csv"),
    ("one-class.npz", None, 422, "only one class"),
    ("notes.txt", b"hello", 415, "unsupported file type"),
    ("image.png", b"\x89PNG\r\n\x1a\n", 415, "upload .npz"),
]


@pytest.mark.parametrize("filename,payload,status,words", BAD_UPLOADS)
def test_bad_uploads_leave_nothing(client, db_session, alice, filename, payload, status, words):
    if payload is None:
        buf = io.BytesIO()
        np.savez(buf, x=np.zeros((10, 8, 8), np.uint8), y=np.zeros(10, np.int64))
        payload = buf.getvalue()
    response = client.post("/datasets", files={"file": (filename, payload)}, headers=alice)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"]
    assert _stored(db_session) == (0, [])


def test_oversized_upload_is_413(client, db_session, alice):
    payload = b"\0" * (MAX_UPLOAD_BYTES + 1)
    response = client.post("/datasets", files={"file": ("big.npz", payload)}, headers=alice)
    assert response.status_code == 413
    assert "ENAS_MAX_UPLOAD_BYTES" in response.json()["detail"]
    assert _stored(db_session) == (0, [])


def test_oversized_upload_without_length_is_413(client, db_session, alice):
    """A chunked upload (no Content-Length) is cut off while streaming."""
    boundary = "b0undary"
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.npz\""
        "\r\n\r\n"
    ).encode()

    def body():
        yield head
        for _ in range(MAX_UPLOAD_BYTES // 65536 + 2):
            yield b"\0" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post(
        "/datasets",
        content=body(),
        headers={**alice, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413
    assert _stored(db_session) == (0, [])


def test_upload_needs_multipart_with_a_file(client, db_session, alice):
    response = client.post("/datasets", json={"file": "x"}, headers=alice)
    assert response.status_code == 415
    response = client.post("/datasets", data={"name": "x"}, files={"other": ("a.npz", b"")},
                           headers=alice)
    assert response.status_code == 422
    assert "'file'" in response.json()["detail"]
    assert _stored(db_session) == (0, [])


def test_unknown_dataset_is_404(client, alice):
    response = client.get("/datasets/6a1f2a9e-0000-4000-8000-000000000000", headers=alice)
    assert response.status_code == 404
    assert client.get("/datasets/not-a-uuid", headers=alice).status_code == 422


def test_the_server_lists_its_built_in_datasets(client, alice):
    """The dashboard and clients ask for the built-in datasets rather than keep a list."""
    assert client.get("/datasets/builtin").status_code == 401
    listed = client.get("/datasets/builtin", headers=alice).json()
    assert listed["count"] == 4
    by_name = {d["name"]: d for d in listed["data"]}
    assert list(by_name) == ["digits", "mnist", "fashion-mnist", "cifar10"]
    assert by_name["digits"] == {"name": "digits", "image_shape": [28, 28, 1], "num_classes": 10}
    assert by_name["cifar10"]["image_shape"] == [32, 32, 3]
    # and each is a `dataset` a job may name
    job = client.post("/jobs", json={"dataset": "fashion-mnist"}, headers=alice)
    assert job.status_code == 202 and job.json()["dataset"] == "fashion-mnist"


def test_the_server_lists_the_upload_formats_it_accepts(client, db_session, alice):
    assert client.get("/datasets/formats").status_code == 401
    listed = client.get("/datasets/formats", headers=alice).json()
    suffixes = {f["name"]: f["suffixes"] for f in listed["data"]}
    assert suffixes == {"npz": [".npz"], "idx": [], "csv": [".csv", ".csv.gz"], "zip": [".zip"]}
    assert listed["count"] == 4
    npz = next(f for f in listed["data"] if f["name"] == "npz")
    assert npz["description"] == ".npz (arrays x, y)"
    # a listed ending passes the 415 check (this .npz is then parsed); anything else is 415
    # and the message names the listed formats
    ok = client.post("/datasets", files={"file": ("d.npz", _npz())}, headers=alice)
    assert ok.status_code == 201, ok.text
    refused = client.post("/datasets", files={"file": ("d.txt", b"1,2")}, headers=alice)
    assert refused.status_code == 415
    assert npz["description"] in refused.json()["detail"]


def _arrays_npz(x: np.ndarray, y: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, x=x, y=y)
    return buf.getvalue()


UNTRAINABLE = [
    # (x, y, the message's words naming the limit)
    (np.zeros((20, 8, 8), np.uint8), np.arange(20),
     "class '0' has 1 sample (and 19 more classes); each class needs at least 2 (one to "
     "train on, one to validate it)"),
    (np.zeros((4, 8, 8, 20), np.uint8), np.arange(4) % 2,
     "the images have 20 channels; at most 16"),
    (np.zeros((2002, 4, 4), np.uint8), np.arange(2002) % 1001,
     "the data has 1001 classes; at most 1000"),
    (np.zeros((4, 600, 8), np.uint8), np.arange(4) % 2,
     "the images are 8x600 pixels; the networks train on at most 512 pixels a side"),
    (np.zeros((4, 8, 8), np.uint8), np.array(["a" * 101, "b", "a" * 101, "b"]),
     "is 101 characters long; at most 100"),
]


@pytest.mark.parametrize("x,y,words", UNTRAINABLE)
def test_datasets_no_search_can_train_on_are_422_naming_the_limit(client, db_session, alice,
                                                                  x, y, words):
    response = client.post("/datasets", files={"file": ("odd.npz", _arrays_npz(x, y))},
                           headers=alice)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("file: odd.npz: ")
    assert words in response.json()["detail"]
    assert _stored(db_session) == (0, [])


def test_the_listing_names_the_first_20_classes_of_each_dataset(client, alice):
    payload = _arrays_npz(np.zeros((60, 4, 4), np.uint8), np.arange(60) % 30)
    one = client.post("/datasets", files={"file": ("many.npz", payload)}, headers=alice).json()
    assert one["num_classes"] == 30 and len(one["classes"]) == len(one["class_counts"]) == 30
    listed = client.get("/datasets", headers=alice).json()["data"][0]
    assert listed["num_classes"] == 30
    assert listed["classes"] == one["classes"][:20]
    assert listed["class_counts"] == dict.fromkeys(one["classes"][:20], 2)
    assert client.get(f"/datasets/{one['id']}", headers=alice).json() == one
