"""What each op of the micro space costs in a final network, without building it (torch-free,
as the architectures are): `OP_COSTS[name]` beside `ops.OPS[name]`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import opcosts
from ...layout import half
from ...opcosts import OpCost

if TYPE_CHECKING:
    from ...opcosts import Heap, SimTensor


# What each op of `ops.OPS` costs in a final network (affine BNs with running statistics),
# without building it: weights, multiply-adds, and the activations its forward pass allocates.


def _sep_conv_cost(k: int) -> OpCost:
    def forward(heap: Heap, x: SimTensor, c: int, h: int, w: int, stride: int) -> SimTensor:
        ho, wo = (half(h), half(w)) if stride == 2 else (h, w)
        return heap.chain(x, [(c, h, w)] + [(c, ho, wo)] * 7)  # relu, dw, pw, bn, relu, ...

    return OpCost(weights=lambda c, stride: opcosts.sep_conv(c, k) * 2,
                  macs=lambda c, stride, pixels: 2 * (c * k * k + c * c) * pixels,
                  forward=forward)


def _pool_cost(kind: str) -> OpCost:
    def forward(heap: Heap, x: SimTensor, c: int, h: int, w: int, stride: int) -> SimTensor:
        ho, wo = (half(h), half(w)) if stride == 2 else (h, w)
        return heap.max_pool(c, ho, wo) if kind == "max" else heap.new(c, ho, wo)

    return OpCost(weights=opcosts.weightless, macs=opcosts.no_macs, forward=forward)


def _identity_forward(heap: Heap, x: SimTensor, c: int, h: int, w: int, stride: int) -> SimTensor:
    if stride == 2:
        return heap.factorized_reduce(x, c, c, h, w, relu=True)
    return heap.ref(x)  # Identity returns its input


OP_COSTS: dict[str, OpCost] = {
    "sep_conv_3x3": _sep_conv_cost(3),
    "sep_conv_5x5": _sep_conv_cost(5),
    "avg_pool_3x3": _pool_cost("avg"),
    "max_pool_3x3": _pool_cost("max"),
    "identity": OpCost(
        weights=lambda c, stride: opcosts.factorized_reduce(c, c) if stride == 2 else opcosts.NONE,
        macs=lambda c, stride, pixels: c * c * pixels if stride == 2 else 0,
        forward=_identity_forward),
}
