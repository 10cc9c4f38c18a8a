"""When the selection stage runs without being asked: where it costs at most a quarter of the
final training.

The stage (`enas_core.selection`) trains its candidates alone at the search network's size,
halving them each round: 8 candidates to 1 epoch and the best 4 on to 2 by default, 12 epochs.
Its pick is worth about 0.4 points on the space tables (bench/stage_break_even.py); the same
compute spent on a longer final training is worth more while that training is short, and
how short depends on the data: 12 more final epochs beat the stage by 1.5 points after 2
epochs (bundled digits) and by 0.5 after 16 on a 1,000-image upload (bench/quality.py,
`random-long`). A rule in epochs cannot hold for both; one on the stage's share of the final
training's compute can: at a quarter, the epochs it would buy are worth 0.02-0.09 points on
both tables' learning curves, against its pick's 0.4, and a job never takes more than a
quarter longer for a stage it did not ask for. Torch-free: submission decides it.
"""

from __future__ import annotations

import math
from dataclasses import replace

from .architecture import Architecture
from .config import ModelConfig, RunConfig, SelectConfig

AUTO_CANDIDATES = 8
MAX_SHARE = 0.25  # the stage's compute over the final training's, at most
HALVING = 2  # each round keeps the best 1/HALVING
# Per-image work of two networks on one input: their ratio barely depends on the input's size
# (both scale with its pixels), so it is priced on one nominal input, before any data is read.
_NOMINAL_INPUT = (1, 28, 28)
_NOMINAL_CLASSES = 10


def rounds(candidates: int, epochs: int) -> list[tuple[int, int]]:
    """[(candidates trained, epoch they reach)] per round: the epochs double up to `epochs`
    and the candidates halve, while more than one would go on; (8, 2) -> [(8, 1), (4, 2)],
    (8, 4) -> [(8, 1), (4, 2), (2, 4)], (3, 4) -> [(3, 2), (2, 4)], (2, 4) -> [(2, 4)]."""
    targets = [epochs]
    while targets[0] > 1:
        targets.insert(0, targets[0] // HALVING)
    sizes = [candidates]
    while len(sizes) < len(targets) and math.ceil(sizes[-1] / HALVING) > 1:
        sizes.append(math.ceil(sizes[-1] / HALVING))
    return list(zip(sizes, targets[len(targets) - len(sizes):], strict=True))


def stage_epochs(select: SelectConfig) -> int:
    """The epochs a stage trains in all (each candidate's, added up)."""
    if not select.active:
        return 0
    plan = rounds(select.candidates, select.epochs)  # type: ignore[arg-type]
    return sum(n * (e - before) for (n, e), before in zip(plan, [0] + [e for _, e in plan],
                                                          strict=False))


def stage_network(config: RunConfig, arch: Architecture) -> ModelConfig:
    """The network a candidate trains in the stage: the search network's size, without
    drop-path or an auxiliary head."""
    from .spaces import network_config_for

    size = replace(config.search.model, aux_head=False, drop_path=0.0)
    return network_config_for(arch, size)


def stage_share(config: RunConfig, select: SelectConfig) -> float:
    """The stage's compute over the final training's: its epochs of `stage_network` against
    the final training's epochs (the same images an epoch), each priced at the multiply-adds
    of a typical architecture (`costs.typical_flops`)."""
    from .costs import typical_flops
    from .spaces import network_config_for

    if config.train.epochs == 0:
        return math.inf
    search = config.search.model
    alone = typical_flops(search, lambda a: stage_network(config, a), _NOMINAL_INPUT,
                          _NOMINAL_CLASSES)
    final = typical_flops(search, lambda a: network_config_for(a, config.train.model),
                          _NOMINAL_INPUT, _NOMINAL_CLASSES)
    return stage_epochs(select) * alone / (config.train.epochs * final)


def stage_of(config: RunConfig) -> SelectConfig:
    """The selection stage a job runs: `config.select`, or where its candidates are left
    automatic, `automatic_stage`."""
    return config.select if config.select.candidates is not None else automatic_stage(config)


def automatic_stage(config: RunConfig) -> SelectConfig:
    """The stage a job runs that did not set `select.candidates`: AUTO_CANDIDATES where that
    costs at most MAX_SHARE of its final training, else none."""
    on = replace(config.select, candidates=AUTO_CANDIDATES)
    return on if stage_share(config, on) <= MAX_SHARE else replace(config.select, candidates=0)


__all__ = ["AUTO_CANDIDATES", "HALVING", "MAX_SHARE", "automatic_stage", "rounds",
           "stage_epochs", "stage_network", "stage_of", "stage_share"]
