import random

import pytest
import torch

from enas_core.architecture import ArchitectureError
from enas_core.config import ControllerConfig, ModelConfig
from enas_core.controller import Samples
from enas_core.spaces.macro.architecture import MACRO_PRIMITIVES, MacroArchitecture
from enas_core.spaces.macro.controller import MacroController, MacroSamples
from enas_core.spaces.macro.layout import pool_layers
from enas_core.spaces.macro.model import MacroNetwork
from enas_core.spaces.macro.ops import MACRO_OPS
from enas_core.spaces.macro.search_model import MacroSearchNetwork

LAYERS = 6
SMALL = ModelConfig(space="macro", layers=LAYERS, channels=8)


def random_arch(rng: random.Random, layers: int = LAYERS, p_skip: float = 0.4):
    return MacroArchitecture(
        tuple(rng.randrange(len(MACRO_PRIMITIVES)) for _ in range(layers)),
        tuple(tuple(int(rng.random() < p_skip) for _ in range(i)) for i in range(layers)),
    )


def plain_arch(op: int, layers: int = LAYERS, skip: int = 0) -> MacroArchitecture:
    return MacroArchitecture((op,) * layers, tuple((skip,) * i for i in range(layers)))


@pytest.fixture(scope="module")
def controller() -> MacroController:
    torch.manual_seed(0)
    return MacroController(LAYERS, ControllerConfig())


def test_op_table_follows_the_primitives():
    assert tuple(MACRO_OPS) == MACRO_PRIMITIVES


@pytest.mark.parametrize("seed", range(5))
def test_text_round_trip(seed):
    rng = random.Random(seed)
    arch = random_arch(rng, layers=rng.randint(1, 12))
    assert MacroArchitecture.parse(arch.to_text(), arch.layers) == arch
    assert MacroArchitecture.parse(arch.to_ints()) == arch


def test_sampled_architectures_parse(controller):
    archs = controller.sample(8, torch.Generator().manual_seed(1))
    assert len(archs) == 8
    for arch in archs:
        assert arch.layers == LAYERS
        assert MacroArchitecture.parse(arch.to_text(), LAYERS) == arch


def test_samples_carry_skip_penalty(controller):
    out = controller(4, torch.Generator().manual_seed(2))
    assert isinstance(out, MacroSamples) and isinstance(out, Samples)
    for t in (out.log_prob, out.entropy, out.skip_penalty):
        assert t.shape == (4,) and t.requires_grad
    assert (out.skip_penalty >= 0).all() and (out.entropy > 0).all()
    out.skip_penalty.sum().backward()
    assert controller.v_attn.weight.grad is not None
    controller.zero_grad(set_to_none=True)


def test_same_generator_same_samples(controller):
    a = controller.sample(3, torch.Generator().manual_seed(3))
    b = controller.sample(3, torch.Generator().manual_seed(3))
    assert a == b


def test_teacher_forced_log_prob_matches_sampling(controller):
    with torch.no_grad():
        out = controller(6, torch.Generator().manual_seed(4))
        log_prob, entropy = controller.log_prob(out.archs)
    torch.testing.assert_close(log_prob, out.log_prob)
    torch.testing.assert_close(entropy, out.entropy)


def test_log_prob_rejects_wrong_layer_count(controller):
    with pytest.raises(ArchitectureError):
        controller.log_prob([plain_arch(0, layers=LAYERS - 1)])


def test_single_layer_controller_has_no_skips():
    out = MacroController(1, ControllerConfig(hidden_size=16))(2)
    assert all(a.skips == ((),) for a in out.archs)
    assert torch.equal(out.skip_penalty, torch.zeros(2))


def test_pool_layers():
    assert pool_layers(12) == [3, 7]
    assert pool_layers(6) == [1, 3]
    assert pool_layers(2) == []


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_search_model_shapes(shape):
    torch.manual_seed(0)
    model = MacroSearchNetwork(SMALL, shape[0], 10)
    rng = random.Random(0)
    archs = [random_arch(rng) for _ in range(4)] + [plain_arch(op, skip=1) for op in range(6)]
    with torch.no_grad():
        for arch in archs:
            assert model(torch.randn(2, *shape), arch).shape == (2, 10)
        model.eval()  # batch statistics only: eval mode needs no running averages
        assert model(torch.randn(2, *shape), archs[0]).shape == (2, 10)


def test_search_model_rejects_wrong_layer_count():
    model = MacroSearchNetwork(SMALL, 1, 10)
    with pytest.raises(ArchitectureError):
        model(torch.randn(1, 1, 8, 8), plain_arch(0, layers=LAYERS + 1))


def test_parameter_sharing():
    torch.manual_seed(0)
    model = MacroSearchNetwork(SMALL, 1, 10)
    rng = random.Random(1)
    a, b = random_arch(rng), random_arch(rng)
    layer = 2
    ops = list(b.ops)
    ops[layer] = 0  # conv_3x3 at layer 2 in both
    a = MacroArchitecture((*a.ops[:layer], 0, *a.ops[layer + 1:]), a.skips)
    b = MacroArchitecture(tuple(ops), b.skips)
    assert a != b
    weight = model.ops[layer][0][1].weight
    x, y = torch.randn(4, 1, 28, 28), torch.randint(0, 10, (4,))
    seen = []
    for arch in (a, b):
        model.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x, arch), y).backward()
        used = [p for p in model.parameters() if p.grad is not None]
        assert any(p is weight for p in used)
        assert weight.grad.abs().sum() > 0
        seen.append(weight.grad.clone())
    assert not torch.equal(seen[0], seen[1])
    # An op the architecture does not choose gets no gradient.
    assert model.ops[layer][2][1].weight.grad is None


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_network(shape):
    torch.manual_seed(0)
    rng = random.Random(2)
    search_params = sum(p.numel() for p in MacroSearchNetwork(SMALL, shape[0], 10).parameters())
    for arch in [random_arch(rng) for _ in range(3)] + [plain_arch(2, skip=1)]:
        net = MacroNetwork(arch, SMALL, shape[0], 10)
        assert sum(p.numel() for p in net.parameters()) < search_params
        net.train()
        out = net(torch.randn(2, *shape))
        assert out.shape == (2, 10)
        out.sum().backward()
        net.eval()
        with torch.no_grad():
            assert net(torch.randn(2, *shape)).shape == (2, 10)


def test_network_drop_path_and_config_check():
    cfg = ModelConfig(space="macro", layers=LAYERS, channels=8, drop_path=0.3)
    net = MacroNetwork(plain_arch(1, skip=1), cfg, 1, 10)
    assert net(torch.randn(2, 1, 16, 16)).shape == (2, 10)
    with pytest.raises(ArchitectureError):
        MacroNetwork(plain_arch(0, layers=3), cfg, 1, 10)


def test_reinforce_learns_a_rewarded_architecture():
    torch.manual_seed(0)
    layers = 4
    ctrl = MacroController(layers, ControllerConfig(hidden_size=32))
    target = plain_arch(0, layers=layers)
    with torch.no_grad():
        before = ctrl.log_prob([target])[0].item()
    opt = torch.optim.Adam(ctrl.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(0)
    flags = layers * (layers - 1) / 2
    baseline = None
    for _ in range(150):
        out = ctrl(8, gen)
        reward = torch.tensor([
            (sum(op == 0 for op in a.ops) / layers
             + sum(1 - f for fl in a.skips for f in fl) / flags) / 2
            for a in out.archs
        ])
        baseline = reward.mean() if baseline is None else 0.9 * baseline + 0.1 * reward.mean()
        loss = -(out.log_prob * (reward - baseline)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = ctrl.log_prob([target])[0].item()
    # Default squashing caps the probability (about -3.5 nats here); it starts near -11.
    assert after > before + 5


def test_skip_penalty_is_the_kl_of_the_sampled_skip_probability():
    torch.manual_seed(0)
    cfg = ControllerConfig(hidden_size=16, skip_target=0.3)
    ctrl = MacroController(2, cfg)
    with torch.no_grad():
        out = ctrl(1, torch.Generator().manual_seed(5))
        ops = out.archs[0].ops
        # Layer 1's one skip is the last decision: its probability from teacher forcing.
        log_p, _ = ctrl.log_prob([MacroArchitecture(ops, ((), (s,))) for s in (0, 1)])
    p = torch.softmax(log_p, 0)[1]
    t = cfg.skip_target
    kl = p * torch.log(p / t) + (1 - p) * torch.log((1 - p) / (1 - t))
    torch.testing.assert_close(out.skip_penalty[0], kl)


@pytest.mark.parametrize("layers", [1, 2, 4, 5])
def test_any_layer_count(layers):
    cfg = ModelConfig(space="macro", layers=layers, channels=4)
    arch = random_arch(random.Random(layers), layers=layers, p_skip=0.6)
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert MacroSearchNetwork(cfg, 1, 3)(x, arch).shape == (2, 3)
        assert MacroNetwork(arch, cfg, 1, 3)(x).shape == (2, 3)
