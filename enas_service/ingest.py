"""An uploaded file becomes a dataset in a child process that exits when it is done.

Parsing an upload holds up to its decompression and decoding budgets in memory, and an
allocator keeps much of what a long-lived process freed: parsed in the API process, three
refused uploads at once left it gigabytes larger for good. A child's memory goes back to the
system when it exits, whatever the parse did, and at most `upload_parsers` children run at
once (the others wait), so the memory a burst of uploads can take is that many budgets, not
one per request.

The child validates the file with the engine's loaders, checks that a search can train on it,
and writes the canonical form, the one copy jobs read; only a summary comes back.
"""

from __future__ import annotations

import multiprocessing
import threading
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from enas_core.data.canonical import canonical_size, save_canonical
from enas_core.data.dataset import DatasetError
from enas_core.data.formats import load_file_with_test
from enas_core.data.formats.safety import check_decoded, limited
from enas_core.data.trainable import untrainable


@dataclass(frozen=True)
class Ingested:
    summary: dict[str, Any]  # ImageDataset.summary() of the training data
    canonical_bytes: int  # the size of the canonical file written


class QuotaExceeded(Exception):
    """Storing the dataset takes `needed` bytes, more than the room its owner has left."""

    def __init__(self, needed: int) -> None:
        super().__init__(needed)
        self.needed = needed


class ParserLost(Exception):
    """The child process died before it answered (killed for memory, most likely)."""


def ingest(
    upload: Path,
    canonical: Path,
    *,
    name: str,
    upload_bytes: int,
    max_decompressed_bytes: int,
    max_decoded_bytes: int,
    room: int | None,
) -> Ingested:
    """Read `upload`, check it, and write its canonical form to `canonical` unless the upload
    and that file together take more than `room` bytes (None: no limit), which is known
    before anything is written. Raises DatasetError (and its DatasetTooLarge) or
    QuotaExceeded."""
    with limited(max_decompressed_bytes, decoded_bytes=max_decoded_bytes):
        train, test = load_file_with_test(upload)
        check_decoded(train.x.nbytes + (test.x.nbytes if test is not None else 0), upload.name)
    problem = untrainable(train)
    if problem:
        raise DatasetError(problem)
    train = replace(train, name=name)
    needed = upload_bytes + canonical_size(train, test)
    if room is not None and needed > room:
        raise QuotaExceeded(needed)
    save_canonical(canonical, train, test)
    return Ingested(summary=train.summary(), canonical_bytes=canonical.stat().st_size)


# -- the child processes ----------------------------------------------------------------------

_lock = threading.Lock()
_slots: threading.BoundedSemaphore | None = None


def _context() -> multiprocessing.context.BaseContext:
    """forkserver: children forked from a small single-threaded server that imported the
    parsers once (forking the threaded API process itself is unsafe), spawn where there is
    none."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


def _semaphore(parsers: int) -> threading.BoundedSemaphore:
    global _slots
    with _lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(parsers)
        return _slots


def _child(conn: Connection, kwargs: dict[str, Any]) -> None:
    try:
        conn.send((True, ingest(**kwargs)))
    except (DatasetError, QuotaExceeded) as exc:
        conn.send((False, exc))
    except MemoryError:
        conn.send((False, ParserLost("it ran out of memory")))
    except Exception as exc:  # a bug: the parent raises it (a 500), with what it was
        conn.send((False, RuntimeError(f"validating the upload failed: {exc!r}")))
    finally:
        conn.close()


def ingest_in_child(*, parsers: int, **kwargs: Any) -> Ingested:
    """`ingest(**kwargs)` in a child process, at most `parsers` at once in this process (the
    first call's number holds): waits for a free one, then for the child."""
    with _semaphore(parsers):
        context = _context()
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_child, args=(sender, kwargs), daemon=True,
                                  name="enas-ingest")
        process.start()
        sender.close()
        try:
            ok, value = receiver.recv()
        except EOFError:
            process.join()
            raise ParserLost(f"it exited with code {process.exitcode}") from None
        finally:
            receiver.close()
        process.join()
    if not ok:
        raise value
    return value
