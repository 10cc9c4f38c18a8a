"""CSV: one image per row, the label first, then the pixels of a square grayscale image (the
Kaggle MNIST layout), with or without a header row, optionally gzipped."""

from __future__ import annotations

import csv
import gzip
import io
import math
import zlib
from pathlib import Path

import numpy as np

from ..dataset import DatasetError, ImageDataset
from . import safety
from .registry import CERTAIN, FITS, NAMED, NO, UploadFormat, read_head, register
from .safety import GZIP_MAGIC, read_capped, stem


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
    return ImageDataset.from_arrays(x, table[:, 0], name=stem(path))


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
    data = read_capped(path)
    if data[:2] == GZIP_MAGIC:
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
                # Metered as it decompresses: a gzip bomb is refused after a few chunks.
                data = safety.MeteredReader(gz, member=path.name, compressed=len(data),
                                            budget=safety.Budget(path.name)).read()
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetError(f"{path.name} is not a valid gzip file ({exc})") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path.name} is not a UTF-8 text CSV file ({exc})") from exc


def _looks_like_csv(path: Path) -> bool:
    """UTF-8 text whose first line has a comma."""
    try:
        text = read_head(path, 4096).decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return "," in text.split("\n", 1)[0]


def _sniff(path: Path, head: bytes) -> int:
    if head[:2] == GZIP_MAGIC:
        return CERTAIN if path.name.lower().endswith(".csv.gz") else NO
    if _looks_like_csv(path):
        return FITS
    return NAMED if path.suffix.lower() in (".csv", ".txt") else NO


register(UploadFormat(
    name="csv", description=".csv (label, pixels...)", suffixes=(".csv", ".csv.gz"),
    sniff=_sniff, load=lambda path: (load_csv(path), None), rank=30,
))
