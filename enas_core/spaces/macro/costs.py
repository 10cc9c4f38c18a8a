"""What each op of the macro space costs in a final network, without building it (torch-free,
as the architectures are): `MACRO_OP_COSTS[name]` beside `ops.MACRO_OPS[name]`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ... import opcosts
from ...opcosts import OpCost

if TYPE_CHECKING:
    from ...opcosts import Heap, SimTensor


def _chain_cost(weights: Callable[[int], opcosts.Weights], macs: Callable[[int], int],
                steps: int) -> OpCost:
    """An op of `steps` modules in a row (ReLU, conv(s), BN), each allocating its output."""
    return OpCost(weights=lambda c, stride: weights(c),
                  macs=lambda c, stride, pixels: macs(c) * pixels,
                  forward=lambda heap, x, c, h, w, stride: heap.chain(x, [(c, h, w)] * steps))


def _pool_cost(kind: str) -> OpCost:
    def forward(heap: Heap, x: SimTensor, c: int, h: int, w: int, stride: int) -> SimTensor:
        return heap.max_pool(c, h, w) if kind == "max" else heap.new(c, h, w)

    return OpCost(weights=opcosts.weightless, macs=opcosts.no_macs, forward=forward)


# What each op costs in a final network (weights, multiply-adds, activations), as `MACRO_OPS`
# builds it: a conv is ReLU, conv, BN; a separable conv ReLU, depthwise, pointwise, BN (once).
MACRO_OP_COSTS: dict[str, OpCost] = {
    **{f"conv_{k}x{k}": _chain_cost(lambda c, k=k: opcosts.conv(c, c, k) + opcosts.bn(c),
                                    lambda c, k=k: c * c * k * k, steps=3) for k in (3, 5)},
    **{f"sep_conv_{k}x{k}": _chain_cost(lambda c, k=k: opcosts.sep_conv(c, k),
                                        lambda c, k=k: c * k * k + c * c, steps=4)
       for k in (3, 5)},
    "avg_pool_3x3": _pool_cost("avg"),
    "max_pool_3x3": _pool_cost("max"),
}
