"""Did the search help? The controller's candidates against architectures drawn uniformly from
the same space, ranked on the same validation data with the same shared weights.

Random search with weight sharing is a strong baseline for ENAS-style search (Li & Talwalkar
2019), so every search reports this comparison: both groups' mean, spread, best and top-k, and
the difference of the means with a bootstrap 95% interval. It costs evaluations only.

What it can and cannot say: the shared weights were trained on the controller's own samples
(unless `shared_sampling` is "uniform"), so the ops it rarely picks have weaker weights and
uniform draws score lower on them than they would on weights trained uniformly. A positive
difference shows the controller learned what these weights reward; whether its pick then tests
better than random search's is what `baseline: random` and bench/quality.py measure.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np

from .architecture import Architecture

BOOTSTRAP_ITERATIONS = 2000
LEVEL = 0.95


def group_summary(ranked: Sequence[tuple[Architecture, float]], top_k: int) -> dict[str, Any]:
    """Mean, standard deviation and best validation accuracy of one group of candidates (one
    entry per draw, so a distribution that repeats an architecture counts it each time), and
    its `top_k` distinct architectures, best first."""
    values = [v for _, v in ranked]
    top: dict[str, dict[str, Any]] = {}
    for arch, value in sorted(ranked, key=lambda av: -av[1]):
        top.setdefault(str(arch), {"arch": arch.to_json(), "val_acc": value})
    return {
        "n": len(values),
        "distinct": len(top),
        "mean": statistics.fmean(values) if values else None,
        "std": statistics.stdev(values) if len(values) > 1 else (0.0 if values else None),
        "best": max(values) if values else None,
        "top": list(top.values())[:top_k],
    }


def bootstrap_difference(a: Sequence[float], b: Sequence[float], *, seed: int = 0,
                         iterations: int = BOOTSTRAP_ITERATIONS,
                         level: float = LEVEL) -> tuple[float, float, float]:
    """mean(a) - mean(b) and its percentile bootstrap interval (each group resampled with
    replacement on its own)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means_x = x[rng.integers(0, len(x), (iterations, len(x)))].mean(axis=1)
    means_y = y[rng.integers(0, len(y), (iterations, len(y)))].mean(axis=1)
    lo, hi = np.quantile(means_x - means_y, [(1 - level) / 2, (1 + level) / 2])
    return float(x.mean() - y.mean()), float(lo), float(hi)


def verdict(lo: float, hi: float) -> str:
    if lo > 0:
        return "controller better"
    if hi < 0:
        return "random better"
    return "no clear difference"


def search_report(strategy: str, controller: Sequence[tuple[Architecture, float]] | None,
                  random: Sequence[tuple[Architecture, float]], *, top_k: int, seed: int = 0,
                  entropy: Sequence[float] = ()) -> dict[str, Any]:
    """The comparison as JSON. `controller` is None for random search (there is no
    controller); `entropy` is the controller's mean entropy per epoch (first and last kept)."""
    report: dict[str, Any] = {
        "strategy": strategy,
        "controller": group_summary(controller, top_k) if controller is not None else None,
        "random": group_summary(random, top_k),
        "difference": None,
        "verdict": None,
        "summary": None,
        "entropy": {"first": entropy[0], "last": entropy[-1]} if entropy else None,
    }
    if controller and random:
        diff, lo, hi = bootstrap_difference([v for _, v in controller], [v for _, v in random],
                                            seed=seed)
        report["difference"] = {"mean": diff, "ci95": [lo, hi],
                                "bootstrap": BOOTSTRAP_ITERATIONS}
        report["verdict"] = verdict(lo, hi)
        report["summary"] = summary_line(diff, lo, hi)
    return report


def summary_line(diff: float, lo: float, hi: float) -> str:
    """One sentence for people: 'the controller's candidates beat random ones by +1.2 points
    [+0.4, +2.0] (95% bootstrap interval)'."""
    pts = f"{100 * diff:+.1f} points [{100 * lo:+.1f}, {100 * hi:+.1f}] (95% bootstrap interval)"
    if lo > 0:
        return f"the controller's candidates beat random ones by {pts}"
    if hi < 0:
        return f"random candidates beat the controller's: {pts}"
    return f"no clear difference between the controller's candidates and random ones: {pts}"
