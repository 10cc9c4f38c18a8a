"""What the spaces' ENAS controllers share: an LSTM that draws an architecture decision by
decision (`LSTMController`), the draws (`Decider`), the samples (`Samples`).

Follows the reference implementation: inputs are picked with attention over anchors (LSTM
outputs of earlier decisions) and ops from a softmax, with `tanh_constant * tanh(logits /
temperature)` on every logit. It runs on the CPU: each decision reads a sample back, which on a
GPU would synchronise the device every time. Each space's controller is in
`spaces/<space>/controller.py`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .architecture import Architecture
from .config import ControllerConfig


@dataclass
class Samples:
    archs: list[Architecture]
    log_prob: torch.Tensor  # (n,), differentiable
    entropy: torch.Tensor  # (n,), differentiable

    def penalty(self, config: ControllerConfig) -> torch.Tensor | float:
        """A space's own term of the controller's loss (none here)."""
        return 0.0


class Decider:
    """Draws (or, given `forced`, replays) a categorical decision for a batch of samples."""

    def __init__(self, generator: torch.Generator | None, forced: torch.Tensor | None) -> None:
        self.generator = generator
        self.forced = forced  # (n, decisions) or None
        self.step = 0
        self.log_prob: torch.Tensor | float = 0.0
        self.entropy: torch.Tensor | float = 0.0

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        """logits (n, k) -> choices (n,)"""
        log_p = F.log_softmax(logits, dim=-1)
        if self.forced is not None:
            choice = self.forced[:, self.step]
        else:
            choice = torch.multinomial(log_p.exp(), 1, generator=self.generator).squeeze(1)
        self.step += 1
        self.log_prob = self.log_prob + log_p.gather(1, choice[:, None]).squeeze(1)
        self.entropy = self.entropy - (log_p.exp() * log_p).sum(1)
        return choice


def squash(logits: torch.Tensor, temperature: float | None, tanh_c: float | None) -> torch.Tensor:
    if temperature:
        logits = logits / temperature
    if tanh_c:
        logits = tanh_c * torch.tanh(logits)
    return logits


class LSTMController(nn.Module, ABC):
    """What both spaces' controllers share: the LSTM, the embeddings, the attention and op
    softmax weights (the reference's names), batched sampling and teacher forcing.
    Subclasses draw the decisions in `_run` and list them, in drawing order, in `decisions`."""

    def __init__(self, num_ops: int, config: ControllerConfig) -> None:
        super().__init__()
        self.config = config
        h = config.hidden_size
        self.lstm = nn.LSTMCell(h, h)
        self.g_emb = nn.Parameter(torch.empty(1, h))
        self.op_emb = nn.Embedding(num_ops, h)
        self.w_attn_1 = nn.Linear(h, h, bias=False)
        self.w_attn_2 = nn.Linear(h, h, bias=False)
        self.v_attn = nn.Linear(h, 1, bias=False)
        self.w_soft = nn.Linear(h, num_ops)
        for p in self.parameters():
            nn.init.uniform_(p, -0.1, 0.1)

    def forward(self, n: int = 1, generator: torch.Generator | None = None) -> Samples:
        """Samples n architectures at once (one batched LSTM pass), with gradients."""
        return self._run(n, Decider(generator, None))

    @torch.no_grad()
    def sample(self, n: int = 1,
               generator: torch.Generator | None = None) -> list[Architecture]:
        return self._run(n, Decider(generator, None)).archs

    def log_prob(self, archs: Sequence[Architecture]) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities and entropies (n,) of given architectures (teacher forcing)."""
        rows = torch.tensor([self.decisions(arch) for arch in archs])
        out = self._run(len(archs), Decider(None, rows))
        return out.log_prob, out.entropy

    @abstractmethod
    def decisions(self, arch: Architecture) -> list[int]:
        """The decisions that draw `arch`, in drawing order (teacher forcing replays them)."""

    @abstractmethod
    def _run(self, n: int, decide: Decider) -> Samples:
        """Draws n architectures decision by decision with `decide`."""

    def _start(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """How `_run` starts for n samples: the LSTM's zero state (h, c) and its first input,
        the learned `g_emb`."""
        h = c = torch.zeros(n, self.config.hidden_size)
        return h, c, self.g_emb.expand(n, -1)

    def _attend(self, anchors_w1: list[torch.Tensor], h: torch.Tensor) -> torch.Tensor:
        """Logits (n, anchors) of picking each anchor: the reference's attention over the
        anchors' `w_attn_1` projections from the LSTM output `h`, squashed."""
        query = torch.tanh(torch.stack(anchors_w1, 1) + self.w_attn_2(h)[:, None])
        cfg = self.config
        return squash(self.v_attn(query).squeeze(2), cfg.temperature, cfg.tanh_constant)
