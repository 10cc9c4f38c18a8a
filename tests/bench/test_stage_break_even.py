"""bench/stage_break_even.py's arithmetic on tables made to follow a known learning curve."""

from __future__ import annotations

import numpy as np
import pytest

from bench.space_table import draw, key
from bench.stage_break_even import estimate, power_law

A, B, C = 98.6, 12.0, 1.2  # test accuracy in %: A - B E^-C


def _row(arch: dict, seed: int, acc: float) -> dict:
    return {"key": key(arch), "arch": arch, "seed": seed, "test_acc": acc / 100}


def _tables(gap: dict[int, float]) -> tuple[dict, dict[int, dict]]:
    """A 6-epoch table of 6 two-seed architectures (noise-free), offsets -1..+1 point scaled
    by the budget's `gap`, and the 2 best and 2 worst trained again at 12 and 24 epochs."""
    archs = [a.to_json() for a in draw(6)]
    offsets = np.linspace(-0.5, 0.5, 6)

    def acc(e: int, i: int) -> float:
        return float(power_law(np.array(e), A, B, C)) + gap[e] * offsets[i]

    base = {"protocol": {"epochs": 6},
            "noise": {"seed_std": 0.0, "architecture_std": 0.003},
            "rows": [_row(a, s, acc(6, i)) for i, a in enumerate(archs) for s in (0, 1)]}
    chosen = [0, 1, 4, 5]
    longer = {e: {"rows": [_row(archs[i], 0, acc(e, i)) for i in chosen]} for e in (12, 24)}
    return base, longer


def test_the_learning_curve_and_the_spread_are_recovered() -> None:
    base, longer = _tables({6: 1.0, 12: 1.0, 24: 2.0})
    got = estimate(base, longer, pick0=0.3, stage_epochs=12)
    fit = got["fit"]
    assert (fit["a"], fit["b"], fit["c"]) == pytest.approx((A, B, C), rel=1e-3)
    # best two minus worst two: offsets +0.5, +0.3 against -0.5, -0.3: 0.8 of the gap
    assert got["spread_points"] == pytest.approx({6: 0.8, 12: 0.8, 24: 1.6})
    assert got["pick_points"][24] == pytest.approx(0.6)  # the spread doubled, so did the pick
    # 12 more epochs are worth less than the pick from the first E where the curve says so
    e = fit["break_even_epochs"]
    more = lambda n: power_law(np.array(n + 12.0), A, B, C) - power_law(np.array(n), A, B, C)  # noqa: E731
    assert more(e) < 0.6 <= more(e - 1)


def test_a_noisy_tables_extremes_are_shrunk_towards_the_truth() -> None:
    base, longer = _tables({6: 1.0, 12: 1.0, 24: 1.0})
    base["noise"] = {"seed_std": 0.003, "architecture_std": 0.006}  # true var 27e-6, noise 4.5e-6
    got = estimate(base, longer, pick0=0.3)
    assert got["spread_shrink"] == pytest.approx(27 / 31.5)
    assert got["spread_points"][6] == pytest.approx(0.8 * 27 / 31.5)
    assert got["pick_points"][24] == pytest.approx(0.3 * 31.5 / 27)


def test_missing_runs_are_named() -> None:
    base, longer = _tables({6: 1.0, 12: 1.0, 24: 1.0})
    longer[24]["rows"].pop()
    with pytest.raises(ValueError, match="not trained yet: 1"):
        estimate(base, longer, pick0=0.3)
