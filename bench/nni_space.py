"""NNI v2.8's side of bench/nni_compare.py and bench/nni_memory.py: the reference's micro
space in NNI's `LayerChoice` and `InputChoice`. Imports torch and NNI only, so a process in
NNI's own environment can build it without this project's engine.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def nni_network(channels: int, classes: int, width: int, nodes: int,
                layers: int = 3) -> nn.Module:
    """The reference's micro space in NNI's primitives (see bench/nni_compare.py's docstring):
    `layers` normal cells in three stages, a reduction between stages."""
    from nni.retiarii.nn.pytorch import InputChoice, LayerChoice

    def relu_conv_bn(c_in: int, c_out: int, k: int = 1, stride: int = 1) -> nn.Sequential:
        return nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False),
                             nn.BatchNorm2d(c_out, affine=False))

    def sep_conv(c: int, k: int) -> nn.Sequential:
        layers: list[nn.Module] = []
        for _ in range(2):  # the reference stacks two ReLU-sepconv-BN
            layers += [nn.ReLU(), nn.Conv2d(c, c, k, 1, k // 2, groups=c, bias=False),
                       nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c, affine=False)]
        return nn.Sequential(*layers)

    class FactorizedReduce(nn.Module):
        def __init__(self, c_in: int, c_out: int) -> None:
            super().__init__()
            self.a = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
            self.b = nn.Conv2d(c_in, c_out - c_out // 2, 1, 2, bias=False)
            self.bn = nn.BatchNorm2d(c_out, affine=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = F.relu(x)
            return self.bn(torch.cat([self.a(x), self.b(F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:])], 1))

    class Cell(nn.Module):
        def __init__(self, prefix: str, c_pp: int, c_p: int, c: int, reduce_pp: bool) -> None:
            super().__init__()
            self.pre0 = FactorizedReduce(c_pp, c) if reduce_pp else relu_conv_bn(c_pp, c)
            self.pre1 = relu_conv_bn(c_p, c)
            self.inputs = nn.ModuleList()
            self.ops = nn.ModuleList()
            for node in range(nodes):
                for slot in "xy":
                    label = f"{prefix}_node{node}_{slot}"
                    self.inputs.append(InputChoice(n_candidates=node + 2, n_chosen=1,
                                                   label=f"{label}_input"))
                    self.ops.append(LayerChoice([
                        sep_conv(c, 3), sep_conv(c, 5), nn.AvgPool2d(3, 1, 1),
                        nn.MaxPool2d(3, 1, 1), nn.Identity(),
                    ], label=f"{label}_op"))
            self.out = relu_conv_bn(c * nodes, c)

        def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
            states = [self.pre0(s0), self.pre1(s1)]
            used = [False] * (nodes + 2)
            for node in range(nodes):
                total = 0
                for i in (2 * node, 2 * node + 1):
                    choice = self.inputs[i]
                    used[choice.sampled] = True
                    total = total + self.ops[i](choice(states))
                states.append(total)
            # Unused nodes are concatenated; used ones are zeroed (the 1x1 conv's weight slice).
            outs = [s if not used[k + 2] else torch.zeros_like(s)
                    for k, s in enumerate(states[2:])]
            return self.out(torch.cat(outs, 1))

    class Reduction(nn.Module):
        def __init__(self, prefix: str, c_pp: int, c_p: int, c: int) -> None:
            super().__init__()
            self.reduce0 = FactorizedReduce(c_pp, c)
            self.reduce1 = FactorizedReduce(c_p, c)
            self.cell = Cell(prefix, c, c, c, reduce_pp=False)

        def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
            return self.cell(self.reduce0(s0), self.reduce1(s1))

    class Network(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(channels, 3 * width, 3, 1, 1, bias=False),
                                      nn.BatchNorm2d(3 * width))
            c_pp, c_p, c = 3 * width, 3 * width, width
            cells: list[nn.Module] = []
            reduce_pp = False
            for stage in range(3):  # layers // 3 normal cells per stage, reductions between
                if stage:
                    c *= 2
                    cells.append(Reduction("reduce", c_pp, c_p, c))
                    c_pp, c_p, reduce_pp = c_p, c, True
                for _ in range(layers // 3):
                    cells.append(Cell("conv", c_pp, c_p, c, reduce_pp))
                    c_pp, c_p, reduce_pp = c_p, c, False
            self.cells = nn.ModuleList(cells)
            self.head = nn.Linear(c_p, classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            s0 = s1 = self.stem(x)
            for cell in self.cells:
                s0, s1 = s1, cell(s0, s1)
            return self.head(F.adaptive_avg_pool2d(F.relu(s1), 1).flatten(1))

    return Network()
