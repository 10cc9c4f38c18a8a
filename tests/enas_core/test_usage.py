"""What a run costs: device time per phase, the device, peak memory, images."""

from __future__ import annotations

import pytest
import torch

from enas_core.pipeline import Cancelled, run_job
from enas_core.usage import UsageMeter, describe_device
from tests.enas_core.conftest import tiny_run


def test_the_cpu_is_described_by_model_and_threads():
    device = describe_device("cpu")
    assert device["type"] == "cpu" and device["device"] == "cpu"
    assert device["name"] and device["threads"] == torch.get_num_threads()
    assert device["cores"] >= 1


def test_a_run_reports_its_cost_per_phase(digits, tmp_path):
    config = tiny_run(search_epochs=2, final_epochs=1)
    seen = []
    result = run_job(config, digits, out_dir=tmp_path, on_epoch=seen.append)
    usage = result.usage
    assert usage["device"]["type"] == "cpu" and usage["memory_kind"] == "process_rss"
    search, final = usage["phases"]["search"], usage["phases"]["final"]
    for phase in (search, final):
        assert phase["seconds"] > 0 and phase["cpu_seconds"] > 0
        assert phase["peak_memory_bytes"] > 10 * 2**20  # a Python process with torch
    # Images: at least the training batches, plus validation (search) and the test split.
    s, t = config.search, config.train
    assert search["images"] >= s.epochs * s.steps_per_epoch * s.batch_size
    assert final["images"] >= t.epochs * t.steps_per_epoch * t.batch_size + len(digits.test)
    assert usage["images"] == search["images"] + final["images"]
    assert usage["seconds"] == pytest.approx(search["seconds"] + final["seconds"])
    # The phases hold the epochs' time and more (candidates ranked, the test, the export).
    epochs = sum(m.seconds for m in seen if m.phase == "search")
    assert search["seconds"] >= epochs
    # Each epoch's metrics carry the snapshot so far: it only grows.
    snaps = [m.usage for m in seen]
    assert [sorted(u["phases"]) for u in snaps] == [["search"], ["search"], ["final", "search"]]
    images = [u["images"] for u in snaps] + [usage["images"]]
    assert images == sorted(images) and images[0] > 0


def test_the_callers_meter_holds_the_cost_of_a_cancelled_run(digits, tmp_path):
    calls = []
    meter = UsageMeter("cpu")
    with pytest.raises(Cancelled):
        run_job(tiny_run(), digits, out_dir=tmp_path, usage=meter,
                should_stop=lambda: calls.append(1) or len(calls) > 3)
    usage = meter.snapshot()
    assert list(usage["phases"]) == ["search"]
    assert usage["seconds"] > 0
    assert usage["images"] >= 3 * 32  # three training steps ran before the stop


def test_a_meter_counts_the_images_of_a_models_calls():
    meter = UsageMeter("cpu")
    model = torch.nn.Linear(4, 2)
    handle = meter.count(model)
    model(torch.zeros(5, 4))  # outside a phase: not counted
    with meter.phase("search"):
        model(torch.zeros(7, 4))
        model(torch.zeros(3, 4))
    handle.remove()
    with meter.phase("search"):  # phases add up
        model(torch.zeros(9, 4))
    assert meter.snapshot()["phases"]["search"]["images"] == 10
