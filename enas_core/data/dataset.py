"""The in-memory image dataset every loader produces, and the checks that guard it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


class DatasetError(ValueError):
    """A dataset could not be loaded or is malformed; the message says what to fix."""


@dataclass(frozen=True, eq=False, repr=False)
class ImageDataset:
    """Images `x` (N, H, W, C) as uint8 0..255 or float32 0..1, labels `y` (N,) int64.

    Build one from arbitrary user arrays with `ImageDataset.from_arrays`, which converts and
    validates; the constructor only checks the invariants (it is also used for cheap subsets).
    """

    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
        x, y = self.x, self.y
        if not isinstance(x, np.ndarray) or x.ndim != 4:
            raise DatasetError(f"x must be a numpy array of shape (N, H, W, C); got {_shape_of(x)}")
        if x.dtype not in (np.uint8, np.float32):
            raise DatasetError(f"x must be uint8 or float32, got {x.dtype}")
        if not isinstance(y, np.ndarray) or y.ndim != 1 or y.dtype != np.int64:
            raise DatasetError(f"y must be an int64 array of shape (N,); got {_shape_of(y)}")
        if len(x) != len(y):
            raise DatasetError(f"x has {len(x)} samples but y has {len(y)}; they must match")
        if not self.classes:
            raise DatasetError("classes must name at least one class")
        if len(y) and (y.min() < 0 or y.max() >= len(self.classes)):
            raise DatasetError(
                f"labels must be in 0..{len(self.classes) - 1} (one per class name); "
                f"got {int(y.min())}..{int(y.max())}"
            )

    @classmethod
    def from_arrays(
        cls,
        x: Any,
        y: Any,
        *,
        classes: Sequence[str] | None = None,
        name: str = "",
    ) -> ImageDataset:
        """Convert and validate user arrays.

        x: (N, H, W) or (N, H, W, C) (also (N, C, H, W) with C in {1, 3}); uint8 or any
        integer type within 0..255, or float in [0, 1] or [0, 255] (stored as float32 in
        [0, 1]). y: integer-valued labels (or strings); without `classes` they are remapped to
        0..K-1 and their original values become the class names. With `classes`, y must
        already index into it.
        """
        images = to_images(x)
        if classes is None:
            (labels,), classes = encode_labels(y)
        else:
            labels = _as_label_codes(y, len(classes))
        if len(images) != len(labels):
            raise DatasetError(
                f"x has {len(images)} samples but y has {len(labels)}; each image needs one label"
            )
        present = np.unique(labels)
        if len(present) < 2:
            raise DatasetError(
                f"the data has only one class ({classes[int(present[0])]!r}); a classifier "
                "needs at least two classes with samples"
            )
        return cls(images, labels, tuple(classes), name)

    @property
    def num_samples(self) -> int:
        return len(self.y)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        _, h, w, c = self.x.shape
        return (h, w, c)

    @property
    def channels(self) -> int:
        return int(self.x.shape[3])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.y, minlength=self.num_classes)
        return {name: int(n) for name, n in zip(self.classes, counts, strict=True)}

    def summary(self) -> dict[str, Any]:
        """A JSON-safe description (for job records and the API)."""
        return {
            "name": self.name,
            "num_samples": self.num_samples,
            "image_shape": list(self.image_shape),
            "channels": self.channels,
            "num_classes": self.num_classes,
            "classes": list(self.classes),
            "class_counts": self.class_counts(),
        }

    def subset(self, indices: Any, name: str | None = None) -> ImageDataset:
        """The samples at `indices` (ints or a boolean mask), classes unchanged."""
        idx = np.asarray(indices)
        if idx.dtype != np.bool_:
            idx = idx.astype(np.int64, copy=False)
        return ImageDataset(
            self.x[idx], self.y[idx], self.classes, self.name if name is None else name
        )

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self) -> str:
        return (
            f"ImageDataset(name={self.name!r}, num_samples={self.num_samples}, "
            f"image_shape={self.image_shape}, dtype={self.x.dtype}, classes={self.num_classes})"
        )


def to_images(x: Any) -> np.ndarray:
    """User pixels -> (N, H, W, C) uint8 or float32 in [0, 1], with a clear error otherwise."""
    x = np.asarray(x)
    if x.dtype == object or x.dtype.kind not in "biuf":
        raise DatasetError(f"x must hold numbers (uint8 0..255 or float 0..1); got dtype {x.dtype}")
    if x.ndim == 3:
        x = x[..., np.newaxis]
    elif x.ndim == 4 and x.shape[1] in (1, 3) and x.shape[3] not in (1, 3):
        # PyTorch-style (N, C, H, W): read as NHWC it would silently train on garbage.
        x = x.transpose(0, 2, 3, 1)
    elif x.ndim != 4:
        raise DatasetError(f"x must have shape (N,H,W) or (N,H,W,C); got {x.shape}")
    if x.shape[0] == 0:
        raise DatasetError("the data has no samples (x has length 0)")
    if 0 in x.shape[1:]:
        raise DatasetError(
            f"images have zero size: x has shape {x.shape}; height, width and channels "
            "must all be at least 1"
        )
    if x.dtype == np.bool_:
        raise DatasetError("x is boolean; store pixels as uint8 0..255 or float 0..1")
    if x.dtype == np.uint8:
        return np.ascontiguousarray(x)
    lo, hi = x.min(), x.max()
    if x.dtype.kind in "iu":
        if lo < 0 or hi > 255:
            raise DatasetError(f"integer pixel values must be in 0..255; got {int(lo)}..{int(hi)}")
        return np.ascontiguousarray(x, dtype=np.uint8)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise DatasetError("x contains NaN or infinite values")
    if lo < 0 or hi > 255:
        raise DatasetError(
            f"float pixel values must be in [0, 1] or [0, 255]; got {float(lo):g}..{float(hi):g}."
            " Save raw (unnormalised) pixels; the loader normalises them"
        )
    x = x.astype(np.float32)
    if hi > 1:
        x /= 255.0
    return x


def encode_labels(*ys: Any) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """Map labels (of one or more arrays sharing a label space) to 0..K-1.

    Integer labels keep their values as class names ("3", "7", "9" -> 0, 1, 2); string labels
    become sorted class names.
    """
    arrays = [_label_array(y) for y in ys]
    joined = np.concatenate(arrays)
    values = np.unique(joined)
    codes = [np.searchsorted(values, a).astype(np.int64) for a in arrays]
    return codes, tuple(str(v) for v in values)


def _label_array(y: Any) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:  # (N, 1) as Keras saves CIFAR labels
        y = y[:, 0]
    if y.ndim != 1:
        raise DatasetError(f"y must have shape (N,) (one label per image); got {y.shape}")
    if y.dtype.kind in "US":
        return y.astype(str)
    if y.dtype == object or y.dtype.kind not in "biuf":
        raise DatasetError(f"labels must be integers; got dtype {y.dtype}")
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.round(y))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DatasetError(
                f"labels must be integers; y[{i}] is {float(y[i]):g}. Use integer class ids"
            )
    return y.astype(np.int64)


def _as_label_codes(y: Any, num_classes: int) -> np.ndarray:
    y = _label_array(y)
    if y.dtype.kind in "US":
        raise DatasetError("labels must be integer class indices when classes are given")
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise DatasetError(
            f"labels must be in 0..{num_classes - 1}; got {int(y.min())}..{int(y.max())}"
        )
    return y


def _shape_of(a: Any) -> str:
    shape = getattr(a, "shape", None)
    return str(shape) if shape is not None else type(a).__name__
