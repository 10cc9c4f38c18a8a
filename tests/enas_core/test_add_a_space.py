"""CONTRIBUTING's "How to add a search space" holds: one new folder beside `spaces/micro/` and
`spaces/macro/`, and nothing else edited, gives a space the whole engine runs. The folder here
is a tiny third space, "chain" (one op per layer, no skips), written to a temporary directory
that joins `enas_core.spaces` for the test; the test runs a job in it (search steps, controller
training, a final training), prices and draws its architectures, all through the registry, and
then forgets it."""

from __future__ import annotations

import importlib
import random
import sys
import textwrap

import pytest
import torch

import enas_core.spaces
from enas_core import costs
from enas_core.config import (
    ControllerConfig,
    ModelConfig,
    RunConfig,
    SearchConfig,
    TrainConfig,
)
from enas_core.metrics import measure_flops, measure_memory, measure_params
from enas_core.pipeline import run_job
from enas_core.spaces import (
    arch_from_json,
    build_network,
    draw,
    get_space,
    space_names,
    unregister_space,
)

FOLDER = {
    "__init__.py": '''
        """The chain space: `layers` layers, each one op, in a row."""

        from .architecture import PRIMITIVES, ChainArchitecture
        from .space import ChainSpace
        ''',
    "architecture.py": '''
        from __future__ import annotations

        from dataclasses import dataclass
        from typing import Any

        from ...architecture import ArchitectureError, parse_ints

        PRIMITIVES = ("conv_3x3", "max_pool_3x3")


        @dataclass(frozen=True)
        class ChainArchitecture:
            ops: tuple[int, ...]
            space = "chain"

            @classmethod
            def parse(cls, text: Any, layers: int | None = None) -> ChainArchitecture:
                ops = parse_ints(text, "chain architecture")
                if not ops or any(not 0 <= op < len(PRIMITIVES) for op in ops):
                    raise ArchitectureError(f"not a chain architecture: {text!r}")
                if layers is not None and len(ops) != layers:
                    raise ArchitectureError(f"{len(ops)} layers, expected {layers}")
                return cls(tuple(ops))

            def to_text(self) -> str:
                return " ".join(map(str, self.ops))

            @classmethod
            def from_json(cls, data: dict[str, Any]) -> ChainArchitecture:
                return cls.parse(data["text"])

            def to_json(self) -> dict[str, Any]:
                return {"space": "chain", "text": self.to_text(),
                        "ops": [PRIMITIVES[op] for op in self.ops]}

            def __str__(self) -> str:
                return self.to_text()
        ''',
    "costs.py": '''
        from ... import opcosts
        from ...opcosts import OpCost

        OP_COSTS = {
            "conv_3x3": OpCost(
                weights=lambda c, stride: opcosts.conv(c, c, 3) + opcosts.bn(c),
                macs=lambda c, stride, pixels: c * c * 9 * pixels,
                forward=lambda heap, x, c, h, w, stride: heap.chain(x, [(c, h, w)] * 3)),
            "max_pool_3x3": OpCost(
                weights=opcosts.weightless, macs=opcosts.no_macs,
                forward=lambda heap, x, c, h, w, stride: heap.max_pool(c, h, w)),
        }
        ''',
    "modules.py": '''
        """The ops, the controller, the search network and the final network (torch)."""

        import torch
        import torch.nn.functional as F
        from torch import nn

        from ...controller import LSTMController, Samples, squash
        from ...layers import ReLUConvBN, bn
        from .architecture import PRIMITIVES, ChainArchitecture

        OPS = {
            "conv_3x3": lambda c, affine=True: ReLUConvBN(c, c, 3, affine=affine),
            "max_pool_3x3": lambda c, affine=True: nn.MaxPool2d(3, 1, 1),
        }


        class ChainController(LSTMController):
            def __init__(self, layers, config):
                super().__init__(len(PRIMITIVES), config)
                self.layers = layers

            def decisions(self, arch):
                return list(arch.ops)

            def _run(self, n, decide):
                cfg = self.config
                h, c, inputs = self._start(n)
                choices = []
                for _ in range(self.layers):
                    h, c = self.lstm(inputs, (h, c))
                    op = decide(squash(self.w_soft(h), cfg.temperature, cfg.tanh_constant))
                    choices.append(op)
                    inputs = self.op_emb(op)
                rows = torch.stack(choices, 1).tolist()
                return Samples([ChainArchitecture(tuple(r)) for r in rows], decide.log_prob,
                               decide.entropy)


        def _stem(c_in, c, affine):
            return nn.Sequential(nn.Conv2d(c_in, c, 3, padding=1, bias=False), bn(c, affine))


        class ChainSearchNetwork(nn.Module):
            def __init__(self, config, in_channels, num_classes):
                super().__init__()
                c = config.channels
                self.stem = _stem(in_channels, c, False)
                self.ops = nn.ModuleList(
                    nn.ModuleList(OPS[name](c, False) for name in PRIMITIVES)
                    for _ in range(config.layers))
                self.classifier = nn.Linear(c, num_classes)

            def forward(self, x, arch):
                x = self.stem(x)
                for layer, op in zip(self.ops, arch.ops, strict=True):
                    x = layer[op](x)
                return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))


        class ChainNetwork(nn.Module):
            def __init__(self, arch, config, in_channels, num_classes):
                super().__init__()
                c = config.channels
                self.stem = _stem(in_channels, c, True)
                self.ops = nn.ModuleList(OPS[PRIMITIVES[op]](c) for op in arch.ops)
                self.classifier = nn.Linear(c, num_classes)

            def forward(self, x):
                x = self.stem(x)
                for op in self.ops:
                    x = op(x)
                return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))
        ''',
    "space.py": '''
        from dataclasses import replace

        from ...architecture import ArchitectureError
        from ...draw import PAD, Box, node_svg, svg
        from ...opcosts import NetOp, bn, conv, linear
        from ..base import SearchSpace, register_space
        from .architecture import PRIMITIVES, ChainArchitecture
        from .costs import OP_COSTS


        @register_space
        class ChainSpace(SearchSpace):
            name = "chain"
            architecture = ChainArchitecture
            text_parts = ("architecture",)
            summary_keys = ("chain",)
            primitives = PRIMITIVES
            op_costs = OP_COSTS

            def size(self, model):
                return model.layers

            def arch_size(self, arch):
                return len(arch.ops)

            def sized(self, model, size):
                return replace(model, space=self.name, layers=size)

            def parse(self, *texts):
                if len(texts) != 1:
                    raise ArchitectureError("a chain architecture is one list of integers")
                return ChainArchitecture.parse(texts[0])

            def summary(self, arch):
                return {"chain": arch.to_text()}

            def from_summary(self, data):
                return ChainArchitecture.parse(data["chain"])

            def text_lines(self, arch_json):
                return [("architecture", arch_json["text"])]

            def draw(self, arch, *, title=None):
                boxes = [Box(f"l{i}", PRIMITIVES[op], "node") for i, op in enumerate(arch.ops)]
                for i, box in enumerate(boxes):
                    box.x, box.y = PAD + 40 + 90 * i, 60
                return svg([node_svg(b) for b in boxes], 2 * PAD + 90 * len(boxes), 100,
                           title or "chain architecture", arch.to_text())

            def smallest(self, size):
                return ChainArchitecture((1,) * size)

            def largest(self, size):
                return ChainArchitecture((0,) * size)

            def random(self, model, rng, op=None):
                return ChainArchitecture(tuple(rng.randrange(len(PRIMITIVES)) if op is None
                                               else op(i) for i in range(model.layers)))

            def probes(self, model):
                return [ChainArchitecture((op,) * model.layers) for op in range(len(PRIMITIVES))]

            def op_modules(self):
                from .modules import OPS

                return OPS

            def build_controller(self, model, config):
                from .modules import ChainController

                return ChainController(model.layers, config)

            def build_search_network(self, model, in_channels, num_classes):
                from .modules import ChainSearchNetwork

                return ChainSearchNetwork(model, in_channels, num_classes)

            def build_network(self, arch, model, in_channels, num_classes):
                from .modules import ChainNetwork

                return ChainNetwork(arch, model, in_channels, num_classes)

            def pieces(self, arch, model, input_shape, num_classes):
                c_in, h, w = input_shape
                c = model.channels
                out = [NetOp(("cstem", c_in, c, h, w), conv(c_in, c, 3) + bn(c),
                             c_in * c * 9 * h * w)]
                for i, op in enumerate(arch.ops):
                    name = PRIMITIVES[op]
                    cost = OP_COSTS[name]
                    out.append(NetOp(("cop", name, c, h, w), cost.weights(c, 1),
                                     cost.macs(c, 1, h * w), module=f"ops.{i}"))
                out.append(NetOp(("head", c, num_classes, h, w), linear(c, num_classes),
                                 c * num_classes))
                return out

            def replay(self, heap, arch, model, input_shape, num_classes):
                c_in, h, w = input_shape
                c = model.channels
                x = heap.new(c_in, h, w)
                s = heap.chain(x, [(c, h, w)] * 2)
                for op in arch.ops:
                    new = OP_COSTS[PRIMITIVES[op]].forward(heap, s, c, h, w, 1)
                    heap.drop(s)
                    s = new
                pooled = heap.new(c, 1, 1)
                logits = heap.new(num_classes, 1, 1)
                heap.drop(pooled, logits, s, x)

            def table_keys(self, model, input_shape, num_classes):
                c_in, h, w = input_shape
                c = model.channels
                return [("cstem", c_in, c, h, w),
                        *(("cop", name, c, h, w) for name in PRIMITIVES),
                        ("head", c, num_classes, h, w)]

            def op_module(self, key, batch_size):
                from ... import piece_modules
                from .modules import OPS

                if key[0] == "cstem":
                    _, c_in, c, h, w = key
                    return piece_modules.stem(c_in, c), (c_in, h, w)
                if key[0] == "cop":
                    _, name, c, h, w = key
                    return OPS[name](c), (c, h, w)
                return super().op_module(key, batch_size)
        ''',
}


@pytest.fixture
def chain_space(tmp_path, monkeypatch):
    """The chain space's folder, imported as `enas_core.spaces.chain` (as the registry imports
    a folder of enas_core/spaces/), registered while the test runs."""
    folder = tmp_path / "chain"
    folder.mkdir()
    for name, source in FOLDER.items():
        (folder / name).write_text(textwrap.dedent(source).lstrip())
    monkeypatch.setattr(enas_core.spaces, "__path__", [*enas_core.spaces.__path__,
                                                       str(tmp_path)])
    importlib.import_module("enas_core.spaces.chain")
    try:
        yield get_space("chain")
    finally:
        unregister_space("chain")
        for module in [m for m in sys.modules if m.startswith("enas_core.spaces.chain")]:
            del sys.modules[module]


@pytest.mark.slow
def test_a_new_folder_is_a_space_the_engine_runs(chain_space, digits, tmp_path):
    assert space_names() == ("micro", "macro", "chain")
    ops = chain_space.op_modules()
    assert set(chain_space.primitives) == set(ops) == set(chain_space.op_costs)

    model = ModelConfig(space="chain", layers=3, channels=4)
    config = RunConfig(
        search=SearchConfig(model=model, controller=ControllerConfig(hidden_size=16,
                                                                     train_steps=1,
                                                                     num_aggregate=2),
                            epochs=1, steps_per_epoch=2, batch_size=16, eval_batch_size=32,
                            num_candidates=2, eval_batches=1, top_k=2),
        train=TrainConfig(model=model, epochs=1, steps_per_epoch=2, batch_size=16),
        seed=1,
    )
    result = run_job(config, digits, out_dir=tmp_path / "run")
    best = arch_from_json(result.best["arch"])
    assert best.space == "chain" and len(best.ops) == 3
    assert [row["phase"] for row in result.history] == ["search", "final"]
    assert 0.0 <= result.final["test_acc"] <= 1.0
    assert result.best["costs"]["params"] == measure_params(
        build_network(best, model, 1, 10))

    shape = (1, 12, 12)
    rng = random.Random(0)
    for arch in [chain_space.smallest(3), chain_space.largest(3),
                 *(chain_space.random(model, rng) for _ in range(3))]:
        net = build_network(arch, model, 1, 5)
        assert costs.count_params(arch, model, shape, 5) == measure_params(net)
        assert costs.count_flops(arch, model, shape, 5) == measure_flops(net, shape)
        predicted = costs.peak_memory(arch, model, shape, 5, batch_size=2)
        assert predicted.total == measure_memory(net, shape, batch_size=2).total
        picture = draw(arch, title="chain")
        assert picture.startswith("<svg") and picture.count('class="node"') == 3
        assert [f'data-node="l{i}"' in picture for i in range(3)] == [True] * 3
    with torch.no_grad():
        assert net(torch.zeros(2, *shape)).shape == (2, 5)


def test_the_temporary_space_is_gone_afterwards():
    assert space_names() == ("micro", "macro")
    assert "enas_core.spaces.chain" not in sys.modules
