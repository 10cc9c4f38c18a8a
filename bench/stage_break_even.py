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
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import curve_fit

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
    e0 = base["protocol"]["epochs"]
    chosen = [key(a) for a in extremes(base, args.extremes)]
    top, bottom = chosen[: args.extremes], chosen[args.extremes:]
    acc = {e0: by_key(base)}
    for e in map(int, args.budgets.split(",")):
        acc[e] = by_key(json.loads((TABLES / f"{args.dataset}-{e}.json").read_text()))
    budgets = sorted(acc)
    missing = [(e, k) for e in budgets for k in chosen if k not in acc[e]]
    if missing:
        sys.exit(f"not trained yet: {len(missing)} of the extremes' runs, e.g. {missing[0]}")

    def mean(e: int, keys: list[str]) -> float:
        return statistics.fmean(statistics.fmean(acc[e][k]) for k in keys)

    # chosen on the base table's means: their spread there is part noise (winner's curse)
    noise = base["noise"]
    noise_var = noise["seed_std"] ** 2 / 2  # of a 2-seed mean
    true_var = max(noise["architecture_std"] ** 2 - noise["seed_std"] ** 2, 0.0)
    shrink = true_var / (true_var + noise_var)
    spread = {e: mean(e, top) - mean(e, bottom) for e in budgets}
    spread[e0] *= shrink
    level = {e: mean(e, chosen) for e in budgets}
    fit_json = json.loads(FIT.read_text())["evaluation"][args.dataset]["pick"]
    pick0 = fit_json["points_over_random"]["stage_prior_pool"]
    worth = {e: pick0 * spread[e] / spread[e0] for e in budgets}

    print(f"{args.dataset}: the {args.extremes} best and {args.extremes} worst two-seed "
          f"architectures of the {e0}-epoch table, trained alone at each budget")
    print(f"{'epochs':>6s} {'mean test':>9s} {'best - worst':>12s} {'pick worth':>10s}")
    for e in budgets:
        print(f"{e:6d} {100 * level[e]:8.2f}% {100 * spread[e]:+11.2f}p {worth[e]:+9.2f}p"
              + ("  (spread shrunk for the choice)" if e == e0 else ""))
    x = np.array(budgets, dtype=float)
    y = np.array([100 * level[e] for e in budgets])
    out: dict[str, Any] = {"dataset": args.dataset, "budgets": budgets,
                           "architectures": chosen, "mean_test_acc": level, "spread": spread,
                           "spread_shrink": shrink, "pick_points_at_table_budget": pick0,
                           "pick_points": worth, "stage_epochs": args.stage_epochs}
    try:
        (a, b, c), _ = curve_fit(power_law, x, y, p0=(y[-1] + 0.3, 5.0, 1.0),
                                 bounds=([y[-1], 0, 0.05], [100, 1e4, 4]), maxfev=20000)
    except (RuntimeError, ValueError) as exc:
        print(f"no power law fits these points ({exc}): no estimate")
        out["fit"] = None
    else:
        later = worth[budgets[-1]]  # the pick's worth at the longest budget measured
        grid = np.arange(e0, 2001)
        more = power_law(grid + args.stage_epochs, a, b, c) - power_law(grid, a, b, c)
        pays = grid[more < later]
        found = int(pays[0]) if len(pays) else None
        print(f"test acc ~ {a:.2f} - {b:.2f} E^-{c:.2f} (%); {args.stage_epochs} more final "
              "epochs are worth " + ", ".join(
                  f"{float(power_law(e + args.stage_epochs, a, b, c) - power_law(e, a, b, c)):+.2f}"
                  f"p at {e}" for e in (e0, 12, 24, 48, 100, 200)))
        print(f"the stage's pick ({later:+.2f}p) is worth more than {args.stage_epochs} final "
              f"epochs from about {found} final epochs" if found else
              "the stage's pick is worth less than the epochs at every budget up to 2,000")
        out["fit"] = {"a": a, "b": b, "c": c, "break_even_epochs": found,
                      "pick_points_used": later}
    path = ROOT / "bench" / "results" / f"stage-break-even-{args.dataset}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")
    return out


if __name__ == "__main__":
    main()
