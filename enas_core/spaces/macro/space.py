"""The macro space as the registry sees it (`MacroSpace`): what builds, prices and draws its
architectures, from the other modules of this folder, and the final network walked once for
its costs and latency-table keys.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ...architecture import ArchitectureError
from ...layout import half
from ...opcosts import NetOp, bn, conv, factorized_reduce, linear
from ..base import InputShape, SearchSpace, register_space
from .architecture import MACRO_PRIMITIVES, MacroArchitecture
from .costs import MACRO_OP_COSTS
from .layout import kept_states, macro_layout

if TYPE_CHECKING:
    from torch import nn

    from ...config import ControllerConfig, ModelConfig
    from ...opcosts import Heap, Key


def _uniform(layers: int, op: int, skip: int) -> MacroArchitecture:
    """Every layer the same op, every skip flag `skip`."""
    return MacroArchitecture.parse([v for i in range(layers) for v in (op, *[skip] * i)],
                                   layers)


@register_space
class MacroSpace(SearchSpace):
    name = "macro"
    architecture = MacroArchitecture
    text_parts = ("architecture",)
    summary_keys = ("arc",)
    rank = 10
    primitives = MACRO_PRIMITIVES
    op_costs = MACRO_OP_COSTS

    def size(self, model: ModelConfig) -> int:
        return model.layers

    def arch_size(self, arch: MacroArchitecture) -> int:
        return arch.layers

    def sized(self, model: ModelConfig, size: int) -> ModelConfig:
        return replace(model, space=self.name, layers=size)

    def check_fits(self, arch: Any, model: ModelConfig) -> None:
        super().check_fits(arch, model)
        if arch.layers != model.layers:
            raise ArchitectureError(
                f"the macro architecture has {arch.layers} layers; the network config asks for "
                f"{model.layers}"
            )

    # -- architectures --

    def parse(self, *texts: str) -> MacroArchitecture:
        if len(texts) != 1:
            raise ArchitectureError("a macro architecture is one list of integers")
        return MacroArchitecture.parse(texts[0])

    def summary(self, arch: MacroArchitecture) -> dict[str, Any]:
        return {"arc": arch.to_text()}

    def from_summary(self, data: dict[str, Any]) -> MacroArchitecture:
        return MacroArchitecture.parse(data["arc"])

    def text_lines(self, arch_json: dict[str, Any]) -> list[tuple[str, str]]:
        return [("architecture", arch_json["text"])]

    def draw(self, arch: MacroArchitecture, *, title: str | None = None) -> str:
        from .draw import draw_macro

        return draw_macro(arch, title=title)

    def smallest(self, size: int) -> MacroArchitecture:
        """Max pools, no skips."""
        return _uniform(size, MACRO_PRIMITIVES.index("max_pool_3x3"), 0)

    def largest(self, size: int) -> MacroArchitecture:
        """5x5 convs, every skip."""
        return _uniform(size, MACRO_PRIMITIVES.index("conv_5x5"), 1)

    def random(self, model: ModelConfig, rng: random.Random,
               op: Callable[[int], int] | None = None) -> MacroArchitecture:
        values: list[int] = []
        for i in range(model.layers):
            layer_op = rng.randrange(len(MACRO_PRIMITIVES)) if op is None else op(i)
            values += [layer_op, *(rng.randrange(2) for _ in range(i))]
        return MacroArchitecture.parse(values, model.layers)

    def probes(self, model: ModelConfig) -> list[MacroArchitecture]:
        """Each op in every layer."""
        return [_uniform(model.layers, op, 0) for op in range(len(MACRO_PRIMITIVES))]

    # -- modules --

    def op_modules(self) -> dict[str, Callable[..., nn.Module]]:
        from .ops import MACRO_OPS

        return MACRO_OPS

    def build_controller(self, model: ModelConfig, config: ControllerConfig) -> nn.Module:
        from .controller import MacroController

        return MacroController(model.layers, config)

    def build_search_network(self, model: ModelConfig, in_channels: int,
                             num_classes: int) -> nn.Module:
        from .search_model import MacroSearchNetwork

        return MacroSearchNetwork(model, in_channels, num_classes)

    def build_network(self, arch: MacroArchitecture, model: ModelConfig, in_channels: int,
                      num_classes: int) -> nn.Module:
        from .model import MacroNetwork

        return MacroNetwork(arch, model, in_channels, num_classes)

    # -- the final network, walked once --

    def pieces(self, arch: MacroArchitecture, model: ModelConfig, input_shape: InputShape,
               num_classes: int) -> list[NetOp]:
        c_in, h, w = input_shape
        layout = macro_layout(model, c_in, (h, w))
        c = layout.channels
        pieces = [NetOp(("mstem", c_in, c, h, w), conv(c_in, c, 3) + bn(c),
                        c_in * c * 9 * h * w)]
        idle = []
        for slot, op, flags in zip(layout.layers, arch.ops, arch.skips, strict=True):
            i, (h, w) = slot.index, slot.hw
            name = MACRO_PRIMITIVES[op]
            cost = MACRO_OP_COSTS[name]
            pieces.append(NetOp(("mop", name, c, h, w), cost.weights(c, 1),
                                cost.macs(c, 1, h * w), module=f"ops.{i}"))
            reads = sum(flags)
            pieces += [NetOp(("add", c, h, w))] * reads
            if reads:
                pieces.append(NetOp(("div", c, h, w)))
            pieces.append(NetOp(("bn", c, h, w), bn(c), module=f"bns.{i}"))
            if slot.pool is not None:
                # MacroNetwork builds a reduction for every state a later layer reads, but runs
                # only those of states that exist at this point (index <= i + 1): a skip to a
                # layer after the pool holds weights it never uses.
                for k in kept_states(arch, i):
                    if k <= i + 1:
                        pieces.append(NetOp(("mreduce", c, h, w), factorized_reduce(c, c),
                                            c * c * half(h) * half(w),
                                            module=f"reductions.{slot.pool}.{k}"))
                    else:
                        idle.append(NetOp(("mreduce", c, h, w), factorized_reduce(c, c),
                                          runs=False))
        (h, w) = layout.hw_out
        pieces.append(NetOp(("head", c, num_classes, h, w), linear(c, num_classes),
                            c * num_classes))
        return pieces + idle

    def replay(self, heap: Heap, arch: MacroArchitecture, model: ModelConfig,
               input_shape: InputShape, num_classes: int) -> None:
        """MacroNetwork.forward in eval mode."""
        c_in, h, w = input_shape
        layout = macro_layout(model, c_in, (h, w))
        c = layout.channels
        x = heap.new(c_in, h, w)
        states: list[Any] = [heap.chain(x, [(c, h, w)] * 2)]
        out = None
        for slot, op, flags in zip(layout.layers, arch.ops, arch.skips, strict=True):
            i, (h, w) = slot.index, slot.hw
            new = MACRO_OP_COSTS[MACRO_PRIMITIVES[op]].forward(heap, states[i], c, h, w, 1)
            if out is not None:
                heap.drop(out)
            out = new
            reads = sum(flags)
            for _ in range(reads + (1 if reads else 0)):  # out + s, ..., then out / k
                new = heap.new(c, h, w)
                heap.drop(out)
                out = new
            states.append(heap.new(c, h, w))  # BN
            if slot.pool is not None:
                kept = set(kept_states(arch, i))
                reduced = [heap.factorized_reduce(s, c, c, h, w, relu=False)
                           if k in kept and s is not None else None
                           for k, s in enumerate(states)]
                heap.drop(*(s for s in states if s is not None))
                states = reduced
        pooled = heap.new(c, 1, 1)
        logits = heap.new(num_classes, 1, 1)
        heap.drop(pooled, logits, *(s for s in states if s is not None), x)
        if out is not None:
            heap.drop(out)

    def table_keys(self, model: ModelConfig, input_shape: InputShape,
                   num_classes: int) -> list[Key]:
        c_in, h, w = input_shape
        layout = macro_layout(model, c_in, (h, w))
        c = layout.channels
        keys = [("mstem", c_in, c, h, w)]
        for slot in layout.layers:
            keys += [("mop", name, c, *slot.hw) for name in MACRO_PRIMITIVES]
            keys += [(kind, c, *slot.hw) for kind in ("add", "div", "bn")]
            if slot.pool is not None:
                keys.append(("mreduce", c, *slot.hw))
        keys.append(("head", c, num_classes, *layout.hw_out))
        return list(dict.fromkeys(keys))

    def op_module(self, key: Key, batch_size: int) -> tuple[nn.Module, InputShape]:
        from torch import nn

        from ... import piece_modules
        from .ops import MACRO_OPS, FactorizedReduction

        kind = key[0]
        if kind == "mstem":
            _, c_in, c, h, w = key
            return piece_modules.stem(c_in, c), (c_in, h, w)
        if kind == "mop":
            _, name, c, h, w = key
            return MACRO_OPS[name](c, nn.BatchNorm2d), (c, h, w)
        if kind == "div":
            _, c, h, w = key
            return piece_modules.Div(), (c, h, w)
        if kind == "bn":
            _, c, h, w = key
            return nn.BatchNorm2d(c), (c, h, w)
        if kind == "mreduce":
            _, c, h, w = key
            return FactorizedReduction(c, nn.BatchNorm2d), (c, h, w)
        return super().op_module(key, batch_size)
