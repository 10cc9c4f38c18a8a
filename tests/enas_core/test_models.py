import random

import pytest
import torch

from enas_core import layers
from enas_core.config import ModelConfig
from enas_core.metrics import measure_params
from enas_core.spaces.micro.architecture import PRIMITIVES, MicroArchitecture
from enas_core.spaces.micro.layout import micro_layout
from enas_core.spaces.micro.model import FixedCell, MicroNetwork
from enas_core.spaces.micro.ops import OPS
from enas_core.spaces.micro.search_model import MicroSearchNetwork, SharedCell
from tests.enas_core.helpers import CONV, REDUCE, random_micro


@pytest.mark.parametrize("name", PRIMITIVES)
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", [28, 7, 8])
def test_every_op_keeps_channels_and_divides_resolution(name, stride, size):
    op = OPS[name](12, stride)
    out = op(torch.randn(2, 12, size, size))
    expected = size if stride == 1 else (size + 1) // 2
    assert out.shape == (2, 12, expected, expected)


@pytest.mark.parametrize("reduction", [False, True])
@pytest.mark.parametrize("reduction_prev", [False, True])
def test_both_cell_types_have_the_right_shapes(reduction, reduction_prev):
    arch = MicroArchitecture.parse(CONV, REDUCE)
    cell = arch.reduce if reduction else arch.conv
    size = 14
    prev = size * 2 if reduction_prev else size
    s0 = torch.randn(2, 6, prev, prev)
    s1 = torch.randn(2, 10, size, size)
    out_size = size // 2 if reduction else size
    fixed = FixedCell(cell, 6, 10, 8, reduction, reduction_prev)
    shared = SharedCell(5, 6, 10, 8, reduction, reduction_prev)
    assert fixed(s0, s1).shape == (2, 8, out_size, out_size)
    assert shared(s0, s1, cell).shape == (2, 8, out_size, out_size)


def test_the_layout_puts_reductions_between_three_stages():
    def kinds(layers: int) -> list[bool]:
        return [s.reduction for s in micro_layout(ModelConfig(layers=layers), 1).cells]

    assert kinds(6) == [False, False, True, False, False, True, False, False]
    assert kinds(3) == [False, True, False, True, False]


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_search_and_final_networks_classify(shape):
    rng = random.Random(0)
    config = ModelConfig(layers=3, channels=8, nodes=5, aux_head=True)
    search = MicroSearchNetwork(config, shape[0], 10)
    x = torch.randn(4, *shape)
    for _ in range(5):
        arch = random_micro(rng)
        logits, aux = search(x, arch)  # the search network trains an auxiliary head too
        assert logits.shape == aux.shape == (4, 10)
        search.eval()
        assert search(x, arch).shape == (4, 10)
        search.train()
        net = MicroNetwork(arch, config, shape[0], 10)
        net.train()
        logits, aux = net(x)
        assert logits.shape == aux.shape == (4, 10)
        net.eval()
        assert net(x).shape == (4, 10)
        assert measure_params(net) - measure_params(net.aux_head) < measure_params(search)


def _used_edge_weight(model: MicroSearchNetwork, node: int, inp: int, op: int) -> torch.Tensor:
    return model.cells[0].edges[node][inp][op][1].weight  # the first depthwise conv


def test_parameter_sharing_same_op_on_same_edge_uses_the_same_tensor():
    torch.manual_seed(0)
    model = MicroSearchNetwork(ModelConfig(layers=3, channels=8, nodes=2), 1, 10)
    # Both use sep_conv_3x3 (op 0) on node 0 from input 1; they differ elsewhere.
    a = MicroArchitecture.parse("1 0 0 2 0 3 2 4", "0 0 1 0 2 0 2 0")
    b = MicroArchitecture.parse("1 0 1 4 2 1 0 2", "0 1 1 1 2 1 2 1")
    x, y = torch.randn(4, 1, 12, 12), torch.tensor([0, 1, 2, 3])
    weight = _used_edge_weight(model, 0, 1, 0)
    grads = []
    for arch in (a, b):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(x, arch), y).backward()
        assert weight.grad is not None and weight.grad.abs().sum() > 0
        grads.append(weight.grad.clone())
    assert not torch.equal(grads[0], grads[1])  # same tensor, used by two architectures
    # An edge neither uses gets no gradient: only the sampled path runs.
    model.zero_grad()
    torch.nn.functional.cross_entropy(model(x, a), y).backward()
    assert _used_edge_weight(model, 0, 0, 1).grad is None


def _saved_bytes(fn) -> tuple[int, torch.Tensor]:
    """Bytes autograd keeps for the backward pass of `fn()`."""
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return total, out


@pytest.mark.parametrize("channels_last", [False, True])
def test_recomputing_inside_ops_gives_bit_identical_gradients_with_less_saved(
        monkeypatch: pytest.MonkeyPatch, channels_last: bool) -> None:
    """The search model recomputes its ops' inner activations (layers.recomputing): the logits
    and every gradient are those of keeping them, bit for bit, and autograd keeps far less."""
    torch.manual_seed(0)
    model = MicroSearchNetwork(ModelConfig(layers=3, channels=8, nodes=5), 1, 10)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x, y = torch.randn(16, 1, 28, 28).contiguous(memory_format=fmt), torch.randint(0, 10, (16,))
    for seed in range(3):
        arch = random_micro(random.Random(seed))
        runs = []
        for recompute in (True, False):
            monkeypatch.setattr(layers, "RECOMPUTE", recompute)
            model.zero_grad(set_to_none=True)
            size, logits = _saved_bytes(lambda arch=arch: model(x, arch))
            torch.nn.functional.cross_entropy(logits, y).backward()
            runs.append((size, logits.detach(),
                         [p.grad for p in model.parameters() if p.grad is not None]))
        (kept_less, logits_a, grads_a), (kept_all, logits_b, grads_b) = runs
        assert torch.equal(logits_a, logits_b)
        assert len(grads_a) == len(grads_b)
        assert all(torch.equal(a, b) for a, b in zip(grads_a, grads_b, strict=True))
        assert kept_less < 0.6 * kept_all


def test_final_networks_keep_their_activations() -> None:
    """Final networks (BNs with running statistics) do not recompute: a second forward would
    update the running statistics twice."""
    torch.manual_seed(0)
    net = MicroNetwork(random_micro(random.Random(0)), ModelConfig(layers=3, channels=8,
                                                                   nodes=5), 1, 10)
    before = _saved_bytes(lambda: net(torch.randn(4, 1, 28, 28)))[0]
    layers.RECOMPUTE = False
    try:
        assert _saved_bytes(lambda: net(torch.randn(4, 1, 28, 28)))[0] == before
    finally:
        layers.RECOMPUTE = True


def test_recomputing_cells_gives_the_same_gradients_with_far_less_saved_memory():
    torch.manual_seed(0)
    model = MicroSearchNetwork(ModelConfig(layers=3, channels=8, nodes=5), 1, 10)
    arch = random_micro(random.Random(1))
    x, y = torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))
    grads, saved = [], []
    for recompute in (False, True):
        model.recompute = recompute
        model.zero_grad()
        size, logits = _saved_bytes(lambda: model(x, arch))
        torch.nn.functional.cross_entropy(logits, y).backward()
        saved.append(size)
        grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*grads, strict=True))
    assert saved[1] < saved[0] / 5
