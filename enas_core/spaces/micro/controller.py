"""The ENAS controller for the micro space: an LSTM that samples both cells node by node.

For each node it picks two inputs with attention over the anchors (the LSTM outputs of earlier
nodes; zeros for the cell inputs) and then two ops from a softmax, as the reference does.
"""

from __future__ import annotations

import torch

from ...architecture import Architecture, ArchitectureError
from ...config import ControllerConfig
from ...controller import Decider, LSTMController, Samples, squash
from .architecture import PRIMITIVES, Cell, MicroArchitecture, Node


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
