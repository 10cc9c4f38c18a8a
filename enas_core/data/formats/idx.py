"""MNIST-style IDX files: an images file (N, H, W) and a labels file (N,), each gzipped or
raw; alone the labels file is looked for next to the images file (`train-labels-idx1-ubyte`
beside `train-images-idx3-ubyte`). Uploaded as a pair in a .zip (the zip format)."""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import struct
import zlib
from pathlib import Path
from typing import IO

import numpy as np

from ..dataset import DatasetError, ImageDataset
from . import safety
from .registry import CERTAIN, FITS, NO, Loaded, UploadFormat, get_format, refuse, register
from .safety import GZIP_MAGIC, ZIP_MAGICS, stem

# IDX type byte -> numpy dtype (big-endian, as the format stores multi-byte values).
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def load_idx(
    images: str | Path | bytes, labels: str | Path | bytes, *, name: str | None = None
) -> ImageDataset:
    """MNIST-style IDX images (N, H, W) and labels (N,), each gzipped or raw (paths or bytes)."""
    x_name, y_name = (_idx_label(s, what) for s, what in ((images, "images"), (labels, "labels")))
    x = read_idx(images, what="images", label=x_name)
    y = read_idx(labels, what="labels", label=y_name)
    if x.ndim not in (3, 4):
        raise DatasetError(f"{x_name} holds a {x.ndim}-D array {x.shape}; expected (N, H, W)")
    if y.ndim != 1:
        raise DatasetError(f"{y_name} holds shape {y.shape}; expected (N,)")
    if len(x) != len(y):
        raise DatasetError(f"{x_name} has {len(x)} images but {y_name} has {len(y)} labels")
    if name is None:
        name = stem(Path(images)) if isinstance(images, str | Path) else ""
    return ImageDataset.from_arrays(x, y, name=name)


def read_idx(
    source: str | Path | bytes,
    *,
    what: str = "IDX",
    label: str | None = None,
    budget: safety.Budget | None = None,
) -> np.ndarray:
    """One IDX array, validating the magic number, dimensions and data length. A gzipped one
    is decompressed through `budget` (its own when None), so a gzip bomb is refused early."""
    label = _idx_label(source, what) if label is None else label
    budget = budget or safety.Budget(label)
    with contextlib.ExitStack() as stack:
        raw: IO[bytes] = (
            io.BytesIO(source)
            if isinstance(source, bytes)
            else stack.enter_context(open(source, "rb"))
        )
        gzipped = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        stream: IO[bytes] | safety.MeteredReader = raw
        if gzipped:
            compressed = len(source) if isinstance(source, bytes) else Path(source).stat().st_size
            stream = safety.MeteredReader(stack.enter_context(gzip.GzipFile(fileobj=raw)),
                                          member=label, compressed=compressed, budget=budget)
        try:
            return _read_idx_stream(stream, label, what, budget.limit)
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetError(f"{label} is corrupt or truncated ({exc})") from exc


def _idx_label(source: str | Path | bytes, what: str) -> str:
    if isinstance(source, str | Path):
        return Path(source).name
    return "the IDX file" if what == "IDX" else f"the IDX {what} file"


def _read_idx_stream(
    stream: IO[bytes] | safety.MeteredReader, label: str, what: str, limit: int
) -> np.ndarray:
    header = stream.read(4)
    if not is_idx_magic(header):
        # MNIST's: 0x00000803 for images (unsigned bytes, 3 dimensions), 0x00000801 labels.
        expected = {"images": "0x00000803, as MNIST's images files have",
                    "labels": "0x00000801, as MNIST's labels files have"}.get(
            what, "0x00000803 for images, 0x00000801 for labels, as MNIST's files have")
        kind = "an IDX file" if what == "IDX" else f"an IDX {what} file"
        raise DatasetError(
            f"{label} is not {kind}: bad magic number 0x{header.hex()} (expected {expected})"
        )
    dtype = np.dtype(IDX_DTYPES[header[2]])
    ndim = header[3]
    raw_dims = stream.read(4 * ndim)
    if len(raw_dims) != 4 * ndim:
        raise DatasetError(f"{label} is truncated inside its header")
    dims = struct.unpack(f">{ndim}I", raw_dims)
    nbytes = math.prod(dims) * dtype.itemsize
    if nbytes > limit:
        raise safety.DatasetTooLarge(
            f"{label} declares {nbytes} bytes of data, more than the limit of {limit}"
        )
    # Grown chunk by chunk, so a header claiming gigabytes over a tiny file costs nothing;
    # a bytearray is writable, so torch can later share it without a copy.
    buf = bytearray()
    while len(buf) < nbytes:
        chunk = stream.read(min(1 << 24, nbytes - len(buf)))
        if not chunk:
            break
        buf += chunk
    got = len(buf)
    if got != nbytes:
        raise DatasetError(
            f"{label} is truncated: its header declares shape {dims} ({nbytes} bytes) but "
            f"only {got} bytes follow"
        )
    if stream.read(1):
        raise DatasetError(f"{label} has data beyond the shape {dims} its header declares")
    arr = np.frombuffer(buf, dtype=dtype).reshape(dims)
    return arr if dtype.itemsize == 1 else arr.astype(dtype.newbyteorder("="))


def is_idx_magic(head: bytes) -> bool:
    return len(head) >= 4 and head[:2] == b"\0\0" and head[2] in IDX_DTYPES and head[3] >= 1


def _sibling_labels(images: Path) -> Path:
    """train-images-idx3-ubyte(.gz) -> train-labels-idx1-ubyte(.gz) next to it."""
    name = images.name.replace("images", "labels").replace("idx3", "idx1")
    labels = images.with_name(name)
    if name == images.name or not labels.is_file():
        raise DatasetError(
            f"{images.name} is one IDX file; its labels file was not found next to it "
            f"(looked for {name}). Give both: load_idx(images_path, labels_path), or upload "
            "a zip holding the images and labels IDX files"
        )
    return labels


def _load(path: Path) -> Loaded:
    with open(path, "rb") as f:
        zipped = f.read(4) in ZIP_MAGICS
    if zipped:  # an IDX pair in a zip
        return get_format("zip").load(path)
    return load_idx(path, _sibling_labels(path)), None


def _is_tar(path: Path, head: bytes) -> bool:
    return head[:2] == GZIP_MAGIC and path.name.lower().endswith((".tar.gz", ".tgz"))


def _sniff(path: Path, head: bytes) -> int:
    if is_idx_magic(head):
        return CERTAIN
    if head[:2] == GZIP_MAGIC and not path.name.lower().endswith(".csv.gz"):
        return FITS
    return NO


register(UploadFormat(
    name="idx", description="IDX files (MNIST style, optionally gzipped; upload the pair in a "
    ".zip)", suffixes=(), sniff=_sniff, load=_load, rank=20,
))
refuse(_is_tar, lambda path: (
    f"{path.name} is a tar archive, which is not supported; pack the files in a .zip instead "
    "(class folders of images, or an images and a labels IDX file)"))
