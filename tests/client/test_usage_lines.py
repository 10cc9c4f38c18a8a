"""What `enas jobs show` prints of a job's cost (no service needed)."""

from __future__ import annotations

from enas_client.cli import describe_usage

USAGE = {"device": {"type": "cpu", "device": "cpu", "name": "AMD EPYC", "threads": 1},
         "phases": {"search": {"seconds": 18.0, "cpu_seconds": 33.0, "images": 4690,
                               "peak_memory_bytes": 1283 * 2**20},
                    "final": {"seconds": 42.0, "cpu_seconds": 0.0, "images": 5242}}}


def test_one_thread_is_a_thread_and_cpu_time_is_shown_beside_the_device_time():
    assert describe_usage(USAGE) == [
        "device:    cpu (AMD EPYC, 1 thread)",
        "search:    0.3 min device time, 0.6 CPU-min, 4,690 images, peak memory 1283 MiB",
        "final:     0.7 min device time, 5,242 images",
    ]
    two = USAGE | {"device": USAGE["device"] | {"threads": 2}}
    assert describe_usage(two)[0] == "device:    cpu (AMD EPYC, 2 threads)"
