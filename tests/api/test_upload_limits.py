"""Hostile uploads over HTTP: a zip bomb is 422 naming the member, a symbolic link 422, an
archive over ENAS_MAX_DECOMPRESSED_BYTES 413; nothing is stored."""

from __future__ import annotations

import io
import stat
import zipfile

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from enas_service import artifacts
from enas_service.models import Dataset
from enas_service.settings import get_settings

MiB = 1024**2


def _png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _zip(extra: zipfile.ZipInfo, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("cat/1.png", _png())
        zf.writestr("dog/1.png", _png())
        zf.writestr(extra, data)
    return buf.getvalue()


def _member(name: str, *, deflated: bool = False, mode: int = 0) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED if deflated else zipfile.ZIP_STORED
    if mode:
        info.create_system, info.external_attr = 3, mode << 16
    return info


def _nothing_stored(db_session) -> bool:
    rows = db_session.scalar(select(func.count()).select_from(Dataset))
    files = [p for p in artifacts.data_dir().rglob("*") if p.is_file()]
    return rows == 0 and files == []


@pytest.fixture
def upload(client, alice):
    def post(payload: bytes, name: str = "hostile.zip"):
        return client.post("/datasets", files={"file": (name, payload)}, headers=alice)

    return post


def test_a_zip_bomb_is_422_naming_the_member(upload, db_session):
    response = upload(_zip(_member("dog/bomb.png", deflated=True), bytes(40 * MiB)))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "dog/bomb.png in " in detail and "refused as a decompression bomb" in detail
    assert _nothing_stored(db_session)


def test_a_symbolic_link_member_is_422(upload, db_session):
    response = upload(_zip(_member("dog/2.png", mode=stat.S_IFLNK | 0o777), b"/etc/passwd"))
    assert response.status_code == 422, response.text
    assert "dog/2.png in " in response.json()["detail"]
    assert "is a symbolic link" in response.json()["detail"]
    assert _nothing_stored(db_session)


def test_an_archive_over_the_decompressed_limit_is_413(upload, db_session, monkeypatch):
    monkeypatch.setenv("ENAS_MAX_DECOMPRESSED_BYTES", str(MiB))
    get_settings.cache_clear()
    response = upload(_zip(_member("dog/2.png", deflated=True), bytes(2 * MiB)))
    assert response.status_code == 413, response.text
    detail = response.json()["detail"]
    assert "uncompresses to 2 MiB, more than the limit of 1 MiB" in detail
    assert detail.endswith("(ENAS_MAX_DECOMPRESSED_BYTES)")
    assert _nothing_stored(db_session)


@pytest.mark.parametrize("side", [1, 3])
def test_images_too_small_for_the_networks_are_422_with_the_minimum(upload, db_session, side):
    buf = io.BytesIO()
    np.savez(buf, x=np.zeros((40, side, side), np.uint8), y=np.arange(40) % 2)
    response = upload(buf.getvalue(), "tiny.npz")
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == (
        f"file: tiny.npz: the images are {side}x{side} pixels, too small for the networks, "
        "which halve the resolution 2 times: each side must be at least 4 pixels (upscale "
        "the images, e.g. to 28x28)")
    assert _nothing_stored(db_session)
