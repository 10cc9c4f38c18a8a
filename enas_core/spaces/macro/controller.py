"""The ENAS controller for the macro space (the reference code's `general_controller.py`):
per layer an op from a softmax, then one Bernoulli skip flag per earlier layer. Like the micro
controller, it runs on the CPU and architectures are plain Python data.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ...architecture import ArchitectureError
from ...config import ControllerConfig
from ...controller import Decider, LSTMController, Samples, squash
from .architecture import MACRO_PRIMITIVES, MacroArchitecture


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
