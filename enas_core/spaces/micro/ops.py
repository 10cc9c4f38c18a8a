"""The operations of the micro search space, by name: `OPS` builds each op named in
`architecture.PRIMITIVES` (the names and their ENAS numbering, torch-free beside the
architectures); `costs.OP_COSTS` prices each without building it. Adding an op is a line in
each of the three (tests/enas_core/test_spaces.py checks they agree).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ...layers import (
    FactorizedReduce,
    Identity,
    ReLUFirst,
    bn,
    recompute,
    recomputes,
    recomputing,
)


class SepConv(ReLUFirst):
    """ENAS/DARTS separable convolution: (ReLU, depthwise, pointwise, BN) twice."""

    def __init__(self, c: int, kernel: int, stride: int, affine: bool = True) -> None:
        pad = kernel // 2
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, kernel, stride, pad, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            bn(c, affine),
            nn.ReLU(inplace=True),  # its input is this op's own BN output: one tensor less
            nn.Conv2d(c, c, kernel, 1, pad, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            bn(c, affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        relu, dw1, pw1, bn1, _, dw2, pw2, bn2 = self
        if not recomputing(bn1, x):
            return super().forward(x)
        # Kept for backward: x (the caller's) and the last BN's input; the other five
        # activations are computed again in backward from x, one op at a time.
        return bn2(recompute(lambda t: pw2(dw2(F.relu(bn1(pw1(dw1(F.relu(t))))))), x))


class SearchMaxPool(nn.MaxPool2d):
    """The shared search network's 3x3 max pool. Without autograd on the CPU at stride 1 (the
    controller's rewards, ranking candidates) it takes the maximum over rows, then columns, of
    the input padded with -inf: max_pool2d's values, without its CPU kernel's indices and its
    slow path at few channels (6.9 against 3.1 ms at 128 x 16 x 28 x 28 in channels_last; the
    quick preset's ranking -3 to -5 % CPU). The final networks keep nn.MaxPool2d, whose
    allocations the memory model replays (opcosts.Heap.max_pool)."""

    def __init__(self, stride: int) -> None:
        super().__init__(3, stride, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if recomputes(x):
            # Its int64 indices (twice the output's bytes) are found again in backward.
            return recompute(super().forward, x)
        if (self.stride != 1 or torch.is_grad_enabled() or x.device.type != "cpu"
                or torch.jit.is_tracing()):
            return super().forward(x)
        p = F.pad(x, (1, 1, 1, 1), value=float("-inf"))
        rows = torch.maximum(torch.maximum(p[..., :-2], p[..., 1:-1]), p[..., 2:])
        return torch.maximum(torch.maximum(rows[:, :, :-2], rows[:, :, 1:-1]), rows[:, :, 2:])


def _pool(kind: str) -> Callable[[int, int, bool], nn.Module]:
    def build(c: int, stride: int, affine: bool = True) -> nn.Module:
        if kind == "avg":
            return nn.AvgPool2d(3, stride, 1, count_include_pad=False)
        return nn.MaxPool2d(3, stride, 1) if affine else SearchMaxPool(stride)

    return build


OPS: dict[str, Callable[..., nn.Module]] = {
    "sep_conv_3x3": lambda c, stride, affine=True: SepConv(c, 3, stride, affine),
    "sep_conv_5x5": lambda c, stride, affine=True: SepConv(c, 5, stride, affine),
    "avg_pool_3x3": _pool("avg"),
    "max_pool_3x3": _pool("max"),
    "identity": lambda c, stride, affine=True: (
        Identity() if stride == 1 else FactorizedReduce(c, c, affine)
    ),
}
