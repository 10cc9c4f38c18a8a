"""The factorized reductions: the same result as two offset stride-2 1x1 convs, and a backward
that survives channels_last with few channels (a oneDNN bug in torch 2.14 corrupts the heap in
the strided-conv form, so it is checked in a subprocess that would die of it)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from enas_core.layers import FactorizedReduce, bn
from enas_core.spaces.macro.ops import FactorizedReduction


@pytest.mark.parametrize("size", [7, 8, 14])
def test_factorized_reduce_equals_the_strided_convs(size: int) -> None:
    torch.manual_seed(0)
    op = FactorizedReduce(6, 6, affine=False)
    x = torch.randn(2, 6, size, size)
    relu = F.relu(x)
    shifted = F.pad(relu[:, :, 1:, 1:], (0, 1, 0, 1))
    expected = op.bn(torch.cat([F.conv2d(relu, op.conv1.weight, stride=2),
                                F.conv2d(shifted, op.conv2.weight, stride=2)], 1))
    got = op(x)
    assert got.shape == (2, 6, (size + 1) // 2, (size + 1) // 2)
    torch.testing.assert_close(got, expected)


def test_macro_factorized_reduction_equals_the_strided_convs() -> None:
    torch.manual_seed(0)
    op = FactorizedReduction(5, lambda c: bn(c, affine=False))
    x = torch.randn(2, 5, 7, 7)
    shifted = F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))
    expected = op.bn(torch.cat([F.conv2d(x, op.conv1.weight, stride=2),
                                F.conv2d(shifted, op.conv2.weight, stride=2)], 1))
    torch.testing.assert_close(op(x), expected)


SMALL_CHANNELS_BACKWARD = """
import torch
from enas_core.spaces.macro.ops import FactorizedReduction
from enas_core.layers import bn, FactorizedReduce
torch.set_num_threads(1)
for c in (2, 4, 5, 7):
    for op in (FactorizedReduce(c, c, affine=False), FactorizedReduction(c, bn)):
        op = op.to(memory_format=torch.channels_last)
        x = torch.randn(16, c, 14, 14).to(memory_format=torch.channels_last).requires_grad_()
        for _ in range(20):
            op(x).sum().backward()
print("survived")
"""


def test_small_channel_reductions_survive_channels_last_backward() -> None:
    out = subprocess.run([sys.executable, "-c", SMALL_CHANNELS_BACKWARD], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "survived" in out.stdout, out.stderr[-2000:]


@pytest.mark.parametrize("size", [7, 8, 14])
@pytest.mark.parametrize("fmt", [torch.channels_last, torch.contiguous_format])
def test_search_max_pool_without_autograd_is_max_pool2d(size: int, fmt) -> None:
    from enas_core.spaces.micro.ops import SearchMaxPool

    x = torch.randn(3, 5, size, size).contiguous(memory_format=fmt)
    x[0, 0, 0, :] = -torch.inf  # a row of -inf at the padded edge
    for stride in (1, 2):
        with torch.no_grad():
            got = SearchMaxPool(stride)(x)
        want = F.max_pool2d(x, 3, stride, 1)
        assert torch.equal(got, want)
        assert got.is_contiguous(memory_format=fmt)  # the next ops see the same layout
    x.requires_grad_(True)
    SearchMaxPool(1)(x).sum().backward()  # with autograd: max_pool2d's gradient
    assert x.grad is not None and int(x.grad.sum()) == x[0].numel() * 3
