"""Named settings: the published ones to start from, and one that finishes in minutes.

Explicit options override a preset (`dataclasses.replace` on the returned config).
"""

from __future__ import annotations

from .config import (
    AugmentConfig,
    ControllerConfig,
    ModelConfig,
    RunConfig,
    SearchConfig,
    TrainConfig,
)

PRESETS: dict[str, str] = {
    "quick": "a short search and training that finishes in minutes on one GPU",
    "paper-cifar10": "ENAS micro search on CIFAR-10 as published (Pham et al. 2018)",
    "seed-mnist": "the seed study's MNIST settings (controller batch 160, 150 epochs)",
}


def preset_config(name: str) -> RunConfig:
    if name == "quick":
        return RunConfig(
            search=SearchConfig(
                model=ModelConfig(layers=3, channels=16, nodes=5),
                controller=ControllerConfig(train_steps=10, num_aggregate=10),
                epochs=5, batch_size=128, num_candidates=10, eval_batches=10,
            ),
            train=TrainConfig(model=ModelConfig(layers=3, channels=24, nodes=5), epochs=5,
                              batch_size=128),
        )
    if name == "paper-cifar10":
        return RunConfig(
            search=SearchConfig(
                model=ModelConfig(layers=6, channels=20, nodes=5),
                controller=ControllerConfig(train_steps=30, num_aggregate=10),
                epochs=150, batch_size=160, eval_batch_size=500,
                augment=AugmentConfig(crop_padding=4, flip=True),
            ),
            train=TrainConfig(
                model=ModelConfig(layers=15, channels=36, nodes=5, aux_head=True,
                                  drop_path=0.4),
                epochs=630, batch_size=144, lr_max=0.05, lr_min=1e-4, weight_decay=2e-4,
                augment=AugmentConfig(crop_padding=4, flip=True, cutout=16),
            ),
        )
    if name == "seed-mnist":
        return RunConfig(
            search=SearchConfig(
                model=ModelConfig(layers=6, channels=20, nodes=5),
                epochs=150, batch_size=160, eval_batch_size=160,
            ),
            train=TrainConfig(model=ModelConfig(layers=6, channels=36, nodes=5), epochs=309,
                              batch_size=128),
        )
    raise ValueError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
