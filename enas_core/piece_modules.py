"""Modules that run one piece of a network alone, for the latency table (`latency.py`): the
pieces that are not a module of the network by themselves."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ReLUConvBN


class Add(nn.Module):
    """A node's (or a macro layer's) sum: the input plus a tensor of its shape."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.register_buffer("other", torch.randn(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.other


class Div(nn.Module):
    """A macro layer's mean of its inputs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / 2


class CellOutput(nn.Module):
    """A micro cell's output: concatenate the loose ends, then ReLU, 1x1 conv, BN."""

    def __init__(self, loose: int, c: int, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.conv = ReLUConvBN(loose * c, c, 1)
        self.register_buffer("others", torch.randn(loose - 1, *shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([x, *self.others], dim=1))


class Head(nn.Module):
    """Global average pooling and the classifier."""

    def __init__(self, c: int, num_classes: int) -> None:
        super().__init__()
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))


def stem(c_in: int, c: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
