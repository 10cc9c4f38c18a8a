"""FairNAS's strict fairness (`shared_sampling: fair`): groups in which every op choice takes
each op once, one update a group."""

import random
from dataclasses import replace

import pytest
import torch

from enas_core.config import ModelConfig
from enas_core.search import Searcher
from enas_core.spaces import get_space
from tests.enas_core.helpers import tiny_run


def _op_choices(arch) -> list[int]:
    """The ops of an architecture's op choices, in the order the space makes them."""
    data = arch.to_json()
    if arch.space == "micro":
        return [v for cell in ("conv", "reduce") for k, v in enumerate(data[cell])
                if k % 4 in (1, 3)]
    return list(arch.ops)


@pytest.mark.parametrize("space", ["micro", "macro"])
def test_every_op_choice_takes_each_op_once_a_group(space):
    model = ModelConfig(space=space, layers=6, channels=8, nodes=5)
    rng = random.Random(0)
    ops = len(get_space(space).primitives)
    for _ in range(5):
        group = get_space(space).fair(model, rng)
        assert len(group) == ops
        choices = list(zip(*(_op_choices(arch) for arch in group), strict=True))
        assert choices and all(sorted(c) == list(range(ops)) for c in choices)
    # and the groups differ: a shuffle per choice, not one fixed order
    a, b = (get_space(space).fair(model, random.Random(s)) for s in (1, 2))
    assert [x.to_json() for x in a] != [x.to_json() for x in b]


def test_uniform_draws_are_unchanged_by_the_op_hook():
    """`random` without `op` draws what it drew before fair sampling existed: the seeds of
    every stored job and of the space table still name the same architectures."""
    model = ModelConfig(space="micro", layers=3, channels=8, nodes=5)
    arch = get_space("micro").random(model, random.Random(2026))
    assert arch.to_json()["conv"][:8] == _first_draw(random.Random(2026))


def _first_draw(rng: random.Random) -> list[int]:
    """The first two nodes of a uniform micro draw, written out as before: input, op, ..."""
    return [v for k in range(2) for _ in range(2) for v in (rng.randrange(k + 2), rng.randrange(5))]


def test_a_fair_search_makes_one_update_a_group_and_repeats_itself(digits):
    config = tiny_run(search_epochs=1).search
    config = replace(config, shared_sampling="fair", steps_per_epoch=7)  # a group of 5, then 2
    updates = []
    searcher = Searcher(config, digits, seed=0)
    searcher.w_opt.register_step_post_hook(lambda *_: updates.append(1))
    loss, acc = searcher.train_shared(0.05, lambda: False)
    assert len(updates) == 2 and 0 <= acc <= 1 and loss > 0
    again = Searcher(config, digits, seed=0)
    again.train_shared(0.05, lambda: False)
    assert all(torch.equal(a, b) for a, b in zip(searcher.model.state_dict().values(),
                                                  again.model.state_dict().values(), strict=True))
