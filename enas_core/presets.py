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
    "quick": "a short search whose controller measurably learns, then a short training: "
             "about a minute on one GPU, ~10 on two CPU cores (bundled digits)",
    "demo": "the quick search cut to fit a 2-core CPU in under 5 minutes, for `make run`",
    "paper-cifar10": "ENAS micro search on CIFAR-10 as published (Pham et al. 2018); its 630 final "
                     "epochs turn the selection stage on",
    "seed-mnist": "the seed study's MNIST settings (controller batch 160, 150 epochs); its 309 "
                  "final epochs turn the selection stage on",
}


def _short_search(epochs: int, controller_steps: int) -> SearchConfig:
    """The quick and demo searches: a small network whose edges share one set of op weights
    per cell, small batches and many controller updates for the steps, because at a few
    hundred shared-weight steps the reference's per-edge weights barely train and its 30
    updates per epoch barely move the controller (bench/README.md, "Search quality")."""
    return SearchConfig(
        model=ModelConfig(layers=3, channels=16, nodes=5, sharing="cell"),
        controller=ControllerConfig(train_steps=controller_steps, num_aggregate=10),
        epochs=epochs, batch_size=32, num_candidates=20, eval_batches=10,
    )


def preset_config(name: str) -> RunConfig:
    if name == "quick":
        return RunConfig(
            search=_short_search(epochs=6, controller_steps=20),
            train=TrainConfig(model=ModelConfig(layers=3, channels=24, nodes=5), epochs=5,
                              batch_size=128),
        )
    if name == "demo":
        return RunConfig(
            search=_short_search(epochs=4, controller_steps=10),
            train=TrainConfig(model=ModelConfig(layers=3, channels=16, nodes=5), epochs=2,
                              batch_size=128),
        )
    if name == "paper-cifar10":
        # The reference's scripts/cifar10_micro_{search,final}.sh: cosine with warm restarts
        # (10 + 20 + 40 + 80 = 150 search epochs, ... + 160 + 320 = 630 final ones), and its
        # L2 (`l2 * sum(w^2)` in the loss) as weight decay, which is twice that.
        return RunConfig(
            search=SearchConfig(
                model=ModelConfig(layers=6, channels=20, nodes=5, aux_head=True),
                controller=ControllerConfig(train_steps=30, num_aggregate=10),
                epochs=150, batch_size=160, eval_batch_size=500, lr_max=0.05, lr_min=5e-4,
                lr_restart_period=10, lr_restart_mult=2, weight_decay=2e-4,
                augment=AugmentConfig(crop_padding=4, flip=True),
            ),
            train=TrainConfig(
                model=ModelConfig(layers=15, channels=36, nodes=5, aux_head=True,
                                  drop_path=0.4),
                epochs=630, batch_size=144, lr_max=0.05, lr_min=1e-4, weight_decay=4e-4,
                lr_restart_period=10, lr_restart_mult=2,
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
