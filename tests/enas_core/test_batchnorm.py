"""Batch-norm statistics recomputed for the current weights (enas_core.batchnorm)."""

import pytest
import torch
from torch import nn

from enas_core.batchnorm import recalibrate_batch_norm, tracking_batch_norms
from enas_core.sanity import chance_accuracy, training_warnings


def test_recalibrated_statistics_are_the_exact_average_over_the_batches():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.9),
                          nn.Conv2d(4, 2, 1), nn.BatchNorm2d(2))
    model[1].running_mean.fill_(7.0)  # stale, as after a short training
    model[1].running_var.fill_(50.0)
    batches = [(torch.randn(8, 1, 6, 6) * 3 + 2, None) for _ in range(3)]
    model.train()
    used = recalibrate_batch_norm(model, batches)
    assert used == 24
    assert model.training  # the mode it was in
    assert model[1].momentum == 0.1 and model[4].momentum == 0.1  # restored
    with torch.no_grad():
        feats = [model[0](x) for x, _ in batches]
    # momentum None: the running mean is the plain average of the batches' means
    want = torch.stack([f.mean((0, 2, 3)) for f in feats]).mean(0)
    torch.testing.assert_close(model[1].running_mean, want)
    # the second BN saw the first's output without dropout (evaluation's network)
    model.eval()
    with torch.no_grad():
        second = [model[3](model[2](model[1](f))) for f in feats]
    want2 = torch.stack([s.mean((0, 2, 3)) for s in second]).mean(0)
    torch.testing.assert_close(model[4].running_mean, want2, rtol=1e-4, atol=1e-5)


def test_recalibration_stops_at_max_images_and_ignores_batch_statistics_only_norms():
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2, track_running_stats=False))
    assert tracking_batch_norms(model) == []
    assert recalibrate_batch_norm(model, [(torch.randn(4, 1, 3, 3),)]) == 0
    tracked = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2))
    assert recalibrate_batch_norm(tracked, [(torch.randn(4, 1, 3, 3),)] * 5, max_images=10) == 10


@pytest.mark.parametrize(("train_acc", "val_acc", "codes"), [
    (0.99, 0.111, ["val_acc_at_chance"]),  # the collapse this guards against
    (0.15, 0.12, ["did_not_learn"]),
    (0.99, 0.92, []),
    (0.60, 0.45, []),  # weak but learning
    (None, None, []),
])
def test_a_network_at_chance_is_flagged(train_acc, val_acc, codes):
    chance = chance_accuracy({str(c): 10 for c in range(10)} | {"1": 12})
    assert chance == pytest.approx(12 / 102)
    warnings = training_warnings(train_acc=train_acc, val_acc=val_acc, chance=chance)
    assert [w["code"] for w in warnings] == codes
    if codes:
        assert f"{val_acc:.3f}" in warnings[0]["message"]
