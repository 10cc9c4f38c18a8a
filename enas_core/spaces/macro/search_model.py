"""The macro space's shared model: one set of weights for every op of every layer, and the
reductions of every state at each pool point; `forward(x, arch)` runs the sampled path.

Skip semantics follow the reference child (`general_child.py`): the network keeps a list of
states, the stem output first, then each layer's output. Layer i reads state i (the previous
layer's output, or the stem) through its op, and its skip flag j adds state j: the stem for
j = 0, the output of layer j-1 otherwise, so the direct input never doubles as a skip. Each
layer's output is the mean of its op output and its skip inputs, batch-normalised. After layers
`layers//3 - 1` and `2*(layers//3) - 1` every state still addressable is halved in resolution by
a factorized reduction; channels stay at `ModelConfig.channels` throughout, as in the reference
search model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...architecture import ArchitectureError
from ...config import ModelConfig
from ...memo import Handle, Memo, add
from .architecture import MACRO_PRIMITIVES, MacroArchitecture
from .layout import kept_states, pool_layers
from .ops import MACRO_OPS, FactorizedReduction, search_bn, skip_mean, stem


class MacroSearchNetwork(nn.Module):
    """Shared weights for every op of every layer; `forward(x, arch)` runs the sampled path."""

    def __init__(self, config: ModelConfig, in_channels: int, num_classes: int) -> None:
        super().__init__()
        c = config.channels
        self.layers = config.layers
        self.stem = stem(in_channels, c, search_bn)
        self.ops = nn.ModuleList(
            nn.ModuleList(MACRO_OPS[name](c, search_bn) for name in MACRO_PRIMITIVES)
            for _ in range(config.layers)
        )
        self.bns = nn.ModuleList(search_bn(c) for _ in range(config.layers))
        self.pool_at = pool_layers(config.layers)
        # One reduction per state that exists at each pool point: the stem and layers 0..i.
        self.reductions = nn.ModuleList(
            nn.ModuleList(FactorizedReduction(c, search_bn) for _ in range(i + 2))
            for i in self.pool_at
        )
        self.classifier = nn.Linear(c, num_classes)

    def _check(self, arch: MacroArchitecture) -> None:
        if arch.layers != self.layers:
            raise ArchitectureError(
                f"the macro architecture has {arch.layers} layers; the network has {self.layers}"
            )

    def forward(self, x: torch.Tensor, arch: MacroArchitecture) -> torch.Tensor:
        self._check(arch)
        states: list[torch.Tensor | None] = [self.stem(x)]
        for i, (op, flags) in enumerate(zip(arch.ops, arch.skips, strict=True)):
            out = self.ops[i][op](states[i])
            reads = [j for j, flag in enumerate(flags) if flag]
            states.append(self.bns[i](skip_mean(out, [states[j] for j in reads])))
            if i in self.pool_at:
                reduce = self.reductions[self.pool_at.index(i)]
                kept = set(kept_states(arch, i))  # reduce only what later layers read
                states = [reduce[k](s) if k in kept else None for k, s in enumerate(states)]
        return self._head(states[-1])

    def _head(self, s: torch.Tensor) -> torch.Tensor:
        return self.classifier(F.adaptive_avg_pool2d(s, 1).flatten(1))

    def forward_memo(self, memo: Memo, x: Handle, arch: MacroArchitecture) -> Handle:
        """The logits of `forward(x, arch)`, through `memo` (memo.py), op for op."""
        self._check(arch)
        states: list[Handle | None] = [memo.module(self.stem, x)]
        for i, (op, flags) in enumerate(zip(arch.ops, arch.skips, strict=True)):
            out = memo.module(self.ops[i][op], states[i])
            reads = [j for j, flag in enumerate(flags) if flag]
            for j in reads:
                out = memo(add, add, out, states[j])
            if reads:
                div = 1 + len(reads)
                out = memo(("mean", div), lambda t, d=div: t / d, out)
            states.append(memo.module(self.bns[i], out))
            if i in self.pool_at:
                reduce = self.reductions[self.pool_at.index(i)]
                kept = set(kept_states(arch, i))
                states = [memo.module(reduce[k], s) if k in kept else None
                          for k, s in enumerate(states)]
        return memo(self.classifier, self._head, states[-1])
