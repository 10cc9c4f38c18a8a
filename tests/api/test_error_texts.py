"""Error texts say what to fix, in the user's terms."""

from __future__ import annotations

import io
import json
import math
import zipfile

import pytest

from enas_core.data import DatasetError
from enas_core.data.formats.idx import read_idx
from enas_core.options import OPTIONS, OptionError


def _idx_zip(images_head: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("train-images.idx3-ubyte", images_head + b"\0" * 16)
        z.writestr("train-labels.idx1-ubyte", b"\x00\x00\x08\x01\x00\x00\x00\x01\x01")
    return buf.getvalue()


@pytest.mark.parametrize("filename, payload, words", [
    ("mine.csv", b"label,p1\nx,1\n1,2\n",
     "mine.csv line 2, column 1 ('label'): 'x' is not a number"),
    ("mine.npz", b"PK\x03\x04garbage", "mine.npz is not a valid zip file"),
    ("mine.zip", _idx_zip(b"\x00\x01\x08\x03"),
     "train-images.idx3-ubyte is not an IDX file: bad magic number 0x00010803 (expected "
     "0x00000803 for images, 0x00000801 for labels"),
])
def test_upload_errors_name_the_users_file_not_the_temp_file(client, alice, filename, payload,
                                                             words):
    response = client.post("/datasets", files={"file": (filename, payload)}, headers=alice)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith(f"file: {filename}")
    assert words in detail
    assert "upload-" not in detail and "IDX IDX" not in detail


@pytest.mark.parametrize("what, expected", [
    ("images", "the IDX images file is not an IDX images file: bad magic number 0x01020304 "
               "(expected 0x00000803, as MNIST's images files have)"),
    ("labels", "the IDX labels file is not an IDX labels file: bad magic number 0x01020304 "
               "(expected 0x00000801, as MNIST's labels files have)"),
    ("IDX", "the IDX file is not an IDX file: bad magic number 0x01020304 (expected "
            "0x00000803 for images, 0x00000801 for labels, as MNIST's files have)"),
])
def test_idx_magic_numbers_in_messages(what, expected):
    with pytest.raises(DatasetError) as info:
        read_idx(b"\x01\x02\x03\x04" + b"\0" * 8, what=what)
    assert str(info.value) == expected


def test_cancelling_a_finished_job_says_so_in_english(client, alice):
    job = client.post("/jobs", json={"dataset": "digits"}, headers=alice).json()
    client.post(f"/jobs/{job['id']}/cancel", headers=alice)
    again = client.post(f"/jobs/{job['id']}/cancel", headers=alice)
    assert again.status_code == 409
    assert again.json()["detail"] == "the job was already cancelled; there is nothing to cancel"


def test_a_nan_learning_rate_must_be_finite(client, alice):
    response = client.post("/jobs", content=b'{"dataset": "digits", "search_lr": NaN}',
                           headers={**alice, "Content-Type": "application/json"})
    assert response.json()["detail"] == "search_lr: Input should be a finite number"
    with pytest.raises(OptionError, match="^must be a finite number, got nan$"):
        OPTIONS["search_lr"].check(math.nan)


def test_multipart_config_errors_name_the_field_as_json_bodies_do(client, alice, digits_npz):
    response = client.post(
        "/jobs", files={"file": ("digits.npz", digits_npz.read_bytes())},
        data={"config": json.dumps({"zzz": 1, "search_epochs": 0})}, headers=alice)
    assert response.status_code == 422
    problem = response.json()
    assert problem["detail"] == ("search_epochs: Input should be greater than or equal to 1; "
                                 "zzz: Extra inputs are not permitted")
    assert sorted(e["loc"] for e in problem["errors"]) == [
        ["form", "config", "search_epochs"], ["form", "config", "zzz"]]
