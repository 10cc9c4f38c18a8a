"""Layers more than one space builds with: BN, ReLU-conv-BN, the factorized reduction,
the identity, the channel concatenation, drop-path and the auxiliary head. Each space's ops are
in `spaces/<space>/ops.py`.
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
    return not norm.track_running_stats and recomputes(x)


def recomputes(x: torch.Tensor) -> bool:
    """Whether a search-model op reading `x` recomputes in backward (see `recomputing`)."""
    return (RECOMPUTE and torch.is_grad_enabled() and x.device.type == "cpu"
            and not torch.jit.is_tracing())


def recompute(fn: Callable[..., torch.Tensor], *args: torch.Tensor) -> torch.Tensor:
    """`fn(*args)` keeping only `args` (and the output, if a later op keeps it) for backward:
    the activations inside are computed again from `args` when the gradient comes."""
    return checkpoint(fn, *args, use_reentrant=False, preserve_rng_state=False)


class ReLUFirst(nn.Sequential):
    """A sequence whose first module is a ReLU that keeps its input: `after_relu(relu(x))` is
    `forward(x)`, so a memo (memo.py) can share the ReLU of a value read by several ops."""

    def after_relu(self, x: torch.Tensor) -> torch.Tensor:
        for module in list(self)[1:]:
            x = module(x)
        return x


class ReLUConvBN(ReLUFirst):
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


def drop_path(x: torch.Tensor, p: float) -> torch.Tensor:
    """Drops whole samples of a path (ScheduledDropPath / NASNet), scaling what is kept."""
    keep = 1.0 - p
    mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x * mask / keep


class AuxiliaryHead(nn.Module):
    """Auxiliary classifier after the second reduction (any input size >= 2x2)."""

    def __init__(self, c: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(2),
            nn.Conv2d(c, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))
