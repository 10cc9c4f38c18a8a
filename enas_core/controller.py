"""The ENAS controller for the micro space: an LSTM that samples both cells node by node.

Follows the reference implementation: for each node it picks two inputs with attention over the
anchors (the LSTM outputs of earlier nodes; zeros for the cell inputs) and then two ops from a
softmax, with `tanh_constant * tanh(logits / temperature)` on every logit. It runs on the CPU:
each decision reads a sample back, which on a GPU would synchronise the device every time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .architecture import (
    PRIMITIVES,
    Architecture,
    ArchitectureError,
    Cell,
    MicroArchitecture,
    Node,
)
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


class LSTMController(nn.Module):
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

    def decisions(self, arch: Architecture) -> list[int]:
        raise NotImplementedError

    def _run(self, n: int, decide: Decider) -> Samples:
        raise NotImplementedError

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


class MicroController(LSTMController):
    def __init__(self, nodes: int, config: ControllerConfig) -> None:
        super().__init__(len(PRIMITIVES), config)
        self.nodes = nodes
        for name in ("op_bias", "conv_op_bias"):
            bias = getattr(config, name)
            if bias is not None and len(bias) != len(PRIMITIVES):
                raise ValueError(f"{name} needs one value per op ({len(PRIMITIVES)}: "
                                 f"{', '.join(PRIMITIVES)}), got {len(bias)}")
        if config.op_bias is not None:
            with torch.no_grad():
                self.w_soft.bias.copy_(torch.tensor(config.op_bias))
        # Not a parameter: the reference adds it after the tanh and never learns it.
        conv_bias = torch.tensor(config.conv_op_bias or [0.0] * len(PRIMITIVES))
        self.register_buffer("conv_op_bias", conv_bias, persistent=False)

    def decisions(self, arch: Architecture) -> list[int]:
        if not isinstance(arch, MicroArchitecture) or arch.nodes != self.nodes:
            raise ArchitectureError(
                f"the controller samples micro cells of {self.nodes} nodes; got {arch}"
            )
        # Per node the inputs are drawn first, then the ops.
        return [v for cell in (arch.conv, arch.reduce) for nd in cell.nodes
                for v in (nd.in1, nd.in2, nd.op1, nd.op2)]

    def _run(self, n: int, decide: Decider) -> Samples:
        cfg = self.config
        h, c, g_emb = self._start(n)
        inputs = g_emb
        rows = torch.arange(n)
        op_tanh = cfg.tanh_constant / cfg.op_tanh_reduce if cfg.tanh_constant else None
        cell_choices = []
        for cell in range(2):  # conv cell, then reduction cell
            op_bias = self.conv_op_bias if cell == 0 else 0.0
            anchors: list[torch.Tensor] = []
            anchors_w1: list[torch.Tensor] = []
            for _ in range(2):  # the two cell inputs
                h, c = self.lstm(inputs, (h, c))
                anchors.append(torch.zeros_like(h))
                anchors_w1.append(self.w_attn_1(h))
            choices = []
            for _ in range(self.nodes):
                for _ in range(2):
                    h, c = self.lstm(inputs, (h, c))
                    index = decide(self._attend(anchors_w1, h))
                    choices.append(index)
                    inputs = torch.stack(anchors, 1)[rows, index]
                for _ in range(2):
                    h, c = self.lstm(inputs, (h, c))
                    op = decide(squash(self.w_soft(h), cfg.temperature, op_tanh) + op_bias)
                    choices.append(op)
                    inputs = self.op_emb(op)
                h, c = self.lstm(inputs, (h, c))
                anchors.append(h)
                anchors_w1.append(self.w_attn_1(h))
                inputs = g_emb
            cell_choices.append(torch.stack(choices, 1).tolist())
        archs = [
            MicroArchitecture(_cell(conv), _cell(reduce))
            for conv, reduce in zip(*cell_choices, strict=True)
        ]
        return Samples(archs, decide.log_prob, decide.entropy)


def _cell(decisions: list[int]) -> Cell:
    """Decisions come per node as (input, input, op, op); nodes store (input, op, input, op)."""
    return Cell(tuple(
        Node(decisions[i], decisions[i + 2], decisions[i + 1], decisions[i + 3])
        for i in range(0, len(decisions), 4)
    ))
