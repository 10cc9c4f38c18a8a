"""The trusted form a validated dataset is kept in: one .npz of plain arrays, written once
after a user's file was checked, and read back with `allow_pickle=False` and nothing parsed
again. The service stores each upload this way, and its workers read only this.

Arrays: `x` (N, H, W, C) uint8 or float32 in [0, 1], `y` (N,) int64 class codes, `classes`
(unicode), `name`, `format`, and `x_test`/`y_test` when the file held a test set.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from .dataset import DatasetError, ImageDataset

FORMAT = "enas-dataset/1"


# Bytes of a member besides its data, at most: the .npy header (padded to 64 or 128 bytes),
# the zip's local header and its central directory entry with a zip64 extra field.
_MEMBER_OVERHEAD = 512


def _arrays(train: ImageDataset, test: ImageDataset | None) -> dict[str, np.ndarray]:
    arrays = {"format": np.array(FORMAT), "name": np.array(train.name),
              "classes": np.array(train.classes), "x": train.x, "y": train.y}
    if test is not None:
        if test.classes != train.classes:
            raise DatasetError("the test set's classes differ from the training set's")
        arrays |= {"x_test": test.x, "y_test": test.y}
    return arrays


def canonical_size(train: ImageDataset, test: ImageDataset | None = None) -> int:
    """An upper bound of what `save_canonical` writes, known before it writes anything."""
    return sum(a.nbytes + _MEMBER_OVERHEAD for a in _arrays(train, test).values())


def save_canonical(path: str | Path, train: ImageDataset,
                   test: ImageDataset | None = None) -> Path:
    """Write `train` (and `test`) to `path` atomically."""
    path = Path(path)
    arrays = _arrays(train, test)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)
    return path


def is_canonical(path: str | Path) -> bool:
    """Whether `path` is a dataset written by `save_canonical`."""
    try:
        with zipfile.ZipFile(path) as zf:
            if "format.npy" not in zf.namelist():
                return False
        with np.load(path, allow_pickle=False) as npz:
            return str(npz["format"]) == FORMAT
    except (OSError, ValueError, zipfile.BadZipFile, KeyError):
        return False


def load_canonical(path: str | Path) -> tuple[ImageDataset, ImageDataset | None]:
    """(train, test or None) as `save_canonical` wrote them."""
    with np.load(path, allow_pickle=False) as npz:
        if str(npz["format"]) != FORMAT:
            raise DatasetError(f"{Path(path).name} is not a {FORMAT} file")
        classes = tuple(str(c) for c in npz["classes"])
        name = str(npz["name"])
        train = ImageDataset(npz["x"], npz["y"], classes, name)
        test = (ImageDataset(npz["x_test"], npz["y_test"], classes, name)
                if "x_test" in npz.files else None)
    return train, test
