"""What a process killed mid-upload or mid-delete leaves behind is removed once stale: temp
files, and dataset or job folders whose row never appeared (or is gone). Against Postgres."""

from __future__ import annotations

import os
import time
import uuid
from contextlib import contextmanager

import pytest

from enas_service import artifacts
from enas_service.db import commit
from enas_service.models import Dataset, Job
from enas_service.sweeper import sweep_orphans


@pytest.fixture
def scope(db_session):
    @contextmanager
    def _scope():
        yield db_session
        commit(db_session)

    return _scope


def _make(path, *, age_s: float, data: bytes = b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    when = time.time() - age_s
    for p in (path, path.parent):
        os.utime(p, (when, when))
    return path


def test_stale_orphans_are_removed_and_nothing_else(db_session, scope):
    owned = Dataset(owner="alice", name="d", filename="d.npz", path="x", size_bytes=1,
                    num_samples=1, image_shape=[8, 8, 1], channels=1, num_classes=2,
                    classes=["0", "1"], class_counts={})
    job = Job(owner="alice", builtin_dataset="digits", request={}, config={})
    db_session.add_all([owned, job])
    db_session.commit()

    hour = 3600
    stale_tmp = _make(artifacts.tmp_dir() / "upload-1.zip", age_s=2 * hour)
    fresh_tmp = _make(artifacts.tmp_dir() / "upload-2.zip", age_s=10)  # still uploading
    orphan = _make(artifacts.dataset_dir(uuid.uuid4()) / "_canonical.npz", age_s=2 * hour)
    just_made = _make(artifacts.dataset_dir(uuid.uuid4()) / "d.npz", age_s=10)  # commit soon
    kept = _make(artifacts.canonical_dataset(owned.id), age_s=2 * hour)
    orphan_job = _make(artifacts.job_dir(uuid.uuid4()) / "model.pt", age_s=2 * hour)
    job_files = _make(artifacts.job_dir(job.id) / "model.pt", age_s=2 * hour)
    not_ours = _make(artifacts.datasets_dir() / "README" / "x", age_s=2 * hour)

    removed = sweep_orphans(older_than_s=hour, scope=scope)
    assert sorted(removed) == sorted([stale_tmp, orphan.parent, orphan_job.parent])
    assert not stale_tmp.exists() and not orphan.parent.exists()
    assert not orphan_job.parent.exists()
    for path in (fresh_tmp, just_made, kept, job_files, not_ours):
        assert path.is_file(), path
    assert sweep_orphans(older_than_s=hour, scope=scope) == []
