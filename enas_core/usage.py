"""What a run costs: device time (wall) and the process's CPU time (all its threads) per phase,
the device it ran on, peak device memory, and the images that went through the networks.

The caller may hand `run_job` a `UsageMeter` and read it afterwards, also after a failure or a
cancel (the phase timers stop in `finally`); `run_job` puts a snapshot in each epoch's metrics
and in the result. Counting images is a forward pre-hook on the top-level network (the batch
size of each call, no device sync); peak memory is the CUDA allocator's peak on a GPU and the
process's peak resident memory on the CPU.
"""

from __future__ import annotations

import platform
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from .threads import available_cpus, threads_word


@dataclass
class PhaseUsage:
    seconds: float = 0.0  # wall time the phase held the device
    cpu_seconds: float = 0.0  # this process's CPU time over the phase, all threads
    images: int = 0  # images through a network: training, validation, test
    peak_memory_bytes: int | None = None


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux, else what the platform says)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def describe_device(device: str | torch.device) -> dict[str, Any]:
    """{"type", "device", "name"} and, for a GPU, its memory; for the CPU, the model, the
    threads torch uses and the cores the process may use (affinity and cgroup quota)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        index = dev.index if dev.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        return {"type": "cuda", "device": f"cuda:{index}", "name": props.name,
                "memory_bytes": int(props.total_memory)}
    if dev.type == "cpu":
        return {"type": "cpu", "device": "cpu", "name": cpu_model(),
                "threads": torch.get_num_threads(), "cores": available_cpus()}
    return {"type": dev.type, "device": str(dev), "name": dev.type}


_HWM = re.compile(r"VmHWM:\s+(\d+)\s+kB")


def _peak_rss() -> int | None:
    """The process's peak resident set since the last reset (Linux), in bytes."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            found = _HWM.search(f.read())
        if found:
            return int(found.group(1)) * 1024
    except OSError:
        pass
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # lifetime peak
    except (ImportError, OSError):
        return None


def _reset_peak_rss() -> None:
    try:  # "5" resets VmHWM to the current RSS (Linux 4.0+); elsewhere it stays the lifetime's
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        pass


class UsageMeter:
    """Accumulates `PhaseUsage` per phase on one device."""

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.torch_device = torch.device(device)
        self.device = describe_device(device)
        self.memory_kind = "cuda_allocated" if self.torch_device.type == "cuda" else "process_rss"
        self.phases: dict[str, PhaseUsage] = {}
        self._current: str | None = None
        self._started: tuple[float, float] | None = None

    def _peak_memory(self) -> int | None:
        if self.torch_device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.torch_device))
        return _peak_rss()

    def _note_peak(self, usage: PhaseUsage) -> None:
        peak = self._peak_memory()
        if peak is not None:
            usage.peak_memory_bytes = max(usage.peak_memory_bytes or 0, peak)

    def begin(self, name: str) -> PhaseUsage:
        """Start timing phase `name` (ending the running one); phases may repeat (a resumed
        run) and add up."""
        self.end()
        usage = self.phases.setdefault(name, PhaseUsage())
        if self.torch_device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.torch_device)
        else:
            _reset_peak_rss()
        self._current = name
        self._started = (time.perf_counter(), time.process_time())
        return usage

    def end(self) -> None:
        """Stop timing the running phase, if any."""
        if self._current is None or self._started is None:
            return
        usage = self.phases[self._current]
        if self.torch_device.type == "cuda":
            with suppress(RuntimeError):  # the phase's queued work is its own
                torch.cuda.synchronize(self.torch_device)
        wall, cpu = self._started
        usage.seconds += time.perf_counter() - wall
        usage.cpu_seconds += time.process_time() - cpu
        self._note_peak(usage)
        self._current = self._started = None

    @contextmanager
    def phase(self, name: str) -> Iterator[PhaseUsage]:
        usage = self.begin(name)
        try:
            yield usage
        finally:
            self.end()

    def count(self, model: nn.Module) -> RemovableHandle:
        """Count the images of every call of `model` (its first argument's batch size) into the
        running phase; remove the handle when done."""

        def hook(_module: nn.Module, args: tuple[Any, ...]) -> None:
            if self._current is not None and args and isinstance(args[0], torch.Tensor):
                self.phases[self._current].images += int(args[0].shape[0])

        return model.register_forward_pre_hook(hook)

    def snapshot(self) -> dict[str, Any]:
        """The usage so far (the running phase up to now), as JSON."""
        if self._current is not None:  # before a later reset of the peak (a memory measurement)
            self._note_peak(self.phases[self._current])
        phases = {name: asdict(p) for name, p in self.phases.items()}
        if self._current is not None and self._started is not None:
            running = phases[self._current]
            running["seconds"] += time.perf_counter() - self._started[0]
            running["cpu_seconds"] += time.process_time() - self._started[1]
            peak = self._peak_memory()
            if peak is not None:
                running["peak_memory_bytes"] = max(running["peak_memory_bytes"] or 0, peak)
        peaks = [p["peak_memory_bytes"] for p in phases.values() if p["peak_memory_bytes"]]
        return {
            "device": dict(self.device),
            "memory_kind": self.memory_kind,
            "phases": phases,
            "seconds": sum(p["seconds"] for p in phases.values()),
            "cpu_seconds": sum(p["cpu_seconds"] for p in phases.values()),
            "images": sum(p["images"] for p in phases.values()),
            "peak_memory_bytes": max(peaks) if peaks else None,
        }


def summary(usage: dict[str, Any] | None) -> str:
    """One line. On the CPU the process's CPU time, all threads, next to the wall time: "cost:
    6.8 CPU-minutes in 3.8 minutes on AMD EPYC (2 threads): search 5.1, final 1.7; ...". On a
    GPU the time it held the device, and the CPU time after it."""
    if not usage or not usage.get("phases"):
        return "cost: not measured"
    device = usage.get("device") or {}
    where = device.get("name") or device.get("device") or "?"
    if device.get("threads"):
        where += f" ({threads_word(device['threads'])})"
    cpu_minutes = usage.get("cpu_seconds", 0.0) / 60
    if device.get("type") == "cpu":
        phases = ", ".join(f"{name} {p.get('cpu_seconds', 0.0) / 60:.1f}"
                           for name, p in usage["phases"].items())
        line = (f"cost: {cpu_minutes:.1f} CPU-minutes in {usage['seconds'] / 60:.1f} minutes "
                f"on {where}: {phases}")
    else:
        kind = "GPU" if device.get("type") == "cuda" else str(device.get("type", "device"))
        phases = ", ".join(f"{name} {p['seconds'] / 60:.1f}"
                           for name, p in usage["phases"].items())
        line = (f"cost: {usage['seconds'] / 60:.1f} {kind}-minutes on {where}: {phases}; "
                f"{cpu_minutes:.1f} CPU-minutes")
    line += f"; {usage['images']:,} images"
    if usage.get("peak_memory_bytes"):
        line += f"; peak memory {usage['peak_memory_bytes'] / 2**20:,.0f} MiB"
    return line
