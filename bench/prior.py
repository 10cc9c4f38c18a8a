"""Fit the micro space's prior (enas_core/spaces/micro/prior.py) to the ground-truth tables, and
measure it where it was not fitted.

    python bench/prior.py            # evaluate, then write enas_core/spaces/micro/prior.json
    python bench/prior.py --check    # evaluate only

The model: ridge regression of an architecture's test accuracy (its mean over seeds,
standardised within its table so that each dataset weighs the same) on the share of each op in
each cell, features standardised. Measured, for each table, with the prior fitted on the
*other* table only (digits -> Fashion-MNIST and back: no architecture's own accuracy in its
fit): Kendall tau against the table (bench/ranking.py's score, bootstrap interval), and what
the selection stage picks, simulated on the table as bench/ranking.py simulates a pick of 8:
- `uniform`: 8 candidates as they come (the shared weights rank at chance, so the stage's pool
  has been as good as uniform);
- `prior`: the search's 20 candidates (num_candidates 10, and 10 uniform ones) drawn from the
  table, the prior's best 8 of them entering the stage;
- and the prior's pick among the 20 with no stage at all.
The stage is simulated with its rule (enas_core.selection) on the table's own training
curves: 8 candidates ranked by validation and training accuracy after one epoch, the best 4
by those after two. The shipped fit uses both tables.
Writes enas_core/spaces/micro/prior.json (the fit and these figures).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import kendalltau, rankdata

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ranking import read_table, score  # noqa: E402
from enas_core.spaces import arch_from_json  # noqa: E402
from enas_core.spaces.micro.prior import FEATURES, FIT, features  # noqa: E402

DATASETS = ("digits", "fashion-mnist")
ALPHA = 30.0  # ridge penalty, on standardised features: about half the rows of one table
POOL, STAGE = 20, 8  # the search's candidates (10 + 10 uniform), the stage's default pool


def design(rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Features and standardised target (test accuracy, mean over seeds) of one table."""
    x = np.array([features(arch_from_json(r["arch"])) for r in rows])
    y = np.array([r["mean_test_acc"] for r in rows])
    return x, (y - y.mean()) / y.std()


def fit(tables: list[list[dict[str, Any]]], alpha: float = ALPHA) -> dict[str, Any]:
    parts = [design(rows) for rows in tables]
    x = np.vstack([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    mean, std = x.mean(0), x.std(0)
    std[std == 0] = 1.0
    z = (x - mean) / std
    w = np.linalg.solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ y)
    return {"features": list(FEATURES), "mean": mean.tolist(), "std": std.tolist(),
            "weights": w.tolist(), "alpha": alpha, "rows": len(y)}


def predict(model: dict[str, Any], rows: list[dict[str, Any]]) -> np.ndarray:
    x = np.array([features(arch_from_json(r["arch"])) for r in rows])
    return ((x - np.array(model["mean"])) / np.array(model["std"])) @ np.array(model["weights"])


def stage_pick(idx: np.ndarray, val: np.ndarray, train: np.ndarray) -> int:
    """The selection stage's rule on the table's curves: round 1 (1 epoch) halves the pool by
    the mean of the validation and training ranks; round 2 (2 epochs) picks the same way."""
    for epoch, keep in ((0, max(1, len(idx) // 2)), (1, 1)):
        r = (rankdata(val[idx, epoch]) + rankdata(train[idx, : epoch + 1].mean(1))) / 2
        idx = idx[np.argsort(-r, kind="stable")[:keep]]
    return int(idx[0])


def picks(prior: np.ndarray, rows: list[dict[str, Any]], *, draws: int = 4000,
          seed: int = 0) -> dict[str, dict[str, float]]:
    """By each way of choosing: the pick's mean table percentile (50: a random one), and its
    mean test accuracy over a random pick's, in points."""
    t = np.array([r["mean_test_acc"] for r in rows])
    val = np.array([r["val_acc"][:2] for r in rows])
    train = np.array([r["train_acc"][:2] for r in rows])
    pct = 100 * (rankdata(t) - 1) / (len(t) - 1)
    rng = np.random.default_rng(seed)
    out: dict[str, list[int]] = {"stage_uniform_pool": [], "stage_prior_pool": [],
                                 "prior_alone": []}
    for _ in range(draws):
        drawn = rng.choice(len(t), POOL, replace=False)
        by_prior = drawn[np.argsort(-prior[drawn], kind="stable")]
        out["stage_uniform_pool"].append(stage_pick(drawn[:STAGE], val, train))
        out["stage_prior_pool"].append(stage_pick(by_prior[:STAGE], val, train))
        out["prior_alone"].append(int(by_prior[0]))
    return {"percentile": {k: float(pct[v].mean()) for k, v in out.items()},
            "points_over_random": {k: float(100 * (t[v].mean() - t.mean()))
                                   for k, v in out.items()}}


def evaluate(rows_by: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Each table scored by the prior fitted on the other."""
    out = {}
    for target in rows_by:
        others = [rows for name, rows in rows_by.items() if name != target]
        model = fit(others)
        p = predict(model, rows_by[target])
        truth = [r["mean_test_acc"] for r in rows_by[target]]
        s = score(p.tolist(), truth)
        out[target] = {"fitted_on": [n for n in rows_by if n != target],
                       "kendall_tau": s["kendall_tau"], "kendall_tau_ci95": s["kendall_tau_ci95"],
                       "alpha_sensitivity": {
                           str(a): float(kendalltau(predict(fit(others, a), rows_by[target]),
                                                    truth).statistic)
                           for a in (3.0, 10.0, 30.0, 100.0)},
                       "pick": picks(p, rows_by[target])}
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="evaluate; write nothing")
    parser.add_argument("--out", type=Path, default=FIT)
    args = parser.parse_args(argv)
    rows_by = {name: read_table(name, None)[1] for name in DATASETS}
    evaluation = evaluate(rows_by)
    print(f"{'table':14s} {'tau (fit on the other)':>28s}  pick percentile (test accuracy over "
          f"a random pick): stage on 8 uniform / stage on prior's 8 of {POOL} / prior alone")
    for name, e in evaluation.items():
        lo, hi = e["kendall_tau_ci95"]
        p, gain = e["pick"]["percentile"], e["pick"]["points_over_random"]
        print(f"{name:14s} {e['kendall_tau']:+.2f} [{lo:+.2f}, {hi:+.2f}] "
              f"(alpha 3..100: {min(e['alpha_sensitivity'].values()):+.2f}.."
              f"{max(e['alpha_sensitivity'].values()):+.2f})   "
              + " / ".join(f"{p[k]:.0f} ({gain[k]:+.2f} pt)" for k in p))
    model = fit(list(rows_by.values())) | {
        "fitted_on": {name: len(rows) for name, rows in rows_by.items()},
        "target": "test accuracy, mean over seeds, standardised within each table",
        "command": "python bench/prior.py",
        "evaluation": evaluation}
    print("weights (standardised op shares): " + ", ".join(
        f"{f} {w:+.2f}" for f, w in zip(FEATURES, model["weights"], strict=True)))
    if not args.check:
        args.out.write_text(json.dumps(model, indent=1) + "\n")
        print(f"wrote {args.out}")
    return model


if __name__ == "__main__":
    main()
