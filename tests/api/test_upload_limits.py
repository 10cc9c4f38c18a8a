"""Hostile uploads over HTTP: a zip bomb is 422 naming the member, a symbolic link 422, an
archive over ENAS_MAX_DECOMPRESSED_BYTES 413, images over the maximum side 422 and over
ENAS_MAX_DECODED_BYTES 413 from their headers; nothing is stored, and the parse's memory is
not the API process's."""

from __future__ import annotations

import gzip
import io
import os
import stat
import threading
import time
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


def _png_of(side: int, colour: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((side, side), colour, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _folders(per_class: int, png: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for cls in ("cat", "dog"):
            for i in range(per_class):
                zf.writestr(f"{cls}/{i}.png", png)
    return buf.getvalue()


def test_images_over_the_maximum_side_are_422_from_their_headers(upload, db_session):
    # Single-colour PNGs: a few hundred bytes each that would decode to megabytes.
    response = upload(_folders(3, _png_of(1000)), "big.zip")
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == (
        "file: big.zip: cat/0.png in big.zip is 1000x1000 pixels; the networks train on at "
        "most 512 pixels a side (the maximum image side): downscale the images")
    assert _nothing_stored(db_session)


def test_images_decoding_past_the_limit_are_413(upload, db_session, monkeypatch):
    monkeypatch.setenv("ENAS_MAX_DECODED_BYTES", str(MiB))
    get_settings.cache_clear()
    response = upload(_folders(10, _png_of(256)), "many.zip")  # 20 x 64 KiB of pixels
    assert response.status_code == 413, response.text
    assert response.json()["detail"] == (
        "many.zip decodes to 1.2 MiB of pixels, more than the limit of 1 MiB; use "
        "fewer or smaller images (ENAS_MAX_DECODED_BYTES)")
    assert _nothing_stored(db_session)


def test_size_bytes_is_what_the_dataset_stores(upload, db_session):
    payload = _folders(3, _png_of(32, 7))
    response = upload(payload, "small.zip")
    assert response.status_code == 201, response.text
    stored = sorted(artifacts.dataset_dir(response.json()["id"]).iterdir())
    assert [p.name for p in stored] == ["_canonical.npz", "small.zip"]
    # The file as uploaded and its validated copy (6 x 32 x 32 pixels and the labels).
    assert response.json()["size_bytes"] == sum(p.stat().st_size for p in stored)
    assert response.json()["size_bytes"] > len(payload) + 6 * 32 * 32


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads /proc")
def test_a_refused_upload_is_parsed_outside_the_api_process(upload, db_session, monkeypatch):
    """A .csv.gz that decompresses past the budget: the parse's memory is not the API
    process's (it was: 96 MiB more while it ran, and much of it kept after)."""
    monkeypatch.setenv("ENAS_MAX_DECOMPRESSED_BYTES", str(96 * MiB))
    get_settings.cache_clear()
    block = os.urandom(8192) + bytes(600_000)  # compresses about 70 times: not a bomb
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=1) as gz:
        for _ in range(170):  # 103 MB
            gz.write(block)
    payload = buf.getvalue()
    baseline, peak, done = _rss(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        response = upload(payload, "huge.csv.gz")
    finally:
        done.set()
        sampler.join()
    assert response.status_code == 413, response.text
    assert "more than the limit of 96 MiB" in response.json()["detail"]
    assert response.json()["detail"].endswith("(ENAS_MAX_DECOMPRESSED_BYTES)")
    assert peak[0] - baseline < 32 * MiB
    assert _nothing_stored(db_session)
