"""Where things are in the two spaces' networks: the one walk over a network config from which
the search network, the final network, their costs and the latency table's keys all come.

Micro: a stem, then `layers` normal cells in three stages with a reduction cell between them;
channels double at each reduction. Macro: a stem, then `layers` layers at constant channels,
the resolution halving after two of them. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .architecture import MacroArchitecture
    from .config import ModelConfig

HW = tuple[int, int]

# Both spaces halve the resolution twice (micro: two reduction cells; macro: two pools, from
# 3 layers on). On a side below 2**2 pixels a halving has nothing left to halve: the network
# trains, but its reductions see one pixel and its accuracy stays near chance.
REDUCTIONS = 2
MIN_IMAGE_SIDE = 2**REDUCTIONS
# Activations grow with the pixels: at batch 32 the cheapest network of the smallest preset
# (3 layers, 16 channels) holds 1.9 GB for inference on 256x256 images, 7.8 GB on 512x512 and
# 31 GB on 1024x1024 (`costs.peak_memory`), and training keeps several times that: past 512
# pixels a side no search fits one 80 GB GPU.
MAX_IMAGE_SIDE = 512


def too_small(hw: HW) -> str | None:
    """Why images of `hw` (height, width) are too small for the networks, or None."""
    h, w = hw
    if min(h, w) >= MIN_IMAGE_SIDE:
        return None
    return (
        f"the images are {w}x{h} pixels, too small for the networks, which halve the "
        f"resolution {REDUCTIONS} times: each side must be at least {MIN_IMAGE_SIDE} pixels "
        "(upscale the images, e.g. to 28x28)"
    )


def too_large(hw: HW) -> str | None:
    """Why images of `hw` (height, width) are too large for any search to train on, or None."""
    h, w = hw
    if max(h, w) <= MAX_IMAGE_SIDE:
        return None
    return (
        f"the images are {w}x{h} pixels; the networks train on at most {MAX_IMAGE_SIDE} "
        f"pixels a side (the maximum image side; beyond it no search fits one GPU's memory): "
        "downscale the images"
    )


def half(n: int) -> int:
    """Every stride-2 op here (3x3/5x5 with padding, 1x1 without) maps n to ceil(n / 2)."""
    return (n + 1) // 2


def halved(hw: HW) -> HW:
    return half(hw[0]), half(hw[1])


# -- micro ------------------------------------------------------------------------------------


def stage_layout(layers: int) -> list[bool]:
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
    for index, reduction in enumerate(stage_layout(model.layers)):
        if reduction:
            c *= 2
            reductions += 1
        hw_out = halved(hw_p) if reduction else hw_p
        cells.append(CellSlot(index, reduction, reduction_prev, c_pp, c_p, c, hw_pp, hw_p,
                              hw_out, model.aux_head and reduction and reductions == 2))
        c_pp, c_p, reduction_prev = c_p, c, reduction
        hw_pp, hw_p = hw_p, hw_out
    return MicroLayout(in_channels, hw, c_stem, tuple(cells), c_p, hw_p)


# -- macro ------------------------------------------------------------------------------------


def pool_layers(layers: int) -> list[int]:
    """The layers after which the resolution halves (reference: `pool_distance - 1` and
    `2 * pool_distance - 1`, `pool_distance = layers // 3`); none for fewer than 3 layers."""
    distance = layers // 3
    return [distance - 1, 2 * distance - 1] if distance else []


def kept_states(arch: MacroArchitecture, after: int) -> list[int]:
    """The states (0: stem, k: layer k-1) that layers after layer `after` still read."""
    kept = {after + 1}
    for i in range(after + 1, arch.layers):
        kept.update(j for j, flag in enumerate(arch.skips[i]) if flag)
    return sorted(kept)


@dataclass(frozen=True)
class LayerSlot:
    index: int
    hw: HW  # the layer's resolution
    pool: int | None  # after this layer the states are reduced: the index of that reduction


@dataclass(frozen=True)
class MacroLayout:
    in_channels: int
    hw: HW
    channels: int  # every layer's
    layers: tuple[LayerSlot, ...]
    hw_out: HW


def macro_layout(model: ModelConfig, in_channels: int, hw: HW = (1, 1)) -> MacroLayout:
    pools = pool_layers(model.layers)
    start = hw
    slots = []
    for i in range(model.layers):
        pool = pools.index(i) if i in pools else None
        slots.append(LayerSlot(i, hw, pool))
        if pool is not None:
            hw = halved(hw)
    return MacroLayout(in_channels, start, model.channels, tuple(slots), hw)
