"""The micro-space shared model: one set of weights for every op on every edge.

`forward(x, arch)` runs only the sampled path. Architectures come as plain Python data sampled on
the host, so choosing modules costs no device synchronisation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ...config import ModelConfig, Sharing
from ...layers import (
    AuxiliaryHead,
    FactorizedReduce,
    ReLUConvBN,
    bn,
    cat_channels,
    recompute,
    recomputing,
)
from ...memo import Handle, Memo, add
from .architecture import PRIMITIVES, Cell, MicroArchitecture
from .layout import micro_layout
from .ops import OPS


class SharedCell(nn.Module):
    """`edges[node][input]` is the set of op modules that edge runs; with `sharing` "node" or
    "cell" several edges hold the same set (parameters are counted and optimised once)."""

    def __init__(self, nodes: int, c_pp: int, c_p: int, c: int, reduction: bool,
                 reduction_prev: bool, sharing: Sharing = "edge") -> None:
        super().__init__()
        self.reduction = reduction
        self.pre0 = (FactorizedReduce(c_pp, c, affine=False) if reduction_prev
                     else ReLUConvBN(c_pp, c, 1, affine=False))
        self.pre1 = ReLUConvBN(c_p, c, 1, affine=False)
        op_sets: dict[tuple[int, ...], nn.ModuleList] = {}
        self.edges = nn.ModuleList()
        for node in range(nodes):
            per_input = nn.ModuleList()
            for j in range(node + 2):
                stride = 2 if reduction and j < 2 else 1
                key = {"edge": (node, j), "node": (node, stride), "cell": (stride,)}[sharing]
                if key not in op_sets:
                    op_sets[key] = nn.ModuleList(OPS[p](c, stride, False) for p in PRIMITIVES)
                per_input.append(op_sets[key])
            self.edges.append(per_input)
        # The 1x1 output conv, one (c, c) block per node; a sampled cell uses the blocks of its
        # loose ends, as the reference code gathers the final-conv weights.
        self.out_w = nn.ParameterList(
            nn.Parameter(torch.empty(c, c, 1, 1)) for _ in range(nodes)
        )
        for w in self.out_w:
            nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
        self.out_bn = bn(c, affine=False)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, cell: Cell) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        for i, n in enumerate(cell.nodes):
            edges = self.edges[i]
            states.append(edges[n.in1][n.op1](states[n.in1]) + edges[n.in2][n.op2](states[n.in2]))
        loose = cell.loose_ends()
        return self._out(loose, *(states[2 + j] for j in loose))

    def _out(self, loose: list[int], *ends: torch.Tensor) -> torch.Tensor:
        w = torch.cat([self.out_w[j] for j in loose], dim=1)

        def conv(*ends: torch.Tensor) -> torch.Tensor:
            return F.conv2d(F.relu(cat_channels(list(ends))), w)

        if recomputing(self.out_bn, ends[0]):  # keeps the conv's output only
            return self.out_bn(recompute(conv, *ends))
        return self.out_bn(conv(*ends))

    def forward_memo(self, memo: Memo, s0: Handle, s1: Handle, cell: Cell) -> Handle:
        """`forward` through `memo` (memo.py), op for op."""
        states = [memo.module(self.pre0, s0), memo.module(self.pre1, s1)]
        for i, n in enumerate(cell.nodes):
            edges = self.edges[i]
            a = memo.module(edges[n.in1][n.op1], states[n.in1])
            b = memo.module(edges[n.in2][n.op2], states[n.in2])
            states.append(memo(add, add, a, b))
        loose = cell.loose_ends()
        # The output conv's weight blocks are those of the loose ends' positions.
        return memo((self, tuple(loose)), lambda *ends: self._out(loose, *ends),
                    *(states[2 + j] for j in loose))


class MicroSearchNetwork(nn.Module):
    def __init__(self, config: ModelConfig, in_channels: int, num_classes: int) -> None:
        super().__init__()
        layout = micro_layout(config, in_channels)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, layout.c_stem, 3, padding=1, bias=False),
            bn(layout.c_stem, affine=False),
        )
        self.cells = nn.ModuleList(
            SharedCell(config.nodes, s.c_pp, s.c_p, s.c, s.reduction, s.reduction_prev,
                       config.sharing)
            for s in layout.cells
        )
        self.classifier = nn.Linear(layout.c_out, num_classes)
        # The reference trains its search child with an auxiliary head too (in training only).
        self.aux_head: AuxiliaryHead | None = None
        self.aux_after = -1
        for s in layout.cells:
            if s.aux:
                self.aux_head, self.aux_after = AuxiliaryHead(s.c, num_classes), s.index
        self.recompute = False  # see Runtime.recompute

    def forward(self, x: torch.Tensor,
                arch: MicroArchitecture) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits; in training mode with an auxiliary head, (logits, aux_logits)."""
        s0 = s1 = self.stem(x)
        recompute = self.recompute and torch.is_grad_enabled()
        aux = None
        for idx, cell in enumerate(self.cells):
            genotype = arch.reduce if cell.reduction else arch.conv
            if recompute:
                s0, s1 = s1, checkpoint(cell, s0, s1, genotype, use_reentrant=False)
            else:
                s0, s1 = s1, cell(s0, s1, genotype)
            if idx == self.aux_after and self.training and self.aux_head is not None:
                aux = self.aux_head(s1)
        logits = self._head(s1)
        return (logits, aux) if aux is not None else logits

    def _head(self, s: torch.Tensor) -> torch.Tensor:
        return self.classifier(F.adaptive_avg_pool2d(s, 1).flatten(1))

    def forward_memo(self, memo: Memo, x: Handle, arch: MicroArchitecture) -> Handle:
        """The logits of `forward(x, arch)` in evaluation, through `memo` (memo.py)."""
        s0 = s1 = memo.module(self.stem, x)
        for cell in self.cells:
            genotype = arch.reduce if cell.reduction else arch.conv
            s0, s1 = s1, cell.forward_memo(memo, s0, s1, genotype)
        return memo(self.classifier, self._head, s1)
