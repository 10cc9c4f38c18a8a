"""The cost model against the built network, the latency table against measurement."""

import json
import random
from dataclasses import replace

import pytest
import torch

from enas_core import costs
from enas_core.config import ModelConfig
from enas_core.latency import (
    LatencyTable,
    latency_table,
    mape,
    measure_arch_latency,
    spearman,
    table_keys,
    torch_threads,
)
from enas_core.metrics import measure_flops, measure_latency, measure_memory, measure_params
from enas_core.spaces import build_network, random_architecture
from enas_core.spaces.macro.architecture import MacroArchitecture
from enas_core.spaces.micro.architecture import MicroArchitecture

gpu = pytest.mark.gpu
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

SHAPES = [(1, 28, 28), (3, 32, 32), (3, 13, 17), (1, 9, 9)]


def random_case(seed: int) -> tuple:
    """A random architecture of either space in a random small config and input."""
    rng = random.Random(seed)
    shape = rng.choice(SHAPES)
    if seed % 2:
        layers = rng.choice([1, 2, 3, 4, 6, 7])
        model = ModelConfig(space="macro", layers=layers, channels=rng.choice([3, 4, 6]))
    else:
        model = ModelConfig(layers=rng.choice([3, 6]), channels=rng.choice([3, 4, 6]),
                            nodes=rng.choice([1, 2, 3, 5]), stem_multiplier=rng.choice([1, 3]),
                            aux_head=rng.random() < 0.5)
    return random_architecture(model, rng), model, shape, rng.choice([2, 10])


@pytest.mark.parametrize("seed", [pytest.param(s, marks=[pytest.mark.slow] if s >= 18 else [])
                                  for s in range(0, 60, 6)])  # 18 cases in the fast tier
def test_params_flops_and_memory_equal_the_built_network(seed):
    """60 random architectures (30 per space), in 10 tests of 6 each."""
    for case in range(seed, seed + 6):
        arch, model, shape, classes = random_case(case)
        net = build_network(arch, model, shape[0], classes)
        where = f"case {case}: {arch.space} {arch} {model} {shape}"
        assert costs.count_params(arch, model, shape, classes) == measure_params(net), where
        assert costs.count_flops(arch, model, shape, classes) == measure_flops(net, shape), where
        batch = 1 + case % 3
        computed = costs.peak_memory(arch, model, shape, classes, batch_size=batch)
        measured = measure_memory(net, shape, batch_size=batch)
        assert computed.weights == measured.weights, where
        assert computed.input == measured.input, where
        assert computed.activations == measured.activations, where


def test_the_aux_head_holds_parameters_but_costs_no_inference_flops():
    arch = MicroArchitecture.parse("1 0 1 4 0 0 2 4", "0 0 1 0 2 0 1 3")
    plain = ModelConfig(layers=3, channels=8, nodes=2)
    aux = ModelConfig(layers=3, channels=8, nodes=2, aux_head=True)
    shape = (1, 28, 28)
    assert costs.count_params(arch, aux, shape, 10) > costs.count_params(arch, plain, shape, 10)
    assert costs.count_flops(arch, aux, shape, 10) == costs.count_flops(arch, plain, shape, 10)


def test_the_smallest_architecture_is_the_cheapest():
    for space, model in [("micro", ModelConfig(layers=3, channels=6, nodes=4)),
                         ("macro", ModelConfig(space="macro", layers=6, channels=6))]:
        size = model.nodes if space == "micro" else model.layers
        small = costs.smallest_architecture(space, size)
        price = costs.CostModel(model, (1, 28, 28), 10)
        floor = price(small)
        rng = random.Random(0)
        for _ in range(50):
            c = price(random_architecture(model, rng))
            assert c.params >= floor.params and c.flops >= floor.flops


def test_pricing_is_cached_per_architecture(monkeypatch):
    """Costs are priced at every controller sample, so each architecture is walked once; how
    long a walk takes is measured by bench/constraints.py, not here (no live timings)."""
    model = ModelConfig(layers=6, channels=20, nodes=5)
    price = costs.CostModel(model, (3, 32, 32), 10)
    walks = []
    real = costs.pieces
    monkeypatch.setattr(costs, "pieces", lambda *a: walks.append(a[0]) or real(*a))
    rng = random.Random(0)
    archs = [random_architecture(model, rng) for _ in range(20)]
    first = [price(arch, memory=True) for arch in archs]
    assert len(walks) == len(archs)
    assert [price(arch, memory=True) for arch in archs] == first
    assert len(walks) == len(archs)  # all from the cache


def test_every_op_of_a_network_is_in_its_latency_table():
    for seed in range(40):
        arch, model, shape, classes = random_case(seed)
        from enas_core.spaces import network_config_for

        fitted = network_config_for(arch, model)
        keys = set(table_keys(fitted, shape, classes))
        used = {op.key for op in costs.network_ops(arch, model, shape, classes)}
        assert used - {("unused",)} <= keys, used - keys


# -- latency ------------------------------------------------------------------------------------

LAT_MODEL = ModelConfig(layers=3, channels=16, nodes=4)
LAT_SHAPE = (1, 28, 28)


@pytest.fixture(scope="module")
def cpu_table(tmp_path_factory):
    """Measured once with one thread, timing thread CPU time (stable on a shared machine)."""
    return latency_table(LAT_MODEL, LAT_SHAPE, 10, threads=1, clock="thread",
                         cache_dir=tmp_path_factory.getbasetemp() / "latency")


# How well predicted latency ranks measured latency depends on live timings, so it is measured
# by bench/constraints.py (50 architectures, Spearman and MAPE in bench/README.md), not here.


@pytest.mark.slow
def test_latency_tables_are_cached_per_device_and_batch_size(cpu_table, tmp_path_factory,
                                                              monkeypatch):
    from enas_core import latency

    path = cpu_table.path
    data = json.loads(path.read_text())
    assert data["meta"]["batch_size"] == 1 and data["meta"]["threads"] == 1
    assert data["meta"]["device"] and data["meta"]["torch"] == torch.__version__
    latency._LOADED.clear()

    def no_measuring(*args, **kwargs):
        raise AssertionError("measured again instead of reading the cache")

    monkeypatch.setattr(LatencyTable, "measure", no_measuring)
    again = latency_table(LAT_MODEL, LAT_SHAPE, 10, threads=1, clock="thread",
                          cache_dir=path.parent)
    assert again.entries == cpu_table.entries and again.overhead_ms == cpu_table.overhead_ms
    with pytest.raises(AssertionError, match="measured again"):  # another batch size: a miss
        latency_table(LAT_MODEL, LAT_SHAPE, 10, batch_size=2, threads=1, clock="thread",
                      cache_dir=path.parent)


def test_spearman_and_mape():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2], [1, 1, 2]) == pytest.approx(1.0)  # ties share ranks
    assert mape([110, 90], [100, 100]) == pytest.approx(10.0)


def test_thread_clock_needs_one_cpu_thread():
    net = torch.nn.Conv2d(1, 1, 3)
    with torch_threads(2), pytest.raises(ValueError, match="set_num_threads"):
        measure_latency(net, (1, 8, 8), clock="thread")
    with torch_threads(1):
        assert measure_latency(net, (1, 8, 8), clock="thread", repeats=3, warmup=1) > 0


# -- CUDA ---------------------------------------------------------------------------------------


@gpu
@needs_cuda
@pytest.mark.parametrize("seed", range(6))
def test_computed_memory_matches_cuda_max_memory_allocated(seed):
    torch.backends.cudnn.benchmark = False
    arch, model, shape, classes = random_case(seed)
    model = replace(model, channels=16)
    net = build_network(arch, model, shape[0], classes).cuda()
    computed = costs.peak_memory(arch, model, shape, classes, batch_size=32, device="cuda")
    measured = measure_memory(net, shape, batch_size=32)
    assert computed.weights == pytest.approx(measured.weights, rel=0.02)
    assert computed.input == measured.input
    # The allocator's 512-byte rounding is modelled; cuDNN workspaces and the caching
    # allocator's unsplit large blocks are not.
    assert computed.activations == pytest.approx(measured.activations, rel=0.3), (
        computed, measured)
    assert computed.total == pytest.approx(measured.total, rel=0.25)


@gpu
@needs_cuda
def test_cuda_latency_table_ranks_measured_latency(tmp_path):
    model = ModelConfig(layers=3, channels=16, nodes=4)
    table = latency_table(model, LAT_SHAPE, 10, device="cuda", batch_size=32, cache_dir=tmp_path)
    rng = random.Random(2)
    archs = [random_architecture(model, rng) for _ in range(10)]
    predicted = [table.predict(a) for a in archs]
    measured = [measure_arch_latency(a, model, LAT_SHAPE, 10, device="cuda", batch_size=32)
                for a in archs]
    assert spearman(predicted, measured) > 0.7, (predicted, measured)


def test_architecture_types_are_priced_in_their_own_space():
    macro = MacroArchitecture.parse("0 1 0 2 1 1", 3)
    model = ModelConfig(layers=3, channels=4, nodes=2)  # a micro config: the macro arch fits it
    assert costs.count_params(macro, model, (1, 8, 8), 10) == measure_params(
        build_network(macro, ModelConfig(space="macro", layers=3, channels=4), 1, 10))
