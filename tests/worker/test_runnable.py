"""What the worker refuses before the search starts, so that the job fails at once saying why
instead of "succeeding" at chance accuracy."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from enas_core.config import RunConfig
from enas_core.data import ImageDataset
from worker.runner import JobRejected, check_runnable


def _data(side: int) -> SimpleNamespace:
    train = ImageDataset.from_arrays(np.zeros((20, side, side), np.uint8), np.arange(20) % 2)
    return SimpleNamespace(train=train)


def test_images_too_small_for_the_reductions_are_rejected_saying_so():
    """A dataset of 2x2 images stored before uploads were checked for it."""
    with pytest.raises(JobRejected) as err:
        check_runnable(RunConfig(), _data(2))
    assert str(err.value) == (
        "the images are 2x2 pixels, too small for the networks, which halve the resolution "
        "2 times: each side must be at least 4 pixels (upscale the images, e.g. to 28x28)")


def test_images_of_the_minimum_size_run():
    check_runnable(RunConfig(), _data(4))


def test_latency_tables_go_under_the_data_directory_unless_set(monkeypatch, tmp_path):
    from enas_service import artifacts
    from enas_service.settings import get_settings

    monkeypatch.setenv("ENAS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ENAS_LATENCY_CACHE", raising=False)
    get_settings.cache_clear()
    try:
        assert artifacts.latency_cache_dir() == tmp_path / "data" / "cache" / "latency"
        monkeypatch.setenv("ENAS_LATENCY_CACHE", str(tmp_path / "tables"))
        get_settings.cache_clear()
        assert artifacts.latency_cache_dir() == tmp_path / "tables"
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
