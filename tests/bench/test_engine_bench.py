"""Smoke test of the engine benchmark: a couple of steps of a tiny network on the bundled
digits, on the CPU. Checks the result's shape and the FLOP correction, not the speed."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from bench.engine import ConvTally, main


@pytest.mark.slow
def test_quick_run_writes_a_complete_result(tmp_path) -> None:
    out = tmp_path / "engine.json"
    main([
        "--quick", "--device", "cpu", "--dataset", "digits", "--variants", "fp32,dataloader",
        "--layers", "3", "--channels", "4", "--nodes", "2", "--batch-size", "16",
        "--num-aggregate", "2", "--threads", "1", "--quiet", "--out", str(out),
    ])
    result = json.loads(out.read_text())

    assert result["device"] == "cpu" and result["quick"] and not result["stated_config"]
    for name in ("fp32", "dataloader"):
        variant = result["variants"][name]
        assert variant["images_per_s"] > 0 and variant["gflops_per_s"] > 0
        assert variant["loss_finite"]
    assert result["variants"]["fp32"]["epoch"]["seconds"] > 0
    assert result["variants"]["fp32"]["controller_phase"]["step_s"] > 0

    flops = result["flops"]
    corrected, raw = flops["fwd_bwd_corrected"]["mean"], flops["fwd_bwd_raw"]["mean"]
    assert 0 < corrected < raw  # the depthwise correction lowers torch's count
    assert flops["raw_cross_check"]["equal"]  # our raw figure is torch's own
    assert flops["forward"]["mean"] < corrected

    assert result["controller"]["update"]["ms_total"] > 0
    assert result["pipeline"]["same_first_batch"]
    assert result["memory"]["peak_rss_mb_search"] > 0
    assert {t["name"] for t in result["targets"]} == {"cpu_gflops_per_s", "cpu_peak_rss_gb"}
    assert all(t["met"] is None for t in result["targets"])  # not the stated configuration


def test_depthwise_backward_counts_the_same_as_its_forward_pass() -> None:
    # For a stride-1 depthwise conv, each of the three passes (forward, grad input, grad
    # weight) does N*C*H*W*k*k multiply-adds; torch counts the weight gradient C times.
    n, c, h, k = 2, 8, 6, 3
    conv = torch.nn.Conv2d(c, c, k, padding=1, groups=c, bias=False)
    x = torch.randn(n, c, h, h, requires_grad=True)
    one_pass = 2 * n * c * h * h * k * k
    tally = ConvTally()
    with FlopCounterMode(display=False, custom_mapping=tally.mapping()) as counter:
        F.conv2d(x, conv.weight, padding=1, groups=c).sum().backward()
    assert counter.get_total_flops() == 3 * one_pass
    assert tally.excess == (c - 1) * one_pass
    with FlopCounterMode(display=False) as default:
        F.conv2d(x, conv.weight, padding=1, groups=c).sum().backward()
    assert default.get_total_flops() == 3 * one_pass + tally.excess
