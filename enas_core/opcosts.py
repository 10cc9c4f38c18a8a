"""What the pieces of a final network cost, without building it: the building blocks each op's
cost is written with (`OpCost`; each space's table is its `costs.py`, e.g.
`spaces/micro/costs.py`) and each space's walk (`spaces/<space>/space.py`) assembles.

- `Weights`: the numel of every parameter and buffer tensor of a piece (params come from it);
- `NetOp`: one piece of a network, with its latency-table key, weights and multiply-adds;
- `Heap`: live activation bytes and their peak, for replaying a forward pass's allocations.

Torch-free.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .layout import half

MB = 2**20  # memory limits and reports are in MiB
FLOAT_BYTES = 4  # float32 weights and activations
CUDA_BLOCK = 512  # the CUDA caching allocator rounds every allocation up to this

Key = tuple[Any, ...]


@dataclass(frozen=True)
class Weights:
    """The tensors a piece holds: parameters, and buffers (float; -1 for an int64 counter)."""

    params: tuple[int, ...] = ()
    buffers: tuple[int, ...] = ()

    def __add__(self, other: Weights) -> Weights:
        return Weights(self.params + other.params, self.buffers + other.buffers)

    def __mul__(self, n: int) -> Weights:
        return Weights(self.params * n, self.buffers * n)

    @property
    def count(self) -> int:
        return sum(self.params)


NONE = Weights()


def conv(c_in: int, c_out: int, k: int = 1, groups: int = 1) -> Weights:
    return Weights((c_in // groups * c_out * k * k,))


def bn(c: int) -> Weights:
    """BatchNorm2d: weight and bias; running mean and variance, and its step counter."""
    return Weights((c, c), (c, c, -1))


def linear(c_in: int, c_out: int) -> Weights:
    return Weights((c_in * c_out, c_out))


def factorized_reduce(c_in: int, c_out: int) -> Weights:
    """Two offset 1x1 convs (c_out // 2 and the rest), concatenated, then BN."""
    return Weights((c_in * (c_out // 2), c_in * (c_out - c_out // 2))) + bn(c_out)


def sep_conv(c: int, k: int) -> Weights:
    """One (ReLU, depthwise kxk, pointwise, BN)."""
    return conv(c, c, k, groups=c) + conv(c, c) + bn(c)


@dataclass(frozen=True)
class NetOp:
    """One piece of a final network at inference. `module`: where it is in the built network
    (a `get_submodule` path), for pieces timed in place; `runs` is False for pieces that hold
    weights but take no part in inference (the auxiliary head, an unused reduction)."""

    key: Key
    weights: Weights = NONE
    macs: int = 0
    module: str | None = None
    runs: bool = True

    @property
    def params(self) -> int:
        return self.weights.count


# -- memory -----------------------------------------------------------------------------------


class SimTensor:
    """A simulated tensor: its storage's bytes and the references the forward code holds."""

    __slots__ = ("nbytes", "refs")

    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes
        self.refs = 0


@dataclass
class Heap:
    """Live bytes and their peak, for a replayed forward pass. Every `new` and `ref` is matched
    by a `drop`, placed where the network's Python code drops its last reference."""

    block: int
    batch: int
    live: int = 0
    peak: int = 0

    def new(self, c: int, h: int, w: int, itemsize: int = FLOAT_BYTES) -> SimTensor:
        return self.ref(SimTensor(self.round(self.batch * c * h * w * itemsize)))

    def round(self, nbytes: int) -> int:
        if self.block > 1:
            return max(self.block, -(-nbytes // self.block) * self.block)
        return nbytes

    def ref(self, t: SimTensor) -> SimTensor:
        if t.refs == 0:
            self.live += t.nbytes
            self.peak = max(self.peak, self.live)
        t.refs += 1
        return t

    def drop(self, *ts: SimTensor) -> None:
        for t in ts:
            t.refs -= 1
            if t.refs == 0:
                self.live -= t.nbytes

    def chain(self, x: SimTensor, shapes: list[tuple[int, int, int]]) -> SimTensor:
        """An nn.Sequential of ops that each allocate their output: the input stays held by
        the caller; each intermediate dies when the next one exists."""
        prev = x
        for shape in shapes:
            out = self.new(*shape)
            if prev is not x:
                self.drop(prev)
            prev = out
        return prev

    def max_pool(self, c: int, h: int, w: int) -> SimTensor:
        out = self.new(c, h, w)
        # max_pool2d runs max_pool2d_with_indices (on the CPU too, without gradients): the
        # int64 indices live as long as the op.
        self.drop(self.new(c, h, w, itemsize=8))
        return out

    def factorized_reduce(self, x: SimTensor, c_in: int, c_out: int, h: int, w: int,
                          relu: bool) -> SimTensor:
        """layers.FactorizedReduce (relu=True) / the macro space's FactorizedReduction on x
        (held by the caller)."""
        ho, wo = half(h), half(w)
        r = self.new(c_in, h, w) if relu else x
        shifted = self.new(c_in, h, w)  # F.pad of the offset view
        a = self.new(c_out // 2, ho, wo)
        b = self.new(c_out - c_out // 2, ho, wo)
        cat = self.new(c_out, ho, wo)
        self.drop(a, b)
        out = self.new(c_out, ho, wo)  # BN
        self.drop(cat, shifted)
        if relu:
            self.drop(r)
        return out


@dataclass(frozen=True)
class OpCost:
    """What one op of a space costs at inference, for `c` channels at `stride`: its weights,
    its multiply-adds over `pixels` output pixels, and its forward pass replayed on a heap
    (`forward(heap, x, c, h, w, stride)` returns the output; x is the caller's)."""

    weights: Callable[[int, int], Weights]
    macs: Callable[[int, int, int], int]
    forward: Callable[[Heap, SimTensor, int, int, int, int], SimTensor]


def weightless(c: int, stride: int) -> Weights:
    """No weights (pools, identity)."""
    return NONE


def no_macs(c: int, stride: int, pixels: int) -> int:
    return 0
