from typing import Any

import pytest
import torch

from enas_core.config import (
    ControllerConfig,
    ModelConfig,
    RunConfig,
    SearchConfig,
    TrainConfig,
)
from enas_core.data import Splits, prepare_data


@pytest.fixture(scope="session")
def digits() -> Splits:
    """The bundled real MNIST digits, split 4,050 / 450 / 500."""
    return prepare_data("digits", seed=0)


def tiny_run(search_epochs: int = 2, final_epochs: int = 1, space: str = "micro") -> RunConfig:
    layers = 3
    return RunConfig(
        search=SearchConfig(
            model=ModelConfig(space=space, layers=layers, channels=8, nodes=3),
            controller=ControllerConfig(train_steps=2, num_aggregate=3),
            epochs=search_epochs, steps_per_epoch=4, batch_size=32, eval_batch_size=64,
            num_candidates=3, eval_batches=2, top_k=3,
        ),
        train=TrainConfig(model=ModelConfig(space=space, layers=layers, channels=8, nodes=3),
                          epochs=final_epochs, steps_per_epoch=4, batch_size=32),
        seed=1,
    )


def count_draws(searcher: Any, monkeypatch: Any, *, train: bool = False) -> list[int]:
    """The sizes of the controller's sample calls, in order. Unless `train`, the search network
    is stubbed out so that only the draws cost anything."""
    asked: list[int] = []
    sample = searcher.controller.sample
    monkeypatch.setattr(searcher.controller, "sample",
                        lambda n, gen=None: asked.append(n) or sample(n, gen))
    if not train:
        searcher.model.forward = lambda x, arch: torch.zeros(x.shape[0], 10, requires_grad=True)
    return asked
