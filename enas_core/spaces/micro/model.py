"""A standalone micro-space network built from one architecture, trained from scratch."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...config import ModelConfig
from ...layers import (
    AuxiliaryHead,
    FactorizedReduce,
    Identity,
    ReLUConvBN,
    cat_channels,
    drop_path,
)
from .architecture import PRIMITIVES, Cell, MicroArchitecture
from .layout import micro_layout
from .ops import OPS


class FixedCell(nn.Module):
    def __init__(self, cell: Cell, c_pp: int, c_p: int, c: int, reduction: bool,
                 reduction_prev: bool) -> None:
        super().__init__()
        self.reduction = reduction
        self.pre0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1)
        self.pre1 = ReLUConvBN(c_p, c, 1)
        self.inputs = [(n.in1, n.in2) for n in cell.nodes]
        self.ops = nn.ModuleList()
        for n in cell.nodes:
            for j, op in ((n.in1, n.op1), (n.in2, n.op2)):
                stride = 2 if reduction and j < 2 else 1
                self.ops.append(OPS[PRIMITIVES[op]](c, stride))
        self.loose = cell.loose_ends()
        self.out = ReLUConvBN(len(self.loose) * c, c, 1)
        self.drop_prob = 0.0

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        for i, (a, b) in enumerate(self.inputs):
            ha, hb = self.ops[2 * i](states[a]), self.ops[2 * i + 1](states[b])
            if self.training and self.drop_prob > 0:
                # Identity edges are never dropped, as in NASNet/DARTS.
                if not isinstance(self.ops[2 * i], Identity):
                    ha = drop_path(ha, self.drop_prob)
                if not isinstance(self.ops[2 * i + 1], Identity):
                    hb = drop_path(hb, self.drop_prob)
            states.append(ha + hb)
        return self.out(cat_channels([states[2 + j] for j in self.loose]))


class MicroNetwork(nn.Module):
    """Returns logits; in training mode with an auxiliary head, (logits, aux_logits)."""

    def __init__(self, arch: MicroArchitecture, config: ModelConfig, in_channels: int,
                 num_classes: int) -> None:
        super().__init__()
        self.arch = arch
        layout = micro_layout(config, in_channels)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, layout.c_stem, 3, padding=1, bias=False),
            nn.BatchNorm2d(layout.c_stem),
        )
        self.cells = nn.ModuleList()
        self.aux_head: AuxiliaryHead | None = None
        self.aux_after = -1
        for s in layout.cells:
            cell = arch.reduce if s.reduction else arch.conv
            self.cells.append(FixedCell(cell, s.c_pp, s.c_p, s.c, s.reduction, s.reduction_prev))
            if s.aux:
                self.aux_head = AuxiliaryHead(s.c, num_classes)
                self.aux_after = s.index
        self.classifier = nn.Linear(layout.c_out, num_classes)
        self.set_drop_path(config.drop_path)

    def set_drop_path(self, p: float) -> None:
        for cell in self.cells:
            cell.drop_prob = p

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        s0 = s1 = self.stem(x)
        aux = None
        for idx, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1)
            if idx == self.aux_after and self.training and self.aux_head is not None:
                aux = self.aux_head(s1)
        logits = self.classifier(F.adaptive_avg_pool2d(s1, 1).flatten(1))
        return (logits, aux) if aux is not None else logits
