"""A job's work is bounded by what it asks for: `steps_per_epoch` bounds a search epoch's
controller updates and candidate evaluations too (unless they are given), and sampling a huge
epoch's architectures is chunked and cancellable."""

from __future__ import annotations

from dataclasses import replace

import pytest

from enas_core.options import build_config
from enas_core.pipeline import Cancelled
from enas_core.search import SAMPLE_CHUNK, Searcher
from tests.enas_core.helpers import count_draws, tiny_run


def test_steps_per_epoch_bounds_the_controller_and_the_ranking():
    default = build_config({})
    assert default.search.controller.train_steps == 30 and default.search.eval_batches is None
    tiny = build_config({"steps_per_epoch": 5})
    assert tiny.search.controller.train_steps == 5
    assert tiny.search.eval_batches == 5
    quick = build_config({"steps_per_epoch": 5}, preset="quick")
    assert (quick.search.controller.train_steps, quick.search.eval_batches) == (5, 5)


def test_explicit_values_are_kept():
    config = build_config({"steps_per_epoch": 5, "controller_train_steps": 40,
                           "eval_batches": 8})
    assert (config.search.controller.train_steps, config.search.eval_batches) == (40, 8)
    roomy = build_config({"steps_per_epoch": 1000})  # only ever lowered
    assert (roomy.search.controller.train_steps, roomy.search.eval_batches) == (30, 1000)


def test_cancel_works_while_a_huge_epoch_samples(digits, monkeypatch):
    """10^6 steps: architectures are drawn a chunk at a time, and a cancel stops the epoch at
    the next step (never after drawing the epoch's architectures)."""
    config = replace(tiny_run().search, steps_per_epoch=1_000_000, batch_size=8)
    searcher = Searcher(config, digits, seed=0)
    asked = count_draws(searcher, monkeypatch)
    checks = []
    with pytest.raises(Cancelled):
        searcher.train_shared(0.01, lambda: checks.append(1) or len(checks) > SAMPLE_CHUNK + 5)
    assert asked == [SAMPLE_CHUNK, SAMPLE_CHUNK]
    assert len(checks) == SAMPLE_CHUNK + 6
