"""Reading untrusted files: size caps, zip members read in memory (never extracted), and
names that cannot escape a directory. Every format module reads through these.

The caps are module attributes so that a service (or a test) can tighten them.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

from ..dataset import DatasetError

MAX_UNCOMPRESSED_BYTES = 4 * 1024**3
MAX_IMAGE_PIXELS = 4096 * 4096

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")


def open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DatasetError(
            f"{path.name} is not a valid zip file (corrupt or truncated: {exc}); "
            "re-create the archive and upload it again"
        ) from exc


def safe_members(zf: zipfile.ZipFile, source: str) -> list[zipfile.ZipInfo]:
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
        if not is_junk(name):
            members.append(info)
    return members


def is_junk(name: str) -> bool:
    """macOS resource forks and dotfiles that zip tools add."""
    parts = [p for p in name.split("/") if p]
    return any(p == "__MACOSX" or p.startswith(".") for p in parts) or (
        bool(parts) and parts[-1].lower() in ("thumbs.db", "desktop.ini")
    )


def check_total_size(members: list[zipfile.ZipInfo], source: str) -> None:
    total = sum(m.file_size for m in members)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise DatasetError(
            f"{source} uncompresses to {total} bytes, more than the limit of "
            f"{MAX_UNCOMPRESSED_BYTES}; upload a smaller dataset"
        )


def member_reader(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], bytes]:
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


def read_capped(path: Path) -> bytes:
    size = path.stat().st_size
    if size > MAX_UNCOMPRESSED_BYTES:
        raise DatasetError(f"{path.name} is {size} bytes, more than {MAX_UNCOMPRESSED_BYTES}")
    return path.read_bytes()


def stem(path: Path) -> str:
    """A dataset's name from its file name."""
    name = path.name
    for suffix in (".gz", ".npz", ".csv", ".zip", ".idx", ".txt"):
        name = name.removesuffix(suffix)
    return name
