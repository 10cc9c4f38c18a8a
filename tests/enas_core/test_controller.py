import pytest
import torch

from enas_core.architecture import MicroArchitecture
from enas_core.config import ControllerConfig
from enas_core.controller import MicroController
from enas_core.reinforce import Reinforce


def test_samples_are_valid_and_log_probs_replay():
    controller = MicroController(5, ControllerConfig())
    g = torch.Generator().manual_seed(0)
    samples = controller(8, g)
    assert len(samples.archs) == 8 and samples.log_prob.shape == samples.entropy.shape == (8,)
    for arch in samples.archs:
        assert MicroArchitecture.parse(*arch.to_text()) == arch  # the strict parser accepts it
    log_prob, entropy = controller.log_prob(samples.archs)
    assert torch.allclose(log_prob, samples.log_prob)
    assert torch.allclose(entropy, samples.entropy)
    assert samples.log_prob.requires_grad


def test_sampling_is_reproducible_with_a_seeded_generator():
    controller = MicroController(5, ControllerConfig())
    a = controller.sample(4, torch.Generator().manual_seed(3))
    b = controller.sample(4, torch.Generator().manual_seed(3))
    c = controller.sample(4, torch.Generator().manual_seed(4))
    assert a == b and a != c


def test_tanh_constant_bounds_the_logits():
    # With the reference constants no op is ever more likely than e^c / (e^c + 4 e^-c).
    config = ControllerConfig()
    controller = MicroController(2, config)
    with torch.no_grad():
        controller.w_soft.weight.mul_(1000)
    arch = controller.sample(1, torch.Generator().manual_seed(0))[0]
    log_prob, _ = controller.log_prob([arch])
    c = config.tanh_constant / config.op_tanh_reduce
    p_max = torch.tensor(c).exp() / (torch.tensor(c).exp() + 4 * torch.tensor(-c).exp())
    assert log_prob.exp() <= p_max ** 8 + 1e-9


def test_reinforce_raises_the_probability_of_the_rewarded_architecture():
    """A synthetic reward (the share of decisions that match a target) trains the controller
    with the reference settings to put its probability far above chance."""
    torch.manual_seed(0)
    target = MicroArchitecture.parse("1 0 1 0 1 0 1 0", "1 0 1 0 1 0 1 0")
    wanted = target.conv.to_ints() + target.reduce.to_ints()
    config = ControllerConfig(num_aggregate=10)
    controller = MicroController(2, config)
    reinforce = Reinforce(controller, config)
    g = torch.Generator().manual_seed(0)

    def reward(arch: MicroArchitecture) -> float:
        got = arch.conv.to_ints() + arch.reduce.to_ints()
        return sum(a == b for a, b in zip(got, wanted, strict=True)) / len(wanted)

    with torch.no_grad():
        before = controller.log_prob([target])[0].item()
    rewards = []
    for _ in range(300):
        samples = controller(config.num_aggregate, g)
        acc = torch.tensor([reward(a) for a in samples.archs])
        reinforce.step(samples, acc)
        rewards.append(acc.mean().item())
    with torch.no_grad():
        after = controller.log_prob([target])[0].item()
    # Chance is ~1e-9; the tanh constant caps it near 1.1e-4 (every decision at its ceiling).
    assert after - before > 9.0  # > 8,000x more likely
    assert sum(rewards[-20:]) / 20 > sum(rewards[:20]) / 20 + 0.15
    assert reinforce.baseline == pytest.approx(sum(rewards[-100:]) / 100, abs=0.1)
