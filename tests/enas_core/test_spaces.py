"""Every registered search space (timm tests every registered model): its architectures read
back what they print, its networks run, and the costs its walk predicts are what the built
network measures. A new space gets these tests by being registered."""

from __future__ import annotations

import random

import pytest
import torch

from enas_core import costs
from enas_core.config import ControllerConfig, ModelConfig
from enas_core.latency import table_keys
from enas_core.metrics import measure_flops, measure_memory, measure_params
from enas_core.spaces import (
    SearchSpace,
    arch_from_json,
    arch_from_summary,
    arch_summary,
    build_controller,
    build_network,
    build_search_model,
    get_space,
    register_space,
    space_names,
)
from enas_core.spaces.macro.architecture import MACRO_PRIMITIVES
from enas_core.spaces.macro.costs import MACRO_OP_COSTS
from enas_core.spaces.macro.ops import MACRO_OPS
from enas_core.spaces.micro.architecture import PRIMITIVES
from enas_core.spaces.micro.costs import OP_COSTS
from enas_core.spaces.micro.ops import OPS

SHAPE = (1, 12, 12)


def small_model(space: str) -> ModelConfig:
    return get_space(space).sized(ModelConfig(layers=3, channels=4, nodes=3), 3)


@pytest.mark.parametrize("space", space_names())
def test_architectures_read_back_what_they_print(space):
    rng = random.Random(0)
    model = small_model(space)
    s = get_space(space)
    for _ in range(5):
        arch = s.random(model, rng)
        assert arch_from_json(arch.to_json()) == arch
        assert arch_from_summary(arch_summary(arch)) == arch
        texts = [text for _, text in s.text_lines(arch.to_json())]
        assert s.parse(*texts) == arch


@pytest.mark.parametrize("space", space_names())
def test_controller_and_networks_run(space):
    model = small_model(space)
    torch.manual_seed(0)
    controller = build_controller(model, ControllerConfig(hidden_size=16))
    samples = controller(3, torch.Generator().manual_seed(0))
    assert len(samples.archs) == 3 and samples.log_prob.shape == (3,)
    log_prob, _ = controller.log_prob(samples.archs)  # teacher forcing replays the samples
    torch.testing.assert_close(log_prob, samples.log_prob)
    search = build_search_model(model, SHAPE[0], 5)
    x = torch.randn(2, *SHAPE)
    assert search(x, samples.archs[0]).shape == (2, 5)
    net = build_network(samples.archs[0], model, SHAPE[0], 5).eval()
    assert net(x).shape == (2, 5)


@pytest.mark.parametrize("space", space_names())
def test_predicted_costs_are_what_the_built_network_measures(space):
    rng = random.Random(1)
    model = small_model(space)
    s = get_space(space)
    keys = set(table_keys(model, SHAPE, 5))
    for arch in [s.smallest(s.size(model)), s.largest(s.size(model)),
                 *(s.random(model, rng) for _ in range(3))]:
        net = build_network(arch, model, SHAPE[0], 5)
        assert costs.count_params(arch, model, SHAPE, 5) == measure_params(net)
        assert costs.count_flops(arch, model, SHAPE, 5) == measure_flops(net, SHAPE)
        predicted = costs.peak_memory(arch, model, SHAPE, 5, batch_size=2)
        assert predicted.total == measure_memory(net, SHAPE, batch_size=2).total
        assert {op.key for op in costs.network_ops(arch, model, SHAPE, 5)} <= keys
        for op in costs.pieces(arch, model, SHAPE, 5):  # pieces timed in place are there
            if op.module is not None:
                net.get_submodule(op.module)


@pytest.mark.parametrize("space", space_names())
def test_each_op_has_a_module_and_a_cost(space):
    s = get_space(space)
    assert len(set(s.primitives)) == len(s.primitives) > 1
    assert set(s.primitives) == set(s.op_modules()) == set(s.op_costs)


def test_the_spaces_name_their_own_op_tables():
    assert get_space("micro").primitives == PRIMITIVES
    assert get_space("micro").op_modules() is OPS and get_space("micro").op_costs is OP_COSTS
    assert get_space("macro").primitives == MACRO_PRIMITIVES
    assert get_space("macro").op_modules() is MACRO_OPS
    assert get_space("macro").op_costs is MACRO_OP_COSTS


def test_a_second_space_of_a_name_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_space(type(get_space("micro")))
    assert issubclass(type(get_space("macro")), SearchSpace)


def test_an_unknown_space_is_a_config_error_naming_the_choices():
    with pytest.raises(ValueError, match="unknown search space 'nano'; spaces: micro, macro"):
        get_space("nano")
