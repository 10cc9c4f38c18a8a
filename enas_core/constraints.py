"""Searching under limits: reward shaping, feasibility, the Pareto front and the report.

A `ConstraintConfig` (config.py) sets limits on the final network's parameters, FLOPs
(multiply-adds), latency (ms, on a device at a batch size) and memory (MiB), each hard or soft.
What the controller is rewarded with for an architecture whose shared-weights accuracy is `acc`:

- soft limits follow MnasNet (Tan et al. 2019, eq. 2): `acc * prod((cost / limit) ** w)`, with
  `w = weight` (negative, MnasNet uses -0.07). `soft_penalty="always"` is MnasNet's default
  (alpha = beta = w): every network is traded off against its cost, a cheaper one earns more,
  so the search moves towards the limit from both sides. `soft_penalty="over"` is MnasNet's
  other variant (alpha = 0, beta = w): no bonus below the limit, a penalty above it.
- a hard limit that is broken gives `shaped - 1 - sum(log(cost / limit))` over the broken hard
  limits: below the reward of every architecture that fits (those lie in [0, 1] up to the soft
  factors), and lower the further over, so REINFORCE still learns which way the limits are.
  An architecture that breaks a hard limit is never returned as the best (`Searcher.derive`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .config import LIMITS, ConfigError, ConstraintConfig, ModelConfig
from .costs import CostModel, Costs, cheapest_architecture
from .spaces import get_space

UNITS = {"params": "parameters", "flops": "multiply-adds", "latency_ms": "ms", "memory_mb": "MiB"}


def _value(costs: Costs | Mapping[str, Any], name: str) -> float | None:
    return costs.get(name)


def needs(constraints: ConstraintConfig) -> tuple[bool, bool]:
    """(latency, memory): whether pricing an architecture must predict them."""
    limits = constraints.limits()
    return "latency_ms" in limits, "memory_mb" in limits


@dataclass(frozen=True)
class Check:
    name: str  # params, flops, latency_ms, memory_mb
    limit: float
    value: float | None
    mode: str

    @property
    def met(self) -> bool | None:
        return None if self.value is None else self.value <= self.limit

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "limit": self.limit, "value": self.value, "met": self.met,
                "mode": self.mode, "unit": UNITS[self.name]}


def check(constraints: ConstraintConfig, costs: Costs | Mapping[str, Any]) -> list[Check]:
    """One check per limit that is set, against the given costs."""
    return [Check(name, limit, _value(costs, name), constraints.mode_of(name))
            for name, limit in constraints.limits().items()]


def violations(constraints: ConstraintConfig, costs: Costs | Mapping[str, Any],
               mode: str = "hard") -> list[Check]:
    return [c for c in check(constraints, costs) if c.mode == mode and c.met is False]


def feasible(constraints: ConstraintConfig, costs: Costs | Mapping[str, Any]) -> bool:
    """True when no hard limit is broken (soft limits never make an architecture infeasible)."""
    return not violations(constraints, costs, "hard")


def soft_factor(constraints: ConstraintConfig, costs: Costs | Mapping[str, Any]) -> float:
    """MnasNet's `prod((cost / limit) ** w)` over the soft limits (1.0 when there are none)."""
    factor = 1.0
    for c in check(constraints, costs):
        if c.mode != "soft" or c.value is None:
            continue
        if constraints.soft_penalty == "always" or c.value > c.limit:
            factor *= (max(c.value, 1e-12) / c.limit) ** constraints.weight
    return factor


def shaped_reward(constraints: ConstraintConfig, acc: float,
                  costs: Costs | Mapping[str, Any]) -> float:
    """The controller's reward for accuracy `acc` at `costs` (module docstring)."""
    reward = acc * soft_factor(constraints, costs)
    broken = violations(constraints, costs, "hard")
    if broken:
        reward -= 1.0 + sum(math.log(c.value / c.limit) for c in broken)
    return reward


def score(constraints: ConstraintConfig, val_acc: float,
          costs: Costs | Mapping[str, Any]) -> float:
    """How candidates are ranked: validation accuracy times the soft factor (hard limits
    filter candidates instead of scoring them)."""
    return val_acc * soft_factor(constraints, costs)


def check_possible(constraints: ConstraintConfig, model: ModelConfig,
                   input_shape: Sequence[int], num_classes: int) -> None:
    """A ConfigError (a ValueError; `field` is "max_params" or "max_flops") when a hard params
    or FLOPs limit is below the cheapest architecture of the space: no search can meet it.
    (Latency and memory have no exact lower bound; a search that finds nothing under them says
    so in its result.)"""
    cheapest = CostModel(model, tuple(input_shape), num_classes)(cheapest_architecture(model))
    for c in check(constraints, cheapest):
        if c.name in ("params", "flops") and c.mode == "hard" and c.met is False:
            raise ConfigError(
                f"max_{c.name}={_fmt(c.limit)} cannot be met: the cheapest {model.space} "
                f"network of this config ({get_space(model.space).describe(model)}, input "
                f"{tuple(input_shape)}, "
                f"{num_classes} classes) has {_fmt(c.value)} {UNITS[c.name]}; raise the limit or "
                f"make the final network smaller", field=f"max_{c.name}")


def _fmt(value: float | None) -> str:
    if value is None:
        return "?"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.4g}"


def infeasible_message(constraints: ConstraintConfig, tried: int,
                       closest: Costs | Mapping[str, Any] | None) -> str:
    hard = constraints.hard_limits()
    limits = ", ".join(f"max_{n}={_fmt(v)}" for n, v in hard.items())
    text = (f"no architecture satisfies the hard limits ({limits}) among the {tried} "
            f"architectures sampled after the search")
    if closest is not None:
        text += "; the closest has " + ", ".join(
            f"{_fmt(_value(closest, n))} {UNITS[n]}" for n in hard)
    return text + ". Relax the limits, make the final network smaller, or search longer."


def limits_dict(constraints: ConstraintConfig) -> dict[str, Any]:
    """The limits as they go into result.json, with how they are applied."""
    return {
        "limits": {f"max_{n}": v for n, v in constraints.limits().items()},
        "modes": {n: constraints.mode_of(n) for n in constraints.limits()},
        "weight": constraints.weight,
        "soft_penalty": constraints.soft_penalty,
        "latency_device": constraints.latency_device,
        "latency_batch_size": constraints.latency_batch_size,
    }


def measured_report(constraints: ConstraintConfig,
                    measured: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each limit next to the trained model's measured value, marked met or not."""
    return [c.to_dict() for c in check(constraints, measured)]


# -- Pareto front -----------------------------------------------------------------------------


def dominates(a: Mapping[str, Any], b: Mapping[str, Any], maximize: Sequence[str],
              minimize: Sequence[str]) -> bool:
    """a is at least as good as b everywhere and better somewhere."""
    ge = all(a[k] >= b[k] for k in maximize) and all(a[k] <= b[k] for k in minimize)
    gt = any(a[k] > b[k] for k in maximize) or any(a[k] < b[k] for k in minimize)
    return ge and gt


def pareto_front(points: Iterable[Mapping[str, Any]], maximize: Sequence[str] = ("val_acc",),
                 minimize: Sequence[str] = ("params", "latency_ms")) -> list[dict[str, Any]]:
    """The points no other point dominates, best val_acc first. Points missing an objective
    are left out; duplicates (same objectives) are kept once."""
    keys = (*maximize, *minimize)
    pts = [dict(p) for p in points if all(p.get(k) is not None for k in keys)]
    front: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for p in pts:
        sig = tuple(p[k] for k in keys)
        if sig in seen or any(dominates(q, p, maximize, minimize) for q in pts):
            continue
        seen.add(sig)
        front.append(p)
    return sorted(front, key=lambda p: tuple(-p[k] for k in maximize)
                  + tuple(p[k] for k in minimize))


__all__ = [
    "LIMITS",
    "UNITS",
    "Check",
    "check",
    "check_possible",
    "dominates",
    "feasible",
    "infeasible_message",
    "limits_dict",
    "measured_report",
    "needs",
    "pareto_front",
    "score",
    "shaped_reward",
    "soft_factor",
    "violations",
]
