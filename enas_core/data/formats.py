"""Loaders for the files users bring: .npz, MNIST-style IDX, CSV and zips of class folders.

Every loader validates what it reads and raises `DatasetError` with what is wrong and how to
fix it. Nothing is unpickled and nothing is extracted to disk: zip members are read in memory
with caps on their uncompressed size, so uploads cannot bomb memory or escape a directory.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import math
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

import numpy as np
from numpy.lib import format as npy_format
from PIL import Image, UnidentifiedImageError

from .dataset import DatasetError, ImageDataset, encode_labels

FORMATS = ("npz", "idx", "csv", "zip")

# Caps for untrusted files; a module attribute so a service (or a test) can tighten them.
MAX_UNCOMPRESSED_BYTES = 4 * 1024**3
MAX_IMAGE_PIXELS = 4096 * 4096

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
# IDX type byte -> numpy dtype (big-endian, as the format stores multi-byte values).
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def load_file(path: str | Path, *, format: str | None = None) -> ImageDataset:
    """Load one dataset file; `format` is one of FORMATS, sniffed from content when None."""
    return load_file_with_test(path, format=format)[0]


def load_file_with_test(
    path: str | Path, *, format: str | None = None
) -> tuple[ImageDataset, ImageDataset | None]:
    """Like `load_file`, also returning a test set when the file holds one (an .npz with
    `x_test`/`y_test`, as Keras saves MNIST); None otherwise."""
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise DatasetError(f"dataset file {path} {what}")
    fmt = sniff_format(path) if format is None else format.lower().lstrip(".")
    if fmt == "npz":
        return load_npz(path)
    if fmt == "idx":
        if _read_head(path, 4) in _ZIP_MAGICS:
            return _load_zip(path), None
        return load_idx(path, _sibling_labels(path)), None
    if fmt == "csv":
        return load_csv(path), None
    if fmt == "zip":
        return _load_zip(path), None
    raise DatasetError(f"unknown format {format!r}; supported formats: {', '.join(FORMATS)}")


def sniff_format(path: Path) -> str:
    """The format of `path` from its first bytes (then its extension)."""
    head = _read_head(path, 8)
    lower_name = path.name.lower()
    if head[:4] in _ZIP_MAGICS:
        if path.suffix.lower() == ".npz":
            return "npz"
        with _open_zip(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
        if names and all(n.endswith(".npy") for n in names):
            return "npz"
        return "zip"
    if head[:2] == _GZIP_MAGIC:
        if lower_name.endswith((".tar.gz", ".tgz")):
            raise DatasetError(
                f"{path.name} is a tar archive, which is not supported; pack the files in a "
                ".zip instead (class folders of images, or an images and a labels IDX file)"
            )
        return "csv" if lower_name.endswith(".csv.gz") else "idx"
    if _is_idx_magic(head):
        return "idx"
    if path.suffix.lower() in (".csv", ".txt") or _looks_like_csv(path):
        return "csv"
    if path.suffix.lower() in (".npz", ".zip"):  # the loader explains what is wrong inside
        return path.suffix.lower()[1:]
    if head[:6] == b"\x93NUMPY":
        raise DatasetError(
            f"{path.name} is a single .npy array; save images and labels together with "
            "np.savez(path, x=images, y=labels)"
        )
    raise DatasetError(
        f"cannot tell the format of {path.name}; supported: .npz (arrays x, y), IDX files "
        "(MNIST style, optionally gzipped), CSV (label, pixels...), or a zip of class folders"
    )


# --- npz ------------------------------------------------------------------------------------


def load_npz(path: str | Path) -> tuple[ImageDataset, ImageDataset | None]:
    """An .npz with `x` and `y` (or Keras' `x_train`/`y_train`), optionally `x_test`/`y_test`."""
    path = Path(path)
    with _open_zip(path) as zf:
        members = {m.filename.removesuffix(".npy"): m for m in zf.infolist()}
        _check_total_size(list(members.values()), path.name)
        keys = set(members)
        xk, yk = ("x", "y") if {"x", "y"} <= keys else ("x_train", "y_train")
        if not {xk, yk} <= keys:
            raise DatasetError(
                f"{path.name} must hold arrays 'x' (images) and 'y' (labels); it holds "
                f"{sorted(keys)}. Save with np.savez(path, x=images, y=labels)"
            )
        x, y = (_npz_array(zf, members[k], k, path) for k in (xk, yk))
        if not {"x_test", "y_test"} <= keys:
            return ImageDataset.from_arrays(x, y, name=_stem(path)), None
        xt, yt = (_npz_array(zf, members[k], k, path) for k in ("x_test", "y_test"))
    (codes, test_codes), classes = encode_labels(y, yt)
    train = ImageDataset.from_arrays(x, codes, classes=classes, name=_stem(path))
    test = ImageDataset.from_arrays(xt, test_codes, classes=classes, name=_stem(path))
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
            version = npy_format.read_magic(f)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"unsupported .npy version {version}")
            read_header = (
                npy_format.read_array_header_1_0
                if version == (1, 0)
                else npy_format.read_array_header_2_0
            )
            shape, _, dtype = read_header(f)
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


# --- IDX ------------------------------------------------------------------------------------


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
        name = _stem(Path(images)) if isinstance(images, str | Path) else ""
    return ImageDataset.from_arrays(x, y, name=name)


def read_idx(
    source: str | Path | bytes, *, what: str = "IDX", label: str | None = None
) -> np.ndarray:
    """One IDX array, validating the magic number, dimensions and data length."""
    label = _idx_label(source, what) if label is None else label
    with contextlib.ExitStack() as stack:
        raw: IO[bytes] = (
            io.BytesIO(source)
            if isinstance(source, bytes)
            else stack.enter_context(open(source, "rb"))
        )
        gzipped = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        stream = stack.enter_context(gzip.GzipFile(fileobj=raw)) if gzipped else raw
        try:
            return _read_idx_stream(stream, label, what)
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetError(f"{label} is corrupt or truncated ({exc})") from exc


def _idx_label(source: str | Path | bytes, what: str) -> str:
    return Path(source).name if isinstance(source, str | Path) else f"the {what} IDX file"


def _read_idx_stream(stream: IO[bytes], label: str, what: str) -> np.ndarray:
    header = stream.read(4)
    if not _is_idx_magic(header):
        expected = "0x00000803" if what == "images" else "0x00000801"
        raise DatasetError(
            f"{label} is not an IDX {what} file: bad magic number 0x{header.hex()} "
            f"(expected {expected}, as MNIST's {what} files have)"
        )
    dtype = np.dtype(_IDX_DTYPES[header[2]])
    ndim = header[3]
    raw_dims = stream.read(4 * ndim)
    if len(raw_dims) != 4 * ndim:
        raise DatasetError(f"{label} is truncated inside its header")
    dims = struct.unpack(f">{ndim}I", raw_dims)
    nbytes = math.prod(dims) * dtype.itemsize
    if nbytes > MAX_UNCOMPRESSED_BYTES:
        raise DatasetError(
            f"{label} declares {nbytes} bytes of data, more than the limit of "
            f"{MAX_UNCOMPRESSED_BYTES}"
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


def _is_idx_magic(head: bytes) -> bool:
    return len(head) >= 4 and head[:2] == b"\0\0" and head[2] in _IDX_DTYPES and head[3] >= 1


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


# --- CSV ------------------------------------------------------------------------------------


def load_csv(path: str | Path) -> ImageDataset:
    """Rows `label,pixel0,...` (Kaggle MNIST layout) of square grayscale images."""
    path = Path(path)
    text = _read_text(path)
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise DatasetError(f"{path.name} is empty")
    header = None
    first_cells = next(csv.reader([lines[first]]))
    if not all(_is_number(c) for c in first_cells):
        header, first = first_cells, first + 1
    if not any(line.strip() for line in lines[first:]):
        raise DatasetError(f"{path.name} has a header but no data rows")
    try:
        table = np.loadtxt(
            io.StringIO(text),
            delimiter=",",
            quotechar='"',
            dtype=np.float32,
            skiprows=first,
            ndmin=2,
        )
    except ValueError:
        raise _csv_error(lines, first, header, path) from None
    if header is not None and len(header) != table.shape[1]:
        raise DatasetError(
            f"{path.name} has {len(header)} header cells but {table.shape[1]} columns of data"
        )
    if table.shape[1] < 2:
        raise DatasetError(
            f"{path.name} has one column; each row must be a label followed by pixel values"
        )
    pixels = table.shape[1] - 1
    side = math.isqrt(pixels)
    if side * side != pixels:
        raise DatasetError(
            f"{path.name} rows have {pixels} pixel values after the label column, which is not "
            "a perfect square; CSV holds square grayscale images (e.g. 784 = 28x28) with the "
            "label first. Use .npz for other shapes"
        )
    x = table[:, 1:].reshape(-1, side, side)
    if x.min() >= 0 and x.max() <= 255 and (x == np.round(x)).all():
        x = x.astype(np.uint8)  # integer pixels, as Kaggle's MNIST CSV has
    return ImageDataset.from_arrays(x, table[:, 0], name=_stem(path))


def _csv_error(lines: list[str], first: int, header: list[str] | None, path: Path) -> DatasetError:
    """Find the first bad cell for a message with its row and column (1-based, as editors)."""
    width = len(header) if header else None
    for lineno, row in enumerate(csv.reader(lines[first:]), start=first + 1):
        if not row or not "".join(row).strip():
            continue
        if width is None:
            width = len(row)
        if len(row) != width:
            return DatasetError(
                f"{path.name} line {lineno} has {len(row)} columns but earlier rows have "
                f"{width}; every row needs a label and the same number of pixels"
            )
        for col, cell in enumerate(row, start=1):
            if not _is_number(cell):
                col_name = f" ({header[col - 1]!r})" if header else ""
                return DatasetError(
                    f"{path.name} line {lineno}, column {col}{col_name}: {cell!r} is not a "
                    "number; CSV cells must be a numeric label then numeric pixel values"
                )
    return DatasetError(f"{path.name} could not be parsed as comma-separated numbers")


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _read_text(path: Path) -> str:
    data = _read_capped(path)
    if data[:2] == _GZIP_MAGIC:
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
                data = gz.read(MAX_UNCOMPRESSED_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetError(f"{path.name} is not a valid gzip file ({exc})") from exc
        if len(data) > MAX_UNCOMPRESSED_BYTES:
            raise DatasetError(f"{path.name} is larger than {MAX_UNCOMPRESSED_BYTES} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path.name} is not a UTF-8 text CSV file ({exc})") from exc


def _looks_like_csv(path: Path) -> bool:
    """UTF-8 text whose first line has a comma."""
    try:
        text = _read_head(path, 4096).decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return "," in text.split("\n", 1)[0]


# --- zips -----------------------------------------------------------------------------------


def _load_zip(path: Path) -> ImageDataset:
    """A zip of class folders of images, or of one images and one labels IDX file."""
    with _open_zip(path) as zf:
        members = _safe_members(zf, path.name)
        _check_total_size(members, path.name)
        files = [m for m in members if not m.is_dir()]
        non_images = [m for m in files if not m.filename.lower().endswith(IMAGE_EXTENSIONS)]
        if len(files) == 2 and len(non_images) == 2:
            return _load_zip_idx(zf, files, path)
        readers = {m.filename: _member_reader(zf, m) for m in files}
        dirs = [m.filename for m in members if m.is_dir()]
        return load_image_folders(readers, dirs, name=_stem(path), source=path.name)


def _load_zip_idx(zf: zipfile.ZipFile, files: list[zipfile.ZipInfo], path: Path) -> ImageDataset:
    arrays = {m.filename: read_idx(_member_reader(zf, m)(), label=m.filename) for m in files}
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
    return ImageDataset.from_arrays(x, y, name=_stem(path))


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
    paths = [p for p in files if not _is_junk(p)]
    images = [p for p in paths if p.lower().endswith(IMAGE_EXTENSIONS)]
    # Every folder mentioned, as a tuple of parts: listed ones and those holding any file.
    folders = {tuple(d.strip("/").split("/")) for d in dirs if d.strip("/") and not _is_junk(d)}
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
    arrays: list[np.ndarray] = []
    labels: list[int] = []
    first = ""
    for label, cls in enumerate(classes):
        for path in sorted(by_class[cls]):
            img = _decode_image(files[path](), path, source)
            if not arrays:
                first = path
                # Same-size images: the first one bounds the decoded total (RGB at worst).
                total = len(images) * img.shape[0] * img.shape[1] * 3
                if total > MAX_UNCOMPRESSED_BYTES:
                    raise DatasetError(
                        f"{source} decodes to about {total} bytes of pixels, more than the "
                        f"limit of {MAX_UNCOMPRESSED_BYTES}; use fewer or smaller images"
                    )
            elif img.shape[:2] != arrays[0].shape[:2]:
                h, w = img.shape[:2]
                h0, w0 = arrays[0].shape[:2]
                raise DatasetError(
                    f"{path} is {w}x{h} pixels but {first} is {w0}x{h0}; all images must "
                    "have the same size. Resize them to one size"
                )
            arrays.append(img)
            labels.append(label)
    if any(a.ndim == 3 for a in arrays):  # any colour image: all become RGB
        arrays = [np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a for a in arrays]
    return ImageDataset.from_arrays(
        np.stack(arrays), np.asarray(labels), classes=classes, name=name
    )


def _decode_image(data: bytes, path: str, source: str) -> np.ndarray:
    """Grayscale (L) -> (H, W); any other mode -> RGB (H, W, 3). Pixel count capped."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                w, h = img.size
                if w * h > MAX_IMAGE_PIXELS:
                    raise DatasetError(
                        f"{path} in {source} is {w}x{h}, more than {MAX_IMAGE_PIXELS} pixels; "
                        "downscale the images"
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


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DatasetError(
            f"{path.name} is not a valid zip file (corrupt or truncated: {exc}); "
            "re-create the archive and upload it again"
        ) from exc


def _safe_members(zf: zipfile.ZipFile, source: str) -> list[zipfile.ZipInfo]:
    """Non-junk members, their names with "/" separators; absolute or ".." paths refused
    (nothing is extracted, but such names are a sign of a hostile or broken archive)."""
    members = []
    for info in zf.infolist():
        # Some Windows tools write "\\"; zip reads by orig_filename, so renaming is safe.
        info.filename = name = info.filename.replace("\\", "/")
        parts = name.rstrip("/").split("/")
        if name.startswith("/") or ".." in parts or ":" in parts[0]:
            raise DatasetError(
                f"{source} holds an unsafe member path {name!r}; use relative paths like "
                "class/image.png"
            )
        if not _is_junk(name):
            members.append(info)
    return members


def _is_junk(name: str) -> bool:
    """macOS resource forks and dotfiles that zip tools add."""
    parts = [p for p in name.split("/") if p]
    return any(p == "__MACOSX" or p.startswith(".") for p in parts) or (
        bool(parts) and parts[-1].lower() in ("thumbs.db", "desktop.ini")
    )


def _check_total_size(members: list[zipfile.ZipInfo], source: str) -> None:
    total = sum(m.file_size for m in members)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise DatasetError(
            f"{source} uncompresses to {total} bytes, more than the limit of "
            f"{MAX_UNCOMPRESSED_BYTES}; upload a smaller dataset"
        )


def _member_reader(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            with zf.open(info) as f:
                # Never trust the declared size alone: read at most one byte past it.
                data = f.read(info.file_size + 1)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, RuntimeError) as exc:
            raise DatasetError(f"member {info.filename} of the zip is corrupt ({exc})") from exc
        if len(data) > info.file_size:
            raise DatasetError(f"member {info.filename} is larger than its zip header says")
        return data

    return read


# --- helpers --------------------------------------------------------------------------------


def _read_head(path: Path, n: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def _read_capped(path: Path) -> bytes:
    size = path.stat().st_size
    if size > MAX_UNCOMPRESSED_BYTES:
        raise DatasetError(f"{path.name} is {size} bytes, more than {MAX_UNCOMPRESSED_BYTES}")
    return path.read_bytes()


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".npz", ".csv", ".zip", ".idx", ".txt"):
        name = name.removesuffix(suffix)
    return name
