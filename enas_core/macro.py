"""The ENAS macro search space: a whole network of `layers` conv layers, one op per layer plus
skip connections (Pham et al. 2018, section 2.3; the reference code's `general_controller.py`
and `general_child.py`).

Skip semantics follow the reference child: the network keeps a list of states, the stem output
first, then each layer's output. Layer i reads state i (the previous layer's output, or the stem)
through its op, and its skip flag j adds state j: the stem for j = 0, the output of layer j-1
otherwise, so the direct input never doubles as a skip. Each layer's output is the mean of its op
output and its skip inputs, batch-normalised. After layers `layers//3 - 1` and
`2*(layers//3) - 1` every state still addressable is halved in resolution by a factorized
reduction; channels stay at `ModelConfig.channels` throughout, as in the reference search model.

Like the micro controller, the controller runs on the CPU and architectures are plain Python
data, so a forward pass of either network never synchronises the device.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from .architecture import MACRO_PRIMITIVES, ArchitectureError, MacroArchitecture
from .config import ControllerConfig, ModelConfig
from .controller import Decider, LSTMController, Samples, squash
from .layout import kept_states, pool_layers
from .memo import Handle, Memo, add
from .model import drop_path
from .ops import offset_grids

__all__ = ["MACRO_OPS", "FactorizedReduction", "MacroController",
           "MacroNetwork", "MacroSamples", "MacroSearchNetwork", "kept_states", "pool_layers"]

# -- controller ------------------------------------------------------------------------------


@dataclass
class MacroSamples(Samples):
    """`Samples` of macro architectures, with the skip penalty of each one.

    `skip_penalty` (n,), differentiable: per architecture, the KL divergence of each sampled skip
    probability from `ControllerConfig.skip_target`, summed over a layer's skips and averaged
    over the layers that have skips (the reference's `skip_penaltys`). The search loop adds
    `skip_weight * skip_penalty.mean()` to the controller loss.
    """

    skip_penalty: torch.Tensor | None = None

    def penalty(self, config: ControllerConfig) -> torch.Tensor | float:
        if self.skip_penalty is None:
            return 0.0
        return config.skip_weight * self.skip_penalty.mean()


class MacroController(LSTMController):
    """Per layer: an op from a softmax, then one Bernoulli skip flag per earlier layer.

    The skip probability of layer i to layer j is `sigmoid(squash(v_attn(tanh(w_attn_1(h_j) +
    w_attn_2(h_i)))))`, where h_j is the LSTM output after layer j's op; the next LSTM input is
    the mean of the chosen anchors, as in the reference. Temperature and tanh constant apply to
    every logit; `op_tanh_reduce` is a micro-space setting and is not used here (the reference's
    general controller has none).
    """

    def __init__(self, layers: int, config: ControllerConfig) -> None:
        if layers < 1:
            raise ValueError(f"layers must be positive, got {layers}")
        if not 0.0 < config.skip_target < 1.0:
            raise ValueError(f"skip_target must be in (0, 1), got {config.skip_target}")
        super().__init__(len(MACRO_PRIMITIVES), config)
        self.layers = layers

    def decisions(self, arch) -> list[int]:
        if not isinstance(arch, MacroArchitecture) or arch.layers != self.layers:
            raise ArchitectureError(
                f"the macro architecture has {getattr(arch, 'layers', '?')} layers; the "
                f"controller samples {self.layers}"
            )
        # The integer form is the order decisions are drawn in: per layer, op then skips.
        return arch.to_ints()

    def _run(self, n: int, decide: Decider) -> MacroSamples:
        cfg = self.config
        h, c, g_emb = self._start(n)
        inputs = g_emb
        zeros = torch.zeros(n)
        target = torch.tensor([1.0 - cfg.skip_target, cfg.skip_target])
        anchors: list[torch.Tensor] = []
        anchors_w1: list[torch.Tensor] = []
        choices: list[torch.Tensor] = []
        penalties: list[torch.Tensor] = []
        for layer in range(self.layers):
            h, c = self.lstm(inputs, (h, c))
            op = decide(squash(self.w_soft(h), cfg.temperature, cfg.tanh_constant))
            choices.append(op)
            h, c = self.lstm(self.op_emb(op), (h, c))
            if layer > 0:
                logits = self._attend(anchors_w1, h)  # (n, layer): skip logits
                # Bernoulli(sigmoid(l)) as a two-way softmax over (0, l), so the Decider keeps
                # the log-prob, the entropy and teacher forcing.
                skips = [decide(torch.stack([zeros, logits[:, j]], 1)) for j in range(layer)]
                choices += skips
                # KL(Bernoulli(p) || Bernoulli(skip_target)), p = sigmoid(l), summed over j.
                log_p = torch.stack([F.logsigmoid(-logits), F.logsigmoid(logits)], 2)
                penalties.append((log_p.exp() * (log_p - target.log())).sum((1, 2)))
                flags = torch.stack(skips, 1).to(h.dtype)  # (n, layer)
                inputs = (flags[:, None] @ torch.stack(anchors, 1)).squeeze(1)
                inputs = inputs / (1.0 + flags.sum(1, keepdim=True))
            else:
                inputs = g_emb
            anchors.append(h)
            anchors_w1.append(self.w_attn_1(h))
        rows = torch.stack(choices, 1).tolist()
        archs = [MacroArchitecture.parse(row, self.layers) for row in rows]
        penalty = torch.stack(penalties, 1).mean(1) if penalties else torch.zeros(n)
        return MacroSamples(archs, decide.log_prob, decide.entropy, penalty)


# -- networks --------------------------------------------------------------------------------

BN = Callable[[int], nn.Module]
# Search-time BNs use batch statistics only, in eval mode too: running averages over many
# different architectures would describe none of them.
_search_bn: BN = partial(nn.BatchNorm2d, affine=False, track_running_stats=False)


def _conv(kernel: int) -> Callable[[int, BN], nn.Module]:
    def build(c: int, bn: BN) -> nn.Module:
        return nn.Sequential(
            nn.ReLU(), nn.Conv2d(c, c, kernel, padding=kernel // 2, bias=False), bn(c)
        )

    return build


def _sep_conv(kernel: int) -> Callable[[int, BN], nn.Module]:
    def build(c: int, bn: BN) -> nn.Module:
        return nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(c, c, kernel, padding=kernel // 2, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            bn(c),
        )

    return build


MACRO_OPS: dict[str, Callable[[int, BN], nn.Module]] = {
    "conv_3x3": _conv(3),
    "sep_conv_3x3": _sep_conv(3),
    "conv_5x5": _conv(5),
    "sep_conv_5x5": _sep_conv(5),
    "avg_pool_3x3": lambda c, bn: nn.AvgPool2d(3, 1, 1, count_include_pad=False),
    "max_pool_3x3": lambda c, bn: nn.MaxPool2d(3, 1, 1),
}


class FactorizedReduction(nn.Module):
    """The reference child's reduction: two offset stride-2 1x1 convs, concatenated, then BN
    (no ReLU first, unlike `ops.FactorizedReduce`)."""

    def __init__(self, c: int, bn: BN) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c // 2, 1, bias=False)
        self.conv2 = nn.Conv2d(c, c - c // 2, 1, bias=False)
        self.bn = bn(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        even, odd = offset_grids(x)
        return self.bn(torch.cat([self.conv1(even), self.conv2(odd)], dim=1))


def skip_mean(out: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
    """A layer's output before its BN, in the search and the final networks alike: the mean of
    its op's output and the states its skip connections read."""
    for state in skips:
        out = out + state
    return out / (1 + len(skips)) if skips else out


def _stem(in_channels: int, c: int, bn: BN) -> nn.Module:
    return nn.Sequential(nn.Conv2d(in_channels, c, 3, padding=1, bias=False), bn(c))


class MacroSearchNetwork(nn.Module):
    """Shared weights for every op of every layer; `forward(x, arch)` runs the sampled path."""

    def __init__(self, config: ModelConfig, in_channels: int, num_classes: int) -> None:
        super().__init__()
        c = config.channels
        self.layers = config.layers
        self.stem = _stem(in_channels, c, _search_bn)
        self.ops = nn.ModuleList(
            nn.ModuleList(MACRO_OPS[name](c, _search_bn) for name in MACRO_PRIMITIVES)
            for _ in range(config.layers)
        )
        self.bns = nn.ModuleList(_search_bn(c) for _ in range(config.layers))
        self.pool_at = pool_layers(config.layers)
        # One reduction per state that exists at each pool point: the stem and layers 0..i.
        self.reductions = nn.ModuleList(
            nn.ModuleList(FactorizedReduction(c, _search_bn) for _ in range(i + 2))
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
        self.stem = _stem(in_channels, c, bn)
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
