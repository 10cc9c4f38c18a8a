"""The micro space as the registry sees it (`MicroSpace`): what builds, prices and draws its
architectures, from the other modules of this folder, and the final network walked once for
its costs and latency-table keys.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ...architecture import ArchitectureError
from ...config import ConfigError
from ...opcosts import NetOp, bn, conv, factorized_reduce, linear
from ..base import InputShape, SearchSpace, register_space
from .architecture import PRIMITIVES, MicroArchitecture
from .costs import OP_COSTS
from .layout import micro_layout

if TYPE_CHECKING:
    from torch import nn

    from ...config import ControllerConfig, ModelConfig
    from ...opcosts import Heap, Key


def _edges(node: Any, reduction: bool) -> list[tuple[int, int, int]]:
    """(input, op, stride) of a node's two edges: stride 2 from a reduction cell's inputs."""
    return [(j, op, 2 if reduction and j < 2 else 1)
            for j, op in ((node.in1, node.op1), (node.in2, node.op2))]


@register_space
class MicroSpace(SearchSpace):
    name = "micro"
    architecture = MicroArchitecture
    text_parts = ("conv cell", "reduction cell")
    summary_keys = ("conv", "reduce")
    rank = 0  # the default
    primitives = PRIMITIVES
    op_costs = OP_COSTS

    def size(self, model: ModelConfig) -> int:
        return model.nodes

    def arch_size(self, arch: MicroArchitecture) -> int:
        return arch.nodes

    def sized(self, model: ModelConfig, size: int) -> ModelConfig:
        return replace(model, space=self.name, nodes=size)

    def check(self, model: ModelConfig) -> None:
        if model.layers < 3 or model.layers % 3:
            raise ConfigError(f"micro layers must be a positive multiple of 3, got "
                              f"{model.layers}", field="layers")

    def describe(self, model: ModelConfig) -> str:
        return f"{model.layers} layers, {model.channels} channels, {model.nodes} nodes"

    def prior(self, arch: MicroArchitecture) -> float:
        from .prior import prior_score

        self.own(arch)
        return prior_score(arch)

    # -- architectures --

    def parse(self, *texts: str) -> MicroArchitecture:
        if len(texts) != 2:
            raise ArchitectureError("a micro architecture is two cells: conv and reduction")
        return MicroArchitecture.parse(*texts)

    def summary(self, arch: MicroArchitecture) -> dict[str, Any]:
        return {"conv": arch.conv.to_text(), "reduce": arch.reduce.to_text()}

    def from_summary(self, data: dict[str, Any]) -> MicroArchitecture:
        return MicroArchitecture.parse(data["conv"], data["reduce"])

    def text_lines(self, arch_json: dict[str, Any]) -> list[tuple[str, str]]:
        return [("conv cell", arch_json["conv_text"]),
                ("reduction cell", arch_json["reduce_text"])]

    def draw(self, arch: MicroArchitecture, *, title: str | None = None) -> str:
        from .draw import draw_micro

        return draw_micro(arch, title=title)

    def smallest(self, size: int) -> MicroArchitecture:
        """Pools everywhere, the nodes in a chain (one loose end): node 0 reads inputs 0 and
        1, node k reads node k-1 (input k+1) twice."""
        pool = PRIMITIVES.index("max_pool_3x3")
        cell = [v for k in range(size) for v in ((0, pool, 1, pool) if k == 0
                                                 else (k + 1, pool, k + 1, pool))]
        return MicroArchitecture.parse(cell, cell)

    def largest(self, size: int) -> MicroArchitecture:
        """Separable 5x5 convs everywhere, every node a loose end."""
        op = PRIMITIVES.index("sep_conv_5x5")
        cell = [v for _ in range(size) for v in (0, op, 1, op)]
        return MicroArchitecture.parse(cell, cell)

    def random(self, model: ModelConfig, rng: random.Random,
               op: Callable[[int], int] | None = None) -> MicroArchitecture:
        num_ops = len(PRIMITIVES)
        choices = iter(range(4 * model.nodes))  # op choices: 2 a node, 2 cells

        def pick() -> int:
            return rng.randrange(num_ops) if op is None else op(next(choices))

        def cell() -> list[int]:
            return [v for k in range(model.nodes) for _ in range(2)
                    for v in (rng.randrange(k + 2), pick())]

        return MicroArchitecture.parse(cell(), cell())

    def probes(self, model: ModelConfig) -> list[MicroArchitecture]:
        """Each op on every edge, from a cell input (so with stride 2 in reduction cells) and
        from a node; then every number of loose ends."""
        n = model.nodes

        def cell(op: int, loose: int) -> list[int]:
            # nodes 1..n-loose read the node before (so it is not a loose end); the rest read
            # the cell inputs only: `loose` loose ends.
            return [v for k in range(n)
                    for v in ((k + 1, op, 1, op) if 1 <= k <= n - loose else (0, op, 1, op))]

        archs = [MicroArchitecture.parse(cell(op, 1), cell(op, 1)) for op in range(len(PRIMITIVES))]
        pool = PRIMITIVES.index("avg_pool_3x3")
        return archs + [MicroArchitecture.parse(cell(pool, loose), cell(pool, loose))
                        for loose in range(2, n + 1)]

    # -- modules --

    def op_modules(self) -> dict[str, Callable[..., nn.Module]]:
        from .ops import OPS

        return OPS

    def build_controller(self, model: ModelConfig, config: ControllerConfig) -> nn.Module:
        from .controller import MicroController

        return MicroController(model.nodes, config)

    def build_search_network(self, model: ModelConfig, in_channels: int,
                             num_classes: int) -> nn.Module:
        from .search_model import MicroSearchNetwork

        return MicroSearchNetwork(model, in_channels, num_classes)

    def build_network(self, arch: MicroArchitecture, model: ModelConfig, in_channels: int,
                      num_classes: int) -> nn.Module:
        from .model import MicroNetwork

        return MicroNetwork(arch, model, in_channels, num_classes)

    # -- the final network, walked once --

    def pieces(self, arch: MicroArchitecture, model: ModelConfig, input_shape: InputShape,
               num_classes: int) -> list[NetOp]:
        c_in, h, w = input_shape
        layout = micro_layout(model, c_in, (h, w))
        c_stem = layout.c_stem
        pieces = [NetOp(("stem", c_in, c_stem, h, w), conv(c_in, c_stem, 3) + bn(c_stem),
                        c_in * c_stem * 9 * h * w)]
        idle = []
        for s in layout.cells:
            c, (hp, wp), (h, w), (ho, wo) = s.c, s.hw_pp, s.hw, s.hw_out
            if s.reduction_prev:
                pieces.append(NetOp(("pre_fr", s.c_pp, c, hp, wp),
                                    factorized_reduce(s.c_pp, c), s.c_pp * c * h * w))
            else:
                pieces.append(NetOp(("pre_rcb", s.c_pp, c, hp, wp), conv(s.c_pp, c) + bn(c),
                                    s.c_pp * c * hp * wp))
            pieces.append(NetOp(("pre_rcb", s.c_p, c, h, w), conv(s.c_p, c) + bn(c),
                                s.c_p * c * h * w))
            cell = arch.reduce if s.reduction else arch.conv
            for i, node in enumerate(cell.nodes):
                for k, (j, op, stride) in enumerate(_edges(node, s.reduction)):
                    cost = OP_COSTS[PRIMITIVES[op]]
                    hw = (h, w) if j < 2 else (ho, wo)
                    pieces.append(NetOp(("op", PRIMITIVES[op], c, *hw, stride),
                                        cost.weights(c, stride), cost.macs(c, stride, ho * wo),
                                        module=f"cells.{s.index}.ops.{2 * i + k}"))
                pieces.append(NetOp(("add", c, ho, wo)))
            loose = len(cell.loose_ends())
            pieces.append(NetOp(("out", loose, c, ho, wo), conv(loose * c, c) + bn(c),
                                loose * c * c * ho * wo, module=f"cells.{s.index}.out"))
            if s.aux:  # layers.AuxiliaryHead: trained with, not run at inference
                idle.append(NetOp(("aux", c, num_classes), conv(c, 128) + bn(128)
                                  + conv(128, 768, 2) + bn(768) + linear(768, num_classes),
                                  runs=False))
        c_out, (h, w) = layout.c_out, layout.hw_out
        pieces.append(NetOp(("head", c_out, num_classes, h, w), linear(c_out, num_classes),
                            c_out * num_classes))
        return pieces + idle

    def replay(self, heap: Heap, arch: MicroArchitecture, model: ModelConfig,
               input_shape: InputShape, num_classes: int) -> None:
        """MicroNetwork.forward in eval mode."""
        c_in, h, w = input_shape
        layout = micro_layout(model, c_in, (h, w))
        x = heap.new(c_in, h, w)  # held by the caller throughout
        stem = heap.chain(x, [(layout.c_stem, h, w)] * 2)
        s0, s1 = stem, heap.ref(stem)
        for s in layout.cells:
            c, (hp, wp), (h, w), (ho, wo) = s.c, s.hw_pp, s.hw, s.hw_out
            # FixedCell.forward(s0, s1): s0 and s1 stay held by the caller.
            if s.reduction_prev:
                p0 = heap.factorized_reduce(s0, s.c_pp, c, hp, wp, relu=True)
            else:
                p0 = heap.chain(s0, [(s.c_pp, hp, wp), (c, hp, wp), (c, hp, wp)])
            p1 = heap.chain(s1, [(s.c_p, h, w), (c, h, w), (c, h, w)])
            states = [p0, p1]
            ha = hb = None
            cell = arch.reduce if s.reduction else arch.conv
            for node in cell.nodes:
                outs = []
                for j, op, stride in _edges(node, s.reduction):
                    hi, wi = (h, w) if j < 2 else (ho, wo)
                    cost = OP_COSTS[PRIMITIVES[op]]
                    outs.append(cost.forward(heap, states[j], c, hi, wi, stride))
                if ha is not None:  # `ha, hb = ...` drops the previous node's op outputs
                    heap.drop(ha, hb)
                ha, hb = outs
                states.append(heap.new(c, ho, wo))  # ha + hb
            loose = len(cell.loose_ends())
            cat = heap.new(loose * c, ho, wo)
            out = heap.chain(cat, [(loose * c, ho, wo), (c, ho, wo), (c, ho, wo)])
            heap.drop(cat, *states, ha, hb)  # the cell returns: its locals go
            heap.drop(s0)  # `s0, s1 = s1, cell(s0, s1)`
            s0, s1 = s1, out
        pooled = heap.new(layout.c_out, 1, 1)
        logits = heap.new(num_classes, 1, 1)
        heap.drop(pooled, logits, s0, s1, x)

    def table_keys(self, model: ModelConfig, input_shape: InputShape,
                   num_classes: int) -> list[Key]:
        c_in, h, w = input_shape
        layout = micro_layout(model, c_in, (h, w))
        keys = [("stem", c_in, layout.c_stem, h, w)]
        for s in layout.cells:
            c = s.c
            keys += [("pre_fr" if s.reduction_prev else "pre_rcb", s.c_pp, c, *s.hw_pp),
                     ("pre_rcb", s.c_p, c, *s.hw)]
            for name in PRIMITIVES:
                keys.append(("op", name, c, *s.hw, 2 if s.reduction else 1))
                if s.reduction:
                    keys.append(("op", name, c, *s.hw_out, 1))
            keys.append(("add", c, *s.hw_out))
            keys += [("out", loose, c, *s.hw_out) for loose in range(1, model.nodes + 1)]
        keys.append(("head", layout.c_out, num_classes, *layout.hw_out))
        return list(dict.fromkeys(keys))

    def op_module(self, key: Key, batch_size: int) -> tuple[nn.Module, InputShape]:
        from ... import piece_modules
        from ...layers import FactorizedReduce, ReLUConvBN
        from .ops import OPS

        kind = key[0]
        if kind == "stem":
            _, c_in, c, h, w = key
            return piece_modules.stem(c_in, c), (c_in, h, w)
        if kind == "pre_fr":
            _, c_in, c, h, w = key
            return FactorizedReduce(c_in, c), (c_in, h, w)
        if kind == "pre_rcb":
            _, c_in, c, h, w = key
            return ReLUConvBN(c_in, c, 1), (c_in, h, w)
        if kind == "op":
            _, name, c, h, w, stride = key
            return OPS[name](c, stride), (c, h, w)
        if kind == "out":
            _, loose, c, h, w = key
            return piece_modules.CellOutput(loose, c, (batch_size, c, h, w)), (c, h, w)
        return super().op_module(key, batch_size)
