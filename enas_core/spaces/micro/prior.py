"""A prior over the micro space, learned from the project's ground-truth tables: which cells
tend to train well, before any weight is trained.

The shared weights rank this space's architectures at chance at the budgets measured
(bench/README.md, "Score the ranking signals"); a linear model of each cell's op mix, fitted
to the stand-alone test accuracies of the tables (bench/tables/*.json: 120 architectures
trained alone on digits and Fashion-MNIST), ranks at Kendall tau +0.3 on a dataset it was not
fitted on (`bench/prior.py` fits it on one table and scores it on the other). It is a
predictor in the sense of predictor-based NAS (White et al. 2021, "How powerful are
performance predictors"), with the simplest encoding: the share of each op in each cell.

It proposes, the user's data decides: the selection stage takes the pool it trains alone
from the search's candidates in the prior's order (enas_core.selection.pool), then ranks them
by how they train on the job's own data. `prior.json` (next to this module) holds the fit;
`bench/prior.py` writes it from the tables.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from .architecture import PRIMITIVES, Cell, MicroArchitecture

FIT = Path(__file__).with_name("prior.json")
CELLS = ("conv", "reduce")
FEATURES = tuple(f"{cell}:{op}" for cell in CELLS for op in PRIMITIVES)


def features(arch: MicroArchitecture) -> list[float]:
    """The share of each op among each cell's 2B edges (shares, so that any B fits)."""
    return [share for cell in (arch.conv, arch.reduce) for share in _op_shares(cell)]


def _op_shares(cell: Cell) -> list[float]:
    ops = [op for n in cell.nodes for op in (n.op1, n.op2)]
    return [ops.count(k) / len(ops) for k in range(len(PRIMITIVES))]


@cache
def _fit() -> dict[str, Any]:
    fit = json.loads(FIT.read_text())
    if tuple(fit["features"]) != FEATURES:  # a fit from another op list would mislead
        raise ValueError(f"{FIT} was fitted on features {fit['features']}, not {FEATURES}")
    return fit


def prior_score(arch: MicroArchitecture) -> float:
    """The prior's predicted test accuracy, in standard deviations of a table's spread between
    architectures (0: a typical architecture; higher: better)."""
    fit = _fit()
    return sum(w * (x - m) / s for w, x, m, s
               in zip(fit["weights"], features(arch), fit["mean"], fit["std"], strict=True))
