"""Warnings about a trained network that a job must not report as a plain success.

A network whose validation accuracy sits at chance (the share of the most common class) has
learnt nothing usable, whatever its training accuracy says; a job that returns one says so
(`final["warnings"]`), in the API, the dashboard and the CLI.
"""

from __future__ import annotations

from typing import Any

# "At chance": within this fraction of the way from chance to a perfect score.
CHANCE_BAND = 0.1
# "Fits its training data": at least this far above chance on the training batches.
FITS_MARGIN = 0.3


def chance_accuracy(class_counts: dict[str, int]) -> float:
    """What always answering the most common class scores."""
    total = sum(class_counts.values())
    return max(class_counts.values()) / total if total else 0.0


def training_warnings(*, train_acc: float | None, val_acc: float | None,
                      chance: float) -> list[dict[str, Any]]:
    """[{"code", "message"}] for a trained network at chance on validation data."""
    if val_acc is None or val_acc > chance + CHANCE_BAND * (1.0 - chance):
        return []
    fits = train_acc is not None and train_acc >= chance + FITS_MARGIN
    if fits:
        return [{
            "code": "val_acc_at_chance",
            "message": f"the trained network scores {val_acc:.3f} on validation data, the "
                       f"level of always answering one class ({chance:.3f}), while it fits "
                       f"its training data (train_acc {train_acc:.3f}): it does not "
                       "generalise; do not use it. Try more final epochs, a smaller "
                       "final_batch_size, or more data per class.",
        }]
    return [{
        "code": "did_not_learn",
        "message": f"the trained network scores {val_acc:.3f} on validation data, the level "
                   f"of always answering one class ({chance:.3f}), and "
                   f"{'did not fit' if train_acc is not None else 'was not trained on'} its "
                   "training data either: check the labels, or train longer "
                   "(final_epochs) or at another final_lr.",
    }]
