"""Hostile uploads: zip and gzip bombs, symbolic-link members and archives over the budget are
refused early, for what they are, naming the member; and parsing a bomb keeps the process's
memory within a fixed bound whatever the file claims (measured in a subprocess)."""

from __future__ import annotations

import gzip
import json
import stat
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from enas_core.data import DatasetError, load_file
from enas_core.data.formats import safety
from enas_core.data.formats.safety import DatasetTooLarge, DecompressionBomb, UnsafeMember

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024**2


def _png_member(zf: zipfile.ZipFile, name: str) -> None:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(buf, format="PNG")
    zf.writestr(name, buf.getvalue())


def zeros_member(zf: zipfile.ZipFile, name: str, size: int) -> None:
    """A member of `size` zero bytes, written a chunk at a time (deflate: about 1000:1)."""
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with zf.open(info, "w", force_zip64=True) as f:
        chunk = bytes(MiB)
        for _ in range(size // MiB):
            f.write(chunk)


def zip_bomb(path: Path, size: int, members: int = 2) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        _png_member(zf, "cat/1.png")
        for i in range(members):
            zeros_member(zf, f"dog/{i}.png", size)
    return path


def gzip_in_zip_bomb(path: Path, size: int) -> Path:
    """An MNIST-style IDX pair whose images file is a gzip of `size` zero pixels (header true)."""
    n = size // (28 * 28)
    stream = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
    parts = [stream.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", n, 28, 28))]
    chunk = bytes(MiB)
    for _ in range(n * 28 * 28 // MiB):
        parts.append(stream.compress(chunk))
    parts.append(stream.compress(bytes(n * 28 * 28 % MiB)) + stream.flush())
    labels = bytes([0, 0, 8, 1]) + struct.pack(">I", n) + bytes(n)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("train-images-idx3-ubyte.gz", b"".join(parts))
        zf.writestr("train-labels-idx1-ubyte", labels)
    return path


@pytest.fixture
def small_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ratios checked past 1 MiB, so that small bombs show it quickly."""
    monkeypatch.setattr(safety, "RATIO_CHECK_AFTER_BYTES", MiB)


def test_a_zip_bomb_is_refused_by_its_headers_naming_the_member(tmp_path, small_floor):
    path = zip_bomb(tmp_path / "bomb.zip", 4 * MiB, members=1)
    with pytest.raises(DecompressionBomb) as err:
        load_file(path)
    message = str(err.value)
    assert message.startswith("dog/0.png in bomb.zip expands ")
    assert "4 MiB or more" in message and "refused as a decompression bomb" in message


def test_a_gzip_inside_a_zip_is_refused_while_it_decompresses(tmp_path, small_floor):
    path = gzip_in_zip_bomb(tmp_path / "mnist.zip", 8 * MiB)
    with pytest.raises(DecompressionBomb) as err:
        load_file(path)
    assert str(err.value).startswith("train-images-idx3-ubyte.gz in mnist.zip expands ")


def test_a_gzip_bomb_csv_is_refused_while_it_decompresses(tmp_path, small_floor):
    path = tmp_path / "rows.csv.gz"
    path.write_bytes(gzip.compress(b"1," + b"0," * (4 * MiB) + b"0\n"))
    with pytest.raises(DecompressionBomb, match=r"^rows\.csv\.gz in rows\.csv\.gz expands"):
        load_file(path)


def test_a_symbolic_link_member_is_refused_as_such(tmp_path):
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as zf:
        _png_member(zf, "cat/1.png")
        _png_member(zf, "dog/1.png")
        link = zipfile.ZipInfo("dog/2.png")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(UnsafeMember, match=r"^dog/2\.png in link\.zip is a symbolic link"):
        load_file(path)


def test_an_archive_over_the_budget_is_too_large(tmp_path):
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        _png_member(zf, "cat/1.png")
        zf.writestr("dog/1.png", bytes(600_000))
    with safety.limited(500_000), pytest.raises(DatasetTooLarge) as err:
        load_file(path)
    assert str(err.value) == (
        "big.zip uncompresses to 586 KiB, more than the limit of 488 KiB; upload a smaller "
        "dataset")
    assert isinstance(err.value, DatasetError)


def test_real_data_passes_the_ratio_check(tmp_path):
    """Well-compressing real data (MNIST digits, savez_compressed) is under the ratio."""
    with np.load(ROOT / "enas_core" / "datasets" / "mnist-5k.npz") as d:
        x, y = d["x"], d["y"]
    path = tmp_path / "mnist.npz"
    np.savez_compressed(path, x=x, y=y)
    assert load_file(path).num_samples == len(x)


PARSE = """
import json, resource, sys
from enas_core.data import DatasetError
from enas_core.data.formats import load_file_with_test
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    load_file_with_test(sys.argv[1])
    error = None
except DatasetError as exc:
    error = f"{type(exc).__name__}: {exc}"
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grew_mib": (peak - base) / 1024, "error": error}))
"""


def parse_in_subprocess(path: Path) -> dict:
    """Parse `path` in a fresh interpreter: how far its peak RSS grew over its imports'."""
    out = subprocess.run([sys.executable, "-c", PARSE, str(path)], cwd=ROOT, check=True,
                         capture_output=True, text=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("bombs")
    return {"zip": zip_bomb(tmp / "bomb.zip", 256 * MiB),  # two 256 MiB members, 0.5 MB
            "gzip-in-zip": gzip_in_zip_bomb(tmp / "gz.zip", 256 * MiB)}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["zip", "gzip-in-zip"])
def test_parsing_a_bomb_keeps_memory_bounded(bombs, kind):
    """Before: a zip of two 1 GiB members took the parser from 0.78 to 2.84 GB; a gzip in a
    zip to 1.7 GB. Now the parser's peak grows by less than 200 MiB (the ratio check stops a
    gzip stream at 100x its compressed size)."""
    result = parse_in_subprocess(bombs[kind])
    assert result["error"].startswith("DecompressionBomb: ")
    assert result["grew_mib"] < 200, result
