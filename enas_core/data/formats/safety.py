"""Reading untrusted files: size caps, zip members read in memory (never extracted), and
names that cannot escape a directory. Every format module reads through these.

Decompression is streamed and metered: a file's decompressed bytes count against one budget
(`MAX_UNCOMPRESSED_BYTES`, or what `limited()` sets), and a member or gzip stream that expands
more than `MAX_COMPRESSION_RATIO` times (past `RATIO_CHECK_AFTER_BYTES`) is refused as a
bomb. A zip member's declared sizes are checked before anything is read (zipfile never yields
more than the declared size), and gzip streams, whose size nothing declares, as they are read.
So whatever a file claims, reading it holds at most about
min(budget, ratio x its compressed size) bytes.

The caps are module attributes so that a service (or a test) can tighten them.
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import IO

from ..dataset import DatasetError

MAX_UNCOMPRESSED_BYTES = 4 * 1024**3
# What a dataset's images may decode to (a PNG of one colour is a few bytes per megapixel):
# checked from the images' headers before any is decoded.
MAX_DECODED_BYTES = 4 * 1024**3
MAX_IMAGE_PIXELS = 4096 * 4096
# Real datasets compress 1x (PNG, stored .npy) to about 15x (CSV text, savez_compressed of
# MNIST); deflate's ceiling is about 1030x, which zip bombs use.
MAX_COMPRESSION_RATIO = 100.0
RATIO_CHECK_AFTER_BYTES = 16 * 1024**2  # a small member may compress well; a bomb is not small
CHUNK_BYTES = 1 << 20

_MAX_BYTES: ContextVar[int | None] = ContextVar("enas_max_uncompressed_bytes", default=None)
_MAX_DECODED: ContextVar[int | None] = ContextVar("enas_max_decoded_bytes", default=None)


class DatasetTooLarge(DatasetError):
    """The data decompresses to more than the limit (a service answers 413)."""


class DecodedTooLarge(DatasetTooLarge):
    """The images decode to more than the decoded-bytes limit (`max_decoded_bytes`)."""


class DecompressionBomb(DatasetError):
    """A member expands far more than real data does: a zip or gzip bomb."""


class UnsafeMember(DatasetError):
    """An archive member that is not a plain file or folder (a symbolic link, a device)."""


def max_uncompressed_bytes() -> int:
    """The decompressed-bytes budget of one file: `limited()`'s, else the module's."""
    override = _MAX_BYTES.get()
    return MAX_UNCOMPRESSED_BYTES if override is None else override


def max_decoded_bytes() -> int:
    """What one file's images may decode to: `limited()`'s, else the module's."""
    override = _MAX_DECODED.get()
    return MAX_DECODED_BYTES if override is None else override


def check_decoded(nbytes: int, source: str) -> None:
    """Refuse images that decode to more than `max_decoded_bytes()`, before decoding them."""
    limit = max_decoded_bytes()
    if nbytes > limit:
        raise DecodedTooLarge(
            f"{source} decodes to {_size(nbytes)} of pixels, more than the limit of "
            f"{_size(limit)}; use fewer or smaller images"
        )


@contextmanager
def limited(max_bytes: int, *, decoded_bytes: int | None = None) -> Iterator[None]:
    """Files read inside the block may decompress to at most `max_bytes` each, and their
    images decode to at most `decoded_bytes` (this thread or task only): a service's
    per-upload memory bound."""
    token = _MAX_BYTES.set(min(max_bytes, MAX_UNCOMPRESSED_BYTES))
    decoded = _MAX_DECODED.set(
        MAX_DECODED_BYTES if decoded_bytes is None else min(decoded_bytes, MAX_DECODED_BYTES))
    try:
        yield
    finally:
        _MAX_DECODED.reset(decoded)
        _MAX_BYTES.reset(token)


class Budget:
    """The decompressed bytes of one file (all its members), refused past the limit."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.limit = max_uncompressed_bytes()
        self.used = 0

    def take(self, n: int, member: str) -> None:
        self.used += n
        if self.used > self.limit:
            raise DatasetTooLarge(
                f"{self.source} uncompresses to more than the limit of {_size(self.limit)} "
                f"(reached in {member}); upload a smaller dataset"
            )

    def reserve(self, info: zipfile.ZipInfo) -> None:
        """Refuse a member by its headers before reading it: not a plain file, a ratio of a
        bomb, or more than the budget left. Its bytes are counted as they are read."""
        check_member(info, self.source)
        if self.used + info.file_size > self.limit:
            raise DatasetTooLarge(
                f"{self.source} uncompresses to more than the limit of {_size(self.limit)} "
                f"({info.filename} alone is {_size(info.file_size)}); upload a smaller dataset"
            )


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}".replace(
                ".0 ", " ")
    return f"{n} bytes"


def _bomb(member: str, source: str, expanded: int, compressed: int) -> DecompressionBomb:
    ratio = expanded / max(compressed, 1)
    return DecompressionBomb(
        f"{member} in {source} expands {ratio:.0f} times ({_size(compressed)} to "
        f"{_size(expanded)} or more), more than the {MAX_COMPRESSION_RATIO:g}x that real "
        "data does: refused as a decompression bomb"
    )


def check_member(info: zipfile.ZipInfo, source: str) -> None:
    """A zip member's headers: a plain file or folder, with a believable compression ratio."""
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0 when the tool wrote no Unix mode
    if kind == stat.S_IFLNK:
        raise UnsafeMember(
            f"{info.filename} in {source} is a symbolic link, which is not read; put the "
            "files themselves in the archive"
        )
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise UnsafeMember(f"{info.filename} in {source} is not a regular file")
    if (
        info.file_size > RATIO_CHECK_AFTER_BYTES
        and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1)
    ):
        raise _bomb(info.filename, source, info.file_size, info.compress_size)


class MeteredReader:
    """A decompressing stream read through a budget, refused as a bomb once it has given more
    than the ratio allows for `compressed` input bytes."""

    def __init__(self, stream: IO[bytes], *, member: str, compressed: int,
                 budget: Budget) -> None:
        self.stream, self.member, self.compressed, self.budget = (
            stream, member, compressed, budget)
        self.produced = 0

    def read(self, n: int = -1) -> bytes:
        """Up to `n` bytes (all when n < 0), decompressed a chunk at a time."""
        parts = []
        want = -1 if n is None or n < 0 else n
        while want:
            data = self._chunk(CHUNK_BYTES if want < 0 else min(want, CHUNK_BYTES))
            if not data:
                break
            parts.append(data)
            if want > 0:
                want -= len(data)
        return b"".join(parts)

    def _chunk(self, n: int) -> bytes:
        data = self.stream.read(n)
        self.produced += len(data)
        if (
            self.produced > RATIO_CHECK_AFTER_BYTES
            and self.produced > MAX_COMPRESSION_RATIO * max(self.compressed, 1)
        ):
            raise _bomb(self.member, self.budget.source, self.produced, self.compressed)
        self.budget.take(len(data), self.member)
        return data

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
            check_member(info, source)
            members.append(info)
    return members


def is_junk(name: str) -> bool:
    """macOS resource forks and dotfiles that zip tools add."""
    parts = [p for p in name.split("/") if p]
    return any(p == "__MACOSX" or p.startswith(".") for p in parts) or (
        bool(parts) and parts[-1].lower() in ("thumbs.db", "desktop.ini")
    )


def check_total_size(members: list[zipfile.ZipInfo], source: str) -> None:
    """Refuse an archive by its headers: what its members declare in all, and each one's
    ratio and kind, before any is read."""
    limit = max_uncompressed_bytes()
    for info in members:
        check_member(info, source)
    total = sum(m.file_size for m in members)
    if total > limit:
        raise DatasetTooLarge(
            f"{source} uncompresses to {_size(total)}, more than the limit of "
            f"{_size(limit)}; upload a smaller dataset"
        )


def member_reader(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget | None = None
) -> Callable[[], bytes]:
    """A callable reading one member, metered (by `budget`, shared by an archive's members)."""

    def read() -> bytes:
        meter = budget or Budget(info.filename)
        meter.reserve(info)
        try:
            with zf.open(info) as f:
                # Never trust the declared size alone: read at most one byte past it.
                data = MeteredReader(f, member=info.filename, compressed=info.compress_size,
                                     budget=meter).read(info.file_size + 1)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, RuntimeError) as exc:
            raise DatasetError(f"member {info.filename} of the zip is corrupt ({exc})") from exc
        if len(data) > info.file_size:
            raise DatasetError(f"member {info.filename} is larger than its zip header says")
        return data

    return read


def read_capped(path: Path) -> bytes:
    size = path.stat().st_size
    limit = max_uncompressed_bytes()
    if size > limit:
        raise DatasetTooLarge(f"{path.name} is {_size(size)}, more than the limit of "
                              f"{_size(limit)}")
    return path.read_bytes()


def stem(path: Path) -> str:
    """A dataset's name from its file name."""
    name = path.name
    for suffix in (".gz", ".npz", ".csv", ".zip", ".idx", ".txt"):
        name = name.removesuffix(suffix)
    return name
