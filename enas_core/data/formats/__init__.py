"""Loaders for the files users bring, one module per format, each registering itself in
`registry` (name, file names, description, sniffer, loader): .npz, MNIST-style IDX, CSV and
zips of class folders. Adding a format is one new module here.

Every loader validates what it reads and raises `DatasetError` with what is wrong and how to
fix it. Nothing is unpickled and nothing is extracted to disk: zip members are read in memory
with caps on their uncompressed size (`safety`), so uploads cannot bomb memory or escape a
directory.
"""

from __future__ import annotations

import importlib
import pkgutil

from .registry import (
    UploadFormat,
    describe,
    formats,
    get_format,
    load_file,
    load_file_with_test,
    register,
    sniff_format,
    upload_suffixes,
)

# Every module of this package but the machinery registers a format when imported.
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("registry", "safety"):
        importlib.import_module(f"{__name__}.{_module.name}")

from .csvfile import load_csv  # noqa: E402 - the formats' own helpers, for direct use
from .folders import load_image_folders  # noqa: E402
from .idx import load_idx, read_idx  # noqa: E402
from .npz import load_npz  # noqa: E402

FORMATS: tuple[str, ...] = tuple(f.name for f in formats())

__all__ = [
    "FORMATS",
    "UploadFormat",
    "describe",
    "formats",
    "get_format",
    "load_csv",
    "load_file",
    "load_file_with_test",
    "load_idx",
    "load_image_folders",
    "load_npz",
    "read_idx",
    "register",
    "sniff_format",
    "upload_suffixes",
]
