"""NumPy .npz: arrays `x` (images) and `y` (labels), or Keras' `x_train`/`y_train`, optionally
with `x_test`/`y_test`. Never unpickled: every member's header is checked first."""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path
from typing import IO

import numpy as np
from numpy.lib import format as npy_format

from ..dataset import DatasetError, ImageDataset, encode_labels
from .registry import CERTAIN, NAMED, NO, Loaded, UploadFormat, refuse, register
from .safety import ZIP_MAGICS, check_total_size, open_zip, stem


def load_npz(path: str | Path) -> Loaded:
    """An .npz with `x` and `y` (or Keras' `x_train`/`y_train`), optionally `x_test`/`y_test`."""
    path = Path(path)
    with open_zip(path) as zf:
        members = {m.filename.removesuffix(".npy"): m for m in zf.infolist()}
        check_total_size(list(members.values()), path.name)
        keys = set(members)
        xk, yk = ("x", "y") if {"x", "y"} <= keys else ("x_train", "y_train")
        if not {xk, yk} <= keys:
            raise DatasetError(
                f"{path.name} must hold arrays 'x' (images) and 'y' (labels); it holds "
                f"{sorted(keys)}. Save with np.savez(path, x=images, y=labels)"
            )
        x, y = (_npz_array(zf, members[k], k, path) for k in (xk, yk))
        if not {"x_test", "y_test"} <= keys:
            return ImageDataset.from_arrays(x, y, name=stem(path)), None
        xt, yt = (_npz_array(zf, members[k], k, path) for k in ("x_test", "y_test"))
    (codes, test_codes), classes = encode_labels(y, yt)
    train = ImageDataset.from_arrays(x, codes, classes=classes, name=stem(path))
    test = ImageDataset.from_arrays(xt, test_codes, classes=classes, name=stem(path))
    if test.image_shape != train.image_shape:
        raise DatasetError(
            f"x_test images are {test.image_shape} but x images are {train.image_shape}; "
            "train and test images must have the same shape"
        )
    return train, test


def _npz_array(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, path: Path) -> np.ndarray:
    """One .npy member, its header checked first: no pickles, and no shape claiming more data
    than the member holds (numpy would allocate the claimed size before reading)."""
    try:
        with zf.open(info) as f:
            shape, dtype = _read_header(f, key, path)
            if dtype.hasobject:
                raise DatasetError(
                    f"array {key!r} in {path.name} is an object (pickled) array, which is not "
                    "loaded for safety; save plain numeric arrays, e.g. "
                    "np.savez(path, x=x.astype(np.uint8), y=y.astype(np.int64))"
                )
            if math.prod(shape) * dtype.itemsize > info.file_size:
                raise ValueError(f"its header claims shape {shape} but the data is shorter")
        with zf.open(info) as f:
            return npy_format.read_array(f, allow_pickle=False)
    except DatasetError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise DatasetError(f"array {key!r} in {path.name} is corrupt ({exc})") from exc


def _read_header(f: IO[bytes], key: str, path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """An .npy member's shape and dtype. numpy parses the header as a Python literal: its
    errors quote it and the tokenizer (a tampered header showed them to the client, or was a
    500 when the tokenizer's own error came through): one plain message for all."""
    try:
        version = npy_format.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"unsupported .npy version {version}")
        read_header = (npy_format.read_array_header_1_0 if version == (1, 0)
                       else npy_format.read_array_header_2_0)
        shape, _, dtype = read_header(f)
    except Exception as exc:  # ValueError, SyntaxError, tokenize.TokenError (a 500), ...
        raise DatasetError(
            f"array {key!r} in {path.name} is corrupt: its .npy header cannot be read; save "
            "the arrays again with np.savez(path, x=images, y=labels)"
        ) from exc
    return shape, dtype


def _sniff(path: Path, head: bytes) -> int:
    if head[:4] in ZIP_MAGICS:
        if path.suffix.lower() == ".npz":
            return CERTAIN
        with open_zip(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
        return CERTAIN if names and all(n.endswith(".npy") for n in names) else NO
    return NAMED if path.suffix.lower() == ".npz" else NO


def _is_npy(path: Path, head: bytes) -> bool:
    return head[:6] == b"\x93NUMPY"


register(UploadFormat(
    name="npz", description=".npz (arrays x, y)", suffixes=(".npz",), sniff=_sniff,
    load=load_npz, rank=10,
))
refuse(_is_npy, lambda path: (
    f"{path.name} is a single .npy array; save images and labels together with "
    "np.savez(path, x=images, y=labels)"))
