"""At what final-training budget does the selection stage pay? An estimate from the tables.

    python bench/space_table.py --dataset digits --extremes 2 --epochs 12 \
        --out bench/tables/digits-12.json          # and --epochs 24 --out ...-24.json
    python bench/stage_break_even.py --dataset digits --budgets 12,24

The stage costs compute that could go to the final training instead (`bench/quality.py`'s
`random-long` arm: at the demo budget, 12 more final epochs beat the stage by 1.5 points). It
pays once a better pick is worth more than those epochs. Both sides, measured:
- the pick's worth at the table's budget (6 epochs): the stage's pick among 8 candidates from
  the prior's pool, over a random pick (the shared weights pick at chance), in test accuracy
  points (`bench/prior.py`), scaled to a longer budget by how the spread between the table's
  best and worst architectures grows or shrinks from 6 epochs to it (the 2 best and 2 worst
  of the table's 20 two-seed architectures, trained again at each budget; their spread at 6
  epochs is shrunk by the share of it the table's noise explains, since they were chosen
  on it);
- what `--stage-epochs` more final epochs are worth at a budget E: the mean test accuracy of
  those 4 architectures at 6, 12, 24 ... epochs, a power law a - b E^-c fitted to it.
Prints both against the budget and the first budget at which the pick is worth more. An
estimate from 4 architectures and one seed per budget, not a measurement of the stage: the
measurement is `bench/quality.py` at that budget (a GPU's work). Writes
bench/results/stage-break-even-<dataset>.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.space_table import TABLES, extremes, key  # noqa: E402
from enas_core.spaces.micro.prior import FIT  # noqa: E402


def by_key(table: dict[str, Any]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for r in table["rows"]:
        out.setdefault(r["key"], []).append(r["test_acc"])
    return out


def power_law(e: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return a - b * np.power(e, -c)


def estimate(base: dict[str, Any], longer: dict[int, dict[str, Any]], pick0: float, *,
             extremes_k: int = 2, stage_epochs: int = 12) -> dict[str, Any]:
    """`base`: the table; `longer`: its extremes' tables by budget; `pick0`: the stage's pick
    over a random one at the table's budget, in points."""
    e0 = base["protocol"]["epochs"]
    chosen = [key(a) for a in extremes(base, extremes_k)]
    top, bottom = chosen[:extremes_k], chosen[extremes_k:]
    acc = {e0: by_key(base)} | {e: by_key(t) for e, t in longer.items()}
    budgets = sorted(acc)
    missing = [(e, k) for e in budgets for k in chosen if k not in acc[e]]
    if missing:
        raise ValueError(f"not trained yet: {len(missing)} of the extremes' runs, "
                         f"e.g. {missing[0]}")

    def mean(e: int, keys: list[str]) -> float:
        return statistics.fmean(statistics.fmean(acc[e][k]) for k in keys)

    # chosen on the base table's means: their spread there is part noise (winner's curse)
    noise = base["noise"]
    noise_var = noise["seed_std"] ** 2 / 2  # of a 2-seed mean
    true_var = max(noise["architecture_std"] ** 2 - noise["seed_std"] ** 2, 0.0)
    shrink = true_var / (true_var + noise_var) if true_var + noise_var > 0 else 1.0
    spread = {e: 100 * (mean(e, top) - mean(e, bottom)) for e in budgets}
    spread[e0] *= shrink
    level = {e: 100 * mean(e, chosen) for e in budgets}
    worth = {e: pick0 * spread[e] / spread[e0] for e in budgets}
    out: dict[str, Any] = {"budgets": budgets, "architectures": chosen,
                           "mean_test_acc": level, "spread_points": spread,
                           "spread_shrink": shrink, "pick_points": worth,
                           "stage_epochs": stage_epochs, "fit": None}
    x = np.array(budgets, dtype=float)
    y = np.array([level[e] for e in budgets])
    try:
        with warnings.catch_warnings():  # 3 points, 3 parameters: no covariance, by design
            warnings.simplefilter("ignore", OptimizeWarning)
            (a, b, c), _ = curve_fit(power_law, x, y, p0=(y[-1] + 0.3, 5.0, 1.0),
                                     bounds=([y[-1], 0, 0.05], [100, 1e4, 4]), maxfev=20000)
    except (RuntimeError, ValueError):
        return out  # no power law through these points: no estimate
    later = worth[budgets[-1]]  # the pick's worth at the longest budget measured
    grid = np.arange(e0, 5001)
    more = power_law(grid + stage_epochs, a, b, c) - power_law(grid, a, b, c)
    pays = grid[more < later]
    out["fit"] = {"a": float(a), "b": float(b), "c": float(c),
                  "pick_points_used": later,
                  "break_even_epochs": int(pays[0]) if len(pays) else None,
                  "more_epochs_worth": {
                      e: float(power_law(e + stage_epochs, a, b, c) - power_law(e, a, b, c))
                      for e in (e0, 12, 24, 48, 100, 200, 630)}}
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--budgets", default="12,24", help="the extremes' tables: <dataset>-N")
    parser.add_argument("--extremes", type=int, default=2)
    parser.add_argument("--stage-epochs", type=int, default=12,
                        help="the stage's compute in final epochs (demo: 12 epochs of the same "
                             "network)")
    args = parser.parse_args(argv)
    base = json.loads((TABLES / f"{args.dataset}.json").read_text())
    longer = {e: json.loads((TABLES / f"{args.dataset}-{e}.json").read_text())
              for e in map(int, args.budgets.split(","))}
    pick0 = json.loads(FIT.read_text())["evaluation"][args.dataset]["pick"][
        "points_over_random"]["stage_prior_pool"]
    try:
        out = {"dataset": args.dataset} | estimate(base, longer, pick0,
                                                   extremes_k=args.extremes,
                                                   stage_epochs=args.stage_epochs)
    except ValueError as exc:
        sys.exit(str(exc))
    e0 = out["budgets"][0]
    print(f"{args.dataset}: the {args.extremes} best and {args.extremes} worst two-seed "
          f"architectures of the {e0}-epoch table, trained alone at each budget")
    print(f"{'epochs':>6s} {'mean test':>9s} {'best - worst':>12s} {'pick worth':>10s}")
    for e in out["budgets"]:
        print(f"{e:6d} {out['mean_test_acc'][e]:8.2f}% {out['spread_points'][e]:+11.2f}p "
              f"{out['pick_points'][e]:+9.2f}p"
              + ("  (spread shrunk for the choice)" if e == e0 else ""))
    fit = out["fit"]
    if fit is None:
        print("no power law fits these points: no estimate")
    else:
        print(f"test acc ~ {fit['a']:.2f} - {fit['b']:.2f} E^-{fit['c']:.2f} (%); "
              f"{args.stage_epochs} more final epochs are worth "
              + ", ".join(f"{v:+.2f}p at {e}" for e, v in fit["more_epochs_worth"].items()))
        found = fit["break_even_epochs"]
        print(f"the stage's pick ({fit['pick_points_used']:+.2f}p) is worth more than "
              f"{args.stage_epochs} final epochs from about {found} final epochs" if found else
              "the stage's pick is worth less than the epochs at every budget up to 5,000")
    path = ROOT / "bench" / "results" / f"stage-break-even-{args.dataset}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")
    return out


if __name__ == "__main__":
    main()
