"""Files no row owns: an API process killed during an upload leaves its temp file in
DATA_DIR/tmp, and one killed between storing a dataset and committing its row leaves a
dataset folder; a job deleted by a process killed before it removed the files leaves a job
folder. They are removed once nothing has touched them for `orphan_after_s` (an upload in
progress writes its temp file continuously, and a row is committed seconds after its folder
is made), at start-up and from the reaper."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from enas_service import artifacts
from enas_service.db import session_scope
from enas_service.models import Dataset, Job
from enas_service.settings import get_settings

log = logging.getLogger(__name__)


def _last_touched(path: Path) -> float:
    """The newest mtime of `path` and, for a folder, of what it holds."""
    try:
        newest = path.lstat().st_mtime
        if path.is_dir() and not path.is_symlink():
            for child in path.rglob("*"):
                newest = max(newest, child.lstat().st_mtime)
    except FileNotFoundError:
        return time.time()
    return newest


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        artifacts.remove_tree(path)
    else:
        path.unlink(missing_ok=True)


def _stale_children(folder: Path, cutoff: float) -> list[Path]:
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if _last_touched(p) < cutoff]


def _orphans(folders: list[Path], model: type[Dataset] | type[Job], session: Session) -> list[Path]:
    """Folders named by an id that has no row (a name that is not an id is left alone)."""
    ids = {}
    for folder in folders:
        try:
            ids[uuid.UUID(folder.name)] = folder
        except ValueError:
            continue
    if not ids:
        return []
    known = set(session.scalars(select(model.id).where(model.id.in_(list(ids)))))
    return [folder for key, folder in ids.items() if key not in known]


def sweep_orphans(
    *,
    older_than_s: float | None = None,
    scope: Callable[[], AbstractContextManager[Session]] = session_scope,
) -> list[Path]:
    """Remove stale temp files and the dataset and job folders no row owns; returns them."""
    age = get_settings().orphan_after_s if older_than_s is None else older_than_s
    cutoff = time.time() - age
    removed = _stale_children(artifacts.data_dir() / "tmp", cutoff)
    datasets = _stale_children(artifacts.datasets_dir(), cutoff)
    jobs = _stale_children(artifacts.data_dir() / "jobs", cutoff)
    if datasets or jobs:
        with scope() as session:
            removed += _orphans(datasets, Dataset, session) + _orphans(jobs, Job, session)
    for path in removed:
        _remove(path)
        log.warning("removed %s: no upload or row owns it", artifacts.relative(path))
    return removed


_last_sweep = 0.0


def sweep_now_and_then() -> None:
    """`sweep_orphans` at most every tenth of `orphan_after_s` (the reaper runs far more
    often); the first call in a process sweeps."""
    global _last_sweep
    every = get_settings().orphan_after_s / 10
    if time.monotonic() - _last_sweep >= every or _last_sweep == 0.0:
        _last_sweep = time.monotonic()
        sweep_orphans()
