"""What a run costs: device time per phase, the device, peak memory, images."""

from __future__ import annotations

import pytest
import torch

from enas_core.pipeline import Cancelled, run_job
from enas_core.usage import UsageMeter, describe_device, summary
from tests.enas_core.helpers import tiny_run


def test_the_cpu_is_described_by_model_and_threads():
    device = describe_device("cpu")
    assert device["type"] == "cpu" and device["device"] == "cpu"
    assert device["name"] and device["threads"] == torch.get_num_threads()
    assert device["cores"] >= 1


@pytest.mark.slow
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


def _rusage_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def test_cpu_seconds_are_the_process_cpu_time_not_the_wall_time():
    """Checked against the process's own counters: the kernel's (getrusage) and Python's
    (process_time), with work on 2 threads, and a phase that only waits."""
    import time

    meter = UsageMeter("cpu")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        a = torch.randn(384, 384)
        c0, r0 = time.process_time(), _rusage_cpu()
        with meter.phase("search"):
            while time.process_time() - c0 < 0.5:
                a = torch.tanh(a @ a)
        c1, r1 = time.process_time(), _rusage_cpu()
    finally:
        torch.set_num_threads(before)
    with meter.phase("final"):
        time.sleep(0.3)
    usage = meter.snapshot()
    search, final = usage["phases"]["search"], usage["phases"]["final"]
    assert search["cpu_seconds"] == pytest.approx(c1 - c0, abs=0.02)
    assert search["cpu_seconds"] == pytest.approx(r1 - r0, abs=0.05)  # tick resolution
    assert search["cpu_seconds"] >= 0.45
    # Waiting takes wall time, not CPU time.
    assert final["seconds"] >= 0.3 and final["cpu_seconds"] < 0.1
    assert usage["cpu_seconds"] == pytest.approx(search["cpu_seconds"] + final["cpu_seconds"])


CPU_USAGE = {"device": {"type": "cpu", "device": "cpu", "name": "AMD EPYC", "threads": 2},
             "phases": {"search": {"seconds": 180.0, "cpu_seconds": 330.0, "images": 900},
                        "final": {"seconds": 48.0, "cpu_seconds": 78.5, "images": 100}},
             "seconds": 228.0, "cpu_seconds": 408.5, "images": 1000,
             "peak_memory_bytes": 900 * 2**20}


def test_the_cost_line_counts_cpu_minutes_in_cpu_time():
    """A run of 3.8 wall minutes on 2 threads that used 408.5 CPU-seconds (what `time -v`
    reported for the demo search) costs 6.8 CPU-minutes, not 3.8."""
    line = summary(CPU_USAGE)
    assert line == ("cost: 6.8 CPU-minutes in 3.8 minutes on AMD EPYC (2 threads): "
                    "search 5.5, final 1.3; 1,000 images; peak memory 900 MiB")
    one = CPU_USAGE | {"device": CPU_USAGE["device"] | {"threads": 1}}
    assert "on AMD EPYC (1 thread):" in summary(one)
    gpu = CPU_USAGE | {"device": {"type": "cuda", "device": "cuda:0", "name": "NVIDIA H100"}}
    assert summary(gpu) == ("cost: 3.8 GPU-minutes on NVIDIA H100: search 3.0, final 0.8; "
                            "6.8 CPU-minutes; 1,000 images; peak memory 900 MiB")


def test_the_cpu_is_described_by_the_cores_the_process_may_use():
    from enas_core.threads import available_cpus

    assert describe_device("cpu")["cores"] == available_cpus()
