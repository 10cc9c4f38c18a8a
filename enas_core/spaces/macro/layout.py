"""Where things are in a macro network: a stem, then `layers` layers at constant channels, the
resolution halving after two of them. The one walk over a network config from which the search
network, the final network, their costs, drawing and the latency table's keys all come.
Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...layout import HW, halved

if TYPE_CHECKING:
    from ...config import ModelConfig
    from .architecture import MacroArchitecture


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
