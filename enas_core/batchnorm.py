"""Batch-norm statistics recomputed for the weights a network has now.

A network trained for a few dozen steps has running averages that describe the weights of many
steps ago: with BN's default momentum each average trails the fast-changing weights, and the
error compounds through the cells. On a 1,000-image upload this made every short final training
predict one class (val_acc 0.11 while train_acc reached 0.99). Recomputing the statistics as an
exact average over training batches with the current weights, before each evaluation and
before export, is what once-for-all and single-path NAS do for the same reason.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

# Enough images for stable statistics (once-for-all uses 2,000); fewer when the split is smaller.
RECALIBRATION_IMAGES = 2000


def tracking_batch_norms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """The batch norms that keep running statistics (those evaluation uses)."""
    return [m for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@torch.no_grad()
def recalibrate_batch_norm(model: nn.Module, batches: Iterable[tuple[torch.Tensor, ...]], *,
                           max_images: int = RECALIBRATION_IMAGES) -> int:
    """Replace every batch norm's running mean and variance by the average over `batches` (up
    to `max_images` images) of the statistics the current weights produce. Everything else runs
    as in evaluation (no drop-path, no auxiliary head, no dropout), so the statistics are those
    of the network that is evaluated and exported. Returns the images used (0: nothing to do)."""
    norms = tracking_batch_norms(model)
    if not norms:
        return 0
    was_training = model.training
    momenta = [m.momentum for m in norms]
    model.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches, not an exponential one
        m.train()
    seen = 0
    try:
        for x, *_ in batches:
            if seen >= max_images:
                break
            x = x[: max_images - seen]
            if x.shape[0] < 2:  # one image has no batch statistics
                break
            model(x)
            seen += x.shape[0]
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        model.train(was_training)
    return seen
