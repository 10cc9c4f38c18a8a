"""What several engine tests share: tiny configs and CLI flags, the README's architecture, a
random micro architecture, history rows without their timings, a controller's draws. (Fixtures
stay in conftest.py; tests import helpers from here, never from another test module.)"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import torch

from enas_core.config import ControllerConfig, ModelConfig, RunConfig, SearchConfig, TrainConfig
from enas_core.spaces.micro.architecture import PRIMITIVES, MicroArchitecture

# The README's example architecture (conv cell, reduction cell).
CONV = "1 2 1 3 0 1 0 4 1 1 1 1 0 1 0 1 1 0 0 1"
REDUCE = "0 1 0 4 1 0 2 0 0 3 1 1 0 0 0 0 4 1 1 0"

# `enas search` flags for a run of seconds.
TINY = ["--dataset", "digits", "--layers", "3", "--channels", "4", "--nodes", "2",
        "--final-layers", "3", "--final-channels", "4", "--steps-per-epoch", "2",
        "--controller-train-steps", "1", "--controller-num-aggregate", "2",
        "--num-candidates", "2", "--final-steps-per-epoch", "2", "--device", "cpu"]

# History fields that differ between two runs of the same job.
VOLATILE = {"seconds", "checkpoint"}


class Interrupt(Exception):
    """Raised from a test's `on_epoch` to cut a run short, as a killed worker would."""


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


def stable(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """History rows without the fields that differ between two runs of the same job."""
    return [{k: v for k, v in row.items() if k not in VOLATILE} for row in history]


def random_micro(rng: random.Random, nodes: int = 5) -> MicroArchitecture:
    def cell() -> list[int]:
        out = []
        for node in range(nodes):
            for _ in range(2):
                out += [rng.randrange(node + 2), rng.randrange(len(PRIMITIVES))]
        return out

    return MicroArchitecture.parse(cell(), cell())


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


# What POST /jobs stored at commit 0814341, the last release before stored configs carried a
# version, for {"dataset": "digits", "preset": "quick", "search_epochs": 3, "space": "micro",
# "max_params": 200000, "constraint_mode": "soft", "baseline": "random", "strategy": "enas",
# "shared_sampling": "uniform", "seed": 7} (api.services.submission.build_run_config).
PREVIOUS = Path(__file__).resolve().parents[1] / "data" / "job_config_0814341.json"


def previous_release_config() -> dict[str, Any]:
    """A fresh copy of that stored config."""
    return json.loads(PREVIOUS.read_text())
