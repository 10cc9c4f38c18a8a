"""A .zip of class folders of images (one folder per class, PNG/JPEG/... of one size), or of
an MNIST-style IDX pair (an images and a labels file). Members are read in memory, never
extracted; image decoding is capped in pixels."""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ...layout import MAX_IMAGE_SIDE
from ..dataset import DatasetError, ImageDataset
from . import safety
from .idx import read_idx
from .registry import CERTAIN, NAMED, NO, UploadFormat, register
from .safety import (
    ZIP_MAGICS,
    Budget,
    check_total_size,
    is_junk,
    member_reader,
    open_zip,
    safe_members,
    stem,
)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def load_zip(path: Path) -> ImageDataset:
    """A zip of class folders of images, or of one images and one labels IDX file."""
    with open_zip(path) as zf:
        members = safe_members(zf, path.name)
        check_total_size(members, path.name)
        budget = Budget(path.name)  # every member's bytes count against one limit
        files = [m for m in members if not m.is_dir()]
        non_images = [m for m in files if not m.filename.lower().endswith(IMAGE_EXTENSIONS)]
        if len(files) == 2 and len(non_images) == 2:
            return _load_zip_idx(zf, files, path, budget)
        readers = {m.filename: member_reader(zf, m, budget) for m in files}
        dirs = [m.filename for m in members if m.is_dir()]
        return load_image_folders(readers, dirs, name=stem(path), source=path.name)


def _load_zip_idx(
    zf: zipfile.ZipFile, files: list[zipfile.ZipInfo], path: Path, budget: Budget
) -> ImageDataset:
    arrays = {
        m.filename: read_idx(member_reader(zf, m, budget)(), label=m.filename, budget=budget)
        for m in files
    }
    by_ndim = sorted(arrays.items(), key=lambda item: item[1].ndim)
    (labels_name, y), (images_name, x) = by_ndim
    if y.ndim != 1 or x.ndim not in (3, 4):
        raise DatasetError(
            f"{path.name} must hold one images IDX file (N, H, W) and one labels IDX file "
            f"(N,); found {images_name} {x.shape} and {labels_name} {y.shape}"
        )
    if len(x) != len(y):
        raise DatasetError(
            f"{images_name} has {len(x)} images but {labels_name} has {len(y)} labels"
        )
    return ImageDataset.from_arrays(x, y, name=stem(path))


def load_image_folders(
    files: Mapping[str, Callable[[], bytes]],
    dirs: Sequence[str] = (),
    *,
    name: str = "",
    source: str = "the archive",
) -> ImageDataset:
    """Images under one folder per class (`class/img.png`, or `wrapper/class/img.png`).

    `files` maps a relative path to a callable returning its bytes; `dirs` lists folders, so
    an empty class folder is reported rather than silently dropped. Files that are not images
    (a README) are ignored. Classes sort by name, like torchvision's ImageFolder.
    """
    paths = [p for p in files if not is_junk(p)]
    images = [p for p in paths if p.lower().endswith(IMAGE_EXTENSIONS)]
    # Every folder mentioned, as a tuple of parts: listed ones and those holding any file.
    folders = {tuple(d.strip("/").split("/")) for d in dirs if d.strip("/") and not is_junk(d)}
    folders |= {tuple(p.split("/")[:-1]) for p in paths if "/" in p}
    parts = [p.split("/") for p in images]
    # A single top-level wrapper folder ("digits/0/a.png") is dropped.
    if parts and len({p[0] for p in parts}) == 1 and all(len(p) >= 3 for p in parts):
        parts = [p[1:] for p in parts]
        folders = {f[1:] for f in folders if f[0] == images[0].split("/")[0]}
    loose = [p for p, pp in zip(images, parts, strict=True) if len(pp) < 2]
    if loose:
        raise DatasetError(
            f"{loose[0]} in {source} is not inside a class folder; put the images of each "
            "class in a folder named after the class (e.g. cat/001.png, dog/001.png)"
        )
    by_class: dict[str, list[str]] = {f[0]: [] for f in folders if f}
    for path, pp in zip(images, parts, strict=True):
        by_class.setdefault(pp[0], []).append(path)
    empty = sorted(c for c, members in by_class.items() if not members)
    if empty:
        raise DatasetError(
            f"class folder {empty[0]!r} in {source} holds no images "
            f"({', '.join(IMAGE_EXTENSIONS)}); add images to it or remove it"
        )
    if len(by_class) < 2:
        raise DatasetError(
            f"{source} has {len(by_class)} class folder(s) of images; a classifier needs at "
            "least two (one folder per class, e.g. cat/001.png, dog/001.png)"
        )
    classes = sorted(by_class)
    order = [(label, path) for label, cls in enumerate(classes) for path in sorted(by_class[cls])]
    # Decoded straight into one array (no list of images stacked into a copy), its size
    # checked before it is allocated: each image's header is read before its pixels.
    x: np.ndarray | None = None
    first = ""
    for i, (_, path) in enumerate(order):
        img = _decode_image(files[path](), path, source)
        if x is None:
            first = path
            safety.check_decoded(len(order) * img.nbytes, source)
            x = np.empty((len(order), *img.shape), np.uint8)
        elif img.shape[:2] != x.shape[1:3]:
            h, w = img.shape[:2]
            h0, w0 = x.shape[1:3]
            raise DatasetError(
                f"{path} is {w}x{h} pixels but {first} is {w0}x{h0}; all images must "
                "have the same size. Resize them to one size"
            )
        if img.ndim == 3 and x.ndim == 3:  # the first colour image: all become RGB
            safety.check_decoded(len(order) * img.nbytes, source)
            x = np.repeat(x[..., None], 3, axis=3)
        elif img.ndim == 2 and x.ndim == 4:
            img = np.repeat(img[..., None], 3, axis=2)
        x[i] = img
    assert x is not None  # two classes, none empty
    labels = np.asarray([label for label, _ in order])
    return ImageDataset.from_arrays(x, labels, classes=classes, name=name)


def _decode_image(data: bytes, path: str, source: str) -> np.ndarray:
    """Grayscale (L) -> (H, W); any other mode -> RGB (H, W, 3). Pixel count capped."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                w, h = img.size  # from the header: nothing is decoded yet
                cap = safety.MAX_IMAGE_PIXELS
                if w * h > cap:
                    raise DatasetError(
                        f"{path} in {source} is {w}x{h}, more than {cap} pixels; "
                        "downscale the images"
                    )
                if max(w, h) > MAX_IMAGE_SIDE:
                    raise DatasetError(
                        f"{path} in {source} is {w}x{h} pixels; the networks train on at most "
                        f"{MAX_IMAGE_SIDE} pixels a side (the maximum image side): downscale "
                        "the images"
                    )
                img = img if img.mode == "L" else img.convert("RGB")
                return np.asarray(img, dtype=np.uint8)
    except DatasetError:
        raise
    except UnidentifiedImageError as exc:
        raise DatasetError(
            f"cannot read image {path} in {source}: not a valid image file (corrupt, or not "
            "PNG/JPEG); remove or replace it"
        ) from exc
    except (
        OSError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise DatasetError(f"cannot read image {path} in {source}: {exc}") from exc


def _sniff(path: Path, head: bytes) -> int:
    if head[:4] in ZIP_MAGICS:
        return CERTAIN  # the npz format claims zips of .npy arrays first (it ranks higher)
    return NAMED if path.suffix.lower() == ".zip" else NO


register(UploadFormat(
    name="zip", description=".zip (class folders of images, or an MNIST-style IDX pair)",
    suffixes=(".zip",), sniff=_sniff, load=lambda path: (load_zip(path), None), rank=40,
))
