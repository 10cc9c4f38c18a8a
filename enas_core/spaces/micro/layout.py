"""Where things are in a micro network: a stem, then `layers` normal cells in three stages with
a reduction cell between them; channels double at each reduction. The one walk over a network
config from which the search network, the final network, their costs and the latency table's
keys all come. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...layout import HW, halved

if TYPE_CHECKING:
    from ...config import ModelConfig


def _stage_layout(layers: int) -> list[bool]:
    """Cell kinds in order: `layers` normal cells in three stages, a reduction cell between."""
    per_stage = layers // 3
    kinds: list[bool] = []
    for stage in range(3):
        kinds += [False] * per_stage
        if stage < 2:
            kinds.append(True)
    return kinds


@dataclass(frozen=True)
class CellSlot:
    """One cell of a micro network: what it reads and what it makes."""

    index: int
    reduction: bool
    reduction_prev: bool  # s0 comes from a reduction cell (so it is factorized-reduced)
    c_pp: int  # channels of s0, the output of the cell before the previous one
    c_p: int  # channels of s1, the previous cell's output
    c: int  # the cell's channels
    hw_pp: HW  # resolution of s0
    hw: HW  # resolution of s1: the cell's input
    hw_out: HW
    aux: bool  # the auxiliary head reads this cell's output (after the second reduction)


@dataclass(frozen=True)
class MicroLayout:
    in_channels: int
    hw: HW  # the input's resolution
    c_stem: int
    cells: tuple[CellSlot, ...]
    c_out: int  # what the classifier reads
    hw_out: HW


def micro_layout(model: ModelConfig, in_channels: int, hw: HW = (1, 1)) -> MicroLayout:
    """The micro network of `model` on `in_channels` x `hw` images (networks are built
    without a resolution; the costs need it)."""
    c = model.channels
    c_stem = model.stem_multiplier * c
    c_pp, c_p, reduction_prev = c_stem, c_stem, False
    hw_pp = hw_p = hw
    reductions = 0
    cells = []
    for index, reduction in enumerate(_stage_layout(model.layers)):
        if reduction:
            c *= 2
            reductions += 1
        hw_out = halved(hw_p) if reduction else hw_p
        cells.append(CellSlot(index, reduction, reduction_prev, c_pp, c_p, c, hw_pp, hw_p,
                              hw_out, model.aux_head and reduction and reductions == 2))
        c_pp, c_p, reduction_prev = c_p, c, reduction
        hw_pp, hw_p = hw_p, hw_out
    return MicroLayout(in_channels, hw, c_stem, tuple(cells), c_p, hw_p)
