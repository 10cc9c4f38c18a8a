"""The operations of the micro search space, by name: `OPS` builds each op named in
`architecture.PRIMITIVES` (the names and their ENAS numbering, torch-free beside the
architectures); `spaces.micro.OP_COSTS` prices each without building it. Adding an op is a line
in each of the three (tests/enas_core/test_spaces.py checks they agree).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint


class _DenseGrad(torch.autograd.Function):
    """Identity whose backward makes the incoming gradient dense, in the input's layout.

    A concatenation's backward hands each input a channel slice of the gradient; batch-norm
    backward on such a strided slice is about 4x slower on the CPU (bench/README.md)."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:
        ctx.channels_last = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
        return x.view_as(x)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        fmt = torch.channels_last if ctx.channels_last else torch.contiguous_format
        return grad.contiguous(memory_format=fmt)


def cat_channels(tensors: list[torch.Tensor]) -> torch.Tensor:
    """`torch.cat(tensors, dim=1)` whose inputs get dense gradients."""
    if torch.is_grad_enabled() and not torch.jit.is_tracing():
        tensors = [_DenseGrad.apply(t) for t in tensors]
    return torch.cat(tensors, dim=1)


def bn(c: int, affine: bool = True) -> nn.BatchNorm2d:
    """A BN layer; `affine=False` marks a shared search model, whose BNs use batch statistics
    only: running averages over many different architectures would describe none of them."""
    return nn.BatchNorm2d(c, affine=affine, track_running_stats=affine)


RECOMPUTE = True  # off: the search model keeps every activation (tests compare the two)


def recomputing(norm: nn.BatchNorm2d, x: torch.Tensor) -> bool:
    """Whether the pieces of an op before its BN `norm` (reading `x`) recompute their
    activations in the backward pass instead of keeping them: with autograd on, on the CPU,
    and only in the shared search model, whose BNs keep no running statistics (a second
    forward is the first's exactly and updates nothing). At bench/nni_memory.py's
    configuration the activations kept per step fall from 1.5-2.2 GB to 0.6-0.7 GB and the
    peak RSS from 3.4 to 2.0 GB, for 15 % more CPU per step (bench/README.md, "Memory against
    NNI"). Final networks keep theirs (the cost model's memory replays them); so do GPUs,
    where memory is seldom the limit and each recomputed piece would be more kernel launches."""
    return (RECOMPUTE and torch.is_grad_enabled() and not norm.track_running_stats
            and x.device.type == "cpu" and not torch.jit.is_tracing())


def recompute(fn: Callable[..., torch.Tensor], *args: torch.Tensor) -> torch.Tensor:
    """`fn(*args)` keeping only `args` (and the output, if a later op keeps it) for backward:
    the activations inside are computed again from `args` when the gradient comes."""
    return checkpoint(fn, *args, use_reentrant=False, preserve_rng_state=False)


class _ReLUFirst(nn.Sequential):
    """A sequence whose first module is a ReLU that keeps its input: `after_relu(relu(x))` is
    `forward(x)`, so a memo (memo.py) can share the ReLU of a value read by several ops."""

    def after_relu(self, x: torch.Tensor) -> torch.Tensor:
        for module in list(self)[1:]:
            x = module(x)
        return x


class ReLUConvBN(_ReLUFirst):
    def __init__(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1,
                 affine: bool = True) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
            bn(c_out, affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        relu, conv, norm = self
        if not recomputing(norm, x):
            return super().forward(x)
        # The ReLU's output is recomputed from x (which the caller keeps); the BN keeps the
        # conv's output, as it would anyway.
        return norm(recompute(lambda t: conv(F.relu(t)), x))


class SepConv(_ReLUFirst):
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


def offset_grids(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The pixels two stride-2 1x1 convs read, at offsets (0, 0) and (1, 1); the second is
    zero past the edge, so odd sizes (7x7 after two reductions of 28) stay aligned.

    Subsampling first and then convolving at stride 1 computes the same thing, and avoids a
    oneDNN bug in torch 2.14: the backward of a strided 1x1 conv with fewer than 8 input
    channels in channels_last corrupts the heap (tests/enas_core/test_ops.py)."""
    return x[:, :, ::2, ::2], F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))[:, :, ::2, ::2]


class FactorizedReduce(nn.Module):
    """Halves the resolution without losing half the pixels: two offset 1x1 convs, concatenated."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv1 = nn.Conv2d(c_in, c_out // 2, 1, bias=False)
        self.conv2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, bias=False)
        self.bn = bn(c_out, affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if recomputing(self.bn, x):
            return self.bn(recompute(lambda t: self._convs(self.relu(t)), x))
        return self.after_relu(self.relu(x))

    def after_relu(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self._convs(x))

    def _convs(self, x: torch.Tensor) -> torch.Tensor:
        even, odd = offset_grids(x)
        return cat_channels([self.conv1(even), self.conv2(odd)])


class Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


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
        if RECOMPUTE and torch.is_grad_enabled() and x.device.type == "cpu" and (
                not torch.jit.is_tracing()):
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
