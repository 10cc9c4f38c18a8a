"""bench/quality.py's arms: the equal-compute arm spends the selection stage's compute on the
final training."""

from __future__ import annotations

from bench.quality import PROFILES, run_config, stage_epochs
from enas_core.config import ModelConfig
from enas_core.stage_rule import stage_of


def test_stage_epochs_are_the_stages_rounds_in_final_network_epochs() -> None:
    same = ModelConfig(layers=3, channels=16)
    # 8 candidates to epoch 1, the best 4 on to epoch 2: 8 + 4 epochs of the search network
    assert stage_epochs(same, same) == 12
    assert stage_epochs(same, ModelConfig(layers=3, channels=32)) == 3  # 4x the cost an epoch
    assert stage_epochs(same, ModelConfig(layers=6, channels=16)) == 6


def test_random_long_is_random_search_trained_longer_without_the_stage() -> None:
    for profile, final, extra in (("cpu", 2, 12), ("cpu-quick", 5, 5), ("cpu-16", 16, 12),
                                  ("upload-16", 16, 12)):
        long = run_config(PROFILES[profile], "random-long", 0)
        staged = run_config(PROFILES[profile], "random-select", 0)

        assert long.search.strategy == staged.search.strategy == "random"
        assert not stage_of(long).active and stage_of(staged).active
        assert staged.train.epochs == final and long.train.epochs == final + extra


def test_only_the_select_arms_run_the_stage_at_any_final_length() -> None:
    """A long final training runs the stage unless told otherwise (the gpu profile's 100
    epochs would): the arms without it must say so, or they would compare it with itself."""
    for arm in ("enas", "random", "enas-uniform", "random-long"):
        assert not stage_of(run_config(PROFILES["gpu"], arm, 0)).active, arm
    for arm in ("enas-select", "random-select"):
        assert stage_of(run_config(PROFILES["cpu"], arm, 0)).active, arm
