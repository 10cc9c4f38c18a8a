"""The macro space's ops by name (`MACRO_OPS[name](channels, bn)`, every op at stride 1 and
constant channels, as in the reference code's `general_child.py`), its reduction, and what a
layer does with its skips. `costs.MACRO_OP_COSTS` prices each op without building it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from ...layers import offset_grids

BN = Callable[[int], nn.Module]
# Search-time BNs use batch statistics only, in eval mode too: running averages over many
# different architectures would describe none of them.
search_bn: BN = partial(nn.BatchNorm2d, affine=False, track_running_stats=False)


def _conv(kernel: int) -> Callable[[int, BN], nn.Module]:
    def build(c: int, bn: BN) -> nn.Module:
        return nn.Sequential(
            nn.ReLU(), nn.Conv2d(c, c, kernel, padding=kernel // 2, bias=False), bn(c)
        )

    return build


def _sep_conv(kernel: int) -> Callable[[int, BN], nn.Module]:
    def build(c: int, bn: BN) -> nn.Module:
        return nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(c, c, kernel, padding=kernel // 2, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            bn(c),
        )

    return build


MACRO_OPS: dict[str, Callable[[int, BN], nn.Module]] = {
    "conv_3x3": _conv(3),
    "sep_conv_3x3": _sep_conv(3),
    "conv_5x5": _conv(5),
    "sep_conv_5x5": _sep_conv(5),
    "avg_pool_3x3": lambda c, bn: nn.AvgPool2d(3, 1, 1, count_include_pad=False),
    "max_pool_3x3": lambda c, bn: nn.MaxPool2d(3, 1, 1),
}


class FactorizedReduction(nn.Module):
    """The reference child's reduction: two offset stride-2 1x1 convs, concatenated, then BN
    (no ReLU first, unlike `layers.FactorizedReduce`)."""

    def __init__(self, c: int, bn: BN) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c // 2, 1, bias=False)
        self.conv2 = nn.Conv2d(c, c - c // 2, 1, bias=False)
        self.bn = bn(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        even, odd = offset_grids(x)
        return self.bn(torch.cat([self.conv1(even), self.conv2(odd)], dim=1))


def skip_mean(out: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
    """A layer's output before its BN, in the search and the final networks alike: the mean of
    its op's output and the states its skip connections read."""
    for state in skips:
        out = out + state
    return out / (1 + len(skips)) if skips else out


def stem(in_channels: int, c: int, bn: BN) -> nn.Module:
    return nn.Sequential(nn.Conv2d(in_channels, c, 3, padding=1, bias=False), bn(c))
