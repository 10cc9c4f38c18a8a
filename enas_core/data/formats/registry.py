"""The upload formats, each registered by its own module: name, the file names it goes by, a
description, a sniffer and a loader. The format lists and help texts of the CLI, the API's
suffix check and its OpenAPI text are all derived from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..dataset import DatasetError, ImageDataset

Loaded = tuple[ImageDataset, ImageDataset | None]  # (train, test if the file holds one)

# What a sniffer says about a file: the content is unmistakably this format, the content
# fits it, or only its name suggests it (the loader then explains what is wrong).
CERTAIN, FITS, NAMED, NO = 3, 2, 1, 0


@dataclass(frozen=True)
class UploadFormat:
    name: str
    description: str  # for help texts: ".npz (arrays x, y)"
    # File names one upload of this format may end with; () when it is not uploaded alone
    # (an IDX pair is uploaded in a .zip).
    suffixes: tuple[str, ...]
    sniff: Callable[[Path, bytes], int]  # (path, its first 8 bytes) -> CERTAIN .. NO
    load: Callable[[Path], Loaded]
    rank: int  # listing order, and which wins when two sniff the same


_FORMATS: dict[str, UploadFormat] = {}
# Files recognised as something we do not read: (sniffer, what to say).
_REFUSED: list[tuple[Callable[[Path, bytes], bool], Callable[[Path], str]]] = []


def register(fmt: UploadFormat) -> UploadFormat:
    """Add a format; a second one under the same name is refused."""
    if fmt.name in _FORMATS:
        raise ValueError(f"an upload format named {fmt.name!r} is already registered")
    _FORMATS[fmt.name] = fmt
    return fmt


def refuse(sniff: Callable[[Path, bytes], bool], message: Callable[[Path], str]) -> None:
    """Name a kind of file that is recognised but not read, with the error that says why."""
    _REFUSED.append((sniff, message))


def formats() -> list[UploadFormat]:
    return sorted(_FORMATS.values(), key=lambda f: f.rank)


def get_format(name: str) -> UploadFormat:
    key = name.lower().lstrip(".")
    if key not in _FORMATS:
        raise DatasetError(f"unknown format {name!r}; supported formats: "
                           f"{', '.join(f.name for f in formats())}")
    return _FORMATS[key]


def upload_suffixes() -> tuple[str, ...]:
    return tuple(s for f in formats() for s in f.suffixes)


def describe(*, uploads_only: bool = False) -> str:
    """"a, b, or c" of the formats' descriptions."""
    items = [f.description for f in formats() if f.suffixes or not uploads_only]
    return ", ".join(items[:-1]) + f", or {items[-1]}" if len(items) > 1 else "".join(items)


def read_head(path: Path, n: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def sniff_format(path: Path) -> str:
    """The format of `path` from its first bytes, then its name."""
    head = read_head(path, 8)
    for refused, message in _REFUSED:
        if refused(path, head):
            raise DatasetError(message(path))
    score, fmt = max(((f.sniff(path, head), -f.rank, f) for f in formats()),
                     key=lambda t: t[:2])[::2]
    if score <= NO:
        raise DatasetError(f"cannot tell the format of {path.name}; supported: {describe()}")
    return fmt.name


def load_file_with_test(path: str | Path, *, format: str | None = None) -> Loaded:
    """One dataset file, and its test set when the file holds one (an .npz with
    `x_test`/`y_test`, as Keras saves MNIST), else None. `format` is a registered name,
    sniffed from the content when None."""
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise DatasetError(f"dataset file {path} {what}")
    fmt = get_format(format) if format is not None else _FORMATS[sniff_format(path)]
    return fmt.load(path)


def load_file(path: str | Path, *, format: str | None = None) -> ImageDataset:
    """One dataset file (its training data); see `load_file_with_test`."""
    return load_file_with_test(path, format=format)[0]
