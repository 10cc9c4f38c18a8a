"""A standalone macro-space network built from one architecture, trained from scratch: the
search network's structure (`search_model.py`) with only the chosen op per layer."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...architecture import ArchitectureError
from ...config import ModelConfig
from ...layers import drop_path
from .architecture import MACRO_PRIMITIVES, MacroArchitecture
from .layout import kept_states, pool_layers
from .ops import BN, MACRO_OPS, FactorizedReduction, skip_mean, stem


class MacroNetwork(nn.Module):
    """A standalone macro network built from one architecture: the search network's structure
    with only the chosen op per layer, the reductions that the architecture uses, and BNs with
    affine parameters and running statistics. Returns logits (`aux_head` does not apply to the
    macro space). With `drop_path` > 0 the op output of a layer with skips is dropped per sample
    in training (a layer without skips keeps its only path)."""

    def __init__(self, arch: MacroArchitecture, config: ModelConfig, in_channels: int,
                 num_classes: int) -> None:
        super().__init__()
        if arch.layers != config.layers:
            raise ArchitectureError(
                f"the macro architecture has {arch.layers} layers; the network config asks "
                f"for {config.layers}"
            )
        self.arch = arch
        c = config.channels
        bn: BN = nn.BatchNorm2d
        self.stem = stem(in_channels, c, bn)
        self.ops = nn.ModuleList(MACRO_OPS[MACRO_PRIMITIVES[op]](c, bn) for op in arch.ops)
        self.bns = nn.ModuleList(bn(c) for _ in arch.ops)
        self.reads = [[j for j, flag in enumerate(flags) if flag] for flags in arch.skips]
        self.pool_at = pool_layers(arch.layers)
        self.kept = [kept_states(arch, i) for i in self.pool_at]
        self.reductions = nn.ModuleList(
            nn.ModuleDict({str(k): FactorizedReduction(c, bn) for k in kept})
            for kept in self.kept
        )
        self.classifier = nn.Linear(c, num_classes)
        self.drop_prob = config.drop_path

    def set_drop_path(self, p: float) -> None:
        self.drop_prob = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states: list[torch.Tensor | None] = [self.stem(x)]
        for i, (op, reads) in enumerate(zip(self.ops, self.reads, strict=True)):
            out = op(states[i])
            if reads and self.training and self.drop_prob > 0:
                out = drop_path(out, self.drop_prob)
            states.append(self.bns[i](skip_mean(out, [states[j] for j in reads])))
            if i in self.pool_at:
                p = self.pool_at.index(i)
                reduce, kept = self.reductions[p], self.kept[p]
                states = [reduce[str(k)](s) if k in kept else None for k, s in enumerate(states)]
        return self.classifier(F.adaptive_avg_pool2d(states[-1], 1).flatten(1))
