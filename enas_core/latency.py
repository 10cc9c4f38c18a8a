"""Inference latency: measured on a built network, and predicted from a per-op table.

Measuring a network (`measure_arch_latency`) builds it and times it with
`metrics.measure_latency`: warm-up, device synchronisation, the median of repeats. That takes
tens of milliseconds to seconds, too slow for every controller sample. So, as ProxylessNAS and
nn-Meter do, `LatencyTable` times each piece of the final network once, in isolation, at every
(op, channels, resolution, stride) the network config can produce — stem, preprocessing,
every op, the node sums, the cell output conv for each number of loose ends, the reductions
and the classifier (`costs.network_ops` names them) — and predicts an architecture's latency
as the sum of its pieces plus a constant for what runs between them (the cells' Python code),
calibrated once on two reference networks.

A table is measured once per (device name, torch version, batch size, CPU threads, network
config, input shape, classes) and kept as JSON under `default_cache_dir()`
(`$ENAS_LATENCY_CACHE`, else `$XDG_CACHE_HOME/enas/latency`, else `~/.cache/enas/latency`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import platform
import random
import re
import statistics
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .architecture import Architecture
from .config import ModelConfig
from .costs import Key, NetOp, network_ops, pieces, smallest_architecture
from .metrics import Clock, measure_latency
from .ranks import ranks
from .spaces import build_network, get_space, network_config_for, random_architecture

log = logging.getLogger(__name__)

TABLE_FORMAT = "enas-latency-table/1"
_WARMUP, _REPEATS = 5, 25  # per op; the median is robust to a busy machine's outliers


def default_cache_dir() -> Path:
    env = os.environ.get("ENAS_LATENCY_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "enas" / "latency"


def check_device(device: str) -> str:
    """'cpu', 'cuda' or 'cuda:N'; anything else is a ValueError naming the choices."""
    if device == "cpu" or re.fullmatch(r"cuda(:\d+)?", device or ""):
        return device
    raise ValueError(f"unknown latency device {device!r}; use 'cpu' or 'cuda' (or 'cuda:N')")


def check_available(device: str) -> str:
    """`check_device`, and a ValueError if the device is CUDA and this machine has none."""
    if torch.device(check_device(device)).type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"latency device {device!r} asked for, but CUDA is not available "
                         f"on this machine")
    return device


def device_name(device: str) -> str:
    """What the hardware is called: the CUDA device's name, or the CPU model."""
    dev = torch.device(check_device(device))
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"latency device {device!r} asked for, but CUDA is not available")
        return torch.cuda.get_device_name(dev.index or 0)
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "cpu"


def _own_rng() -> contextlib.AbstractContextManager[None]:
    """Random numbers that leave the global generators (CPU and CUDA) as they were."""
    cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    return torch.random.fork_rng(devices=cuda)


_threads_lock = threading.Lock()


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run with `n` intra-op CPU threads (None: leave as is)."""
    if n is None:
        yield
        return
    with _threads_lock:
        old = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(old)


# -- the pieces a config can produce ----------------------------------------------------------


def table_keys(model: ModelConfig, input_shape: Sequence[int], num_classes: int) -> list[Key]:
    """Every key `costs.network_ops` can produce for this (fitted) config, in a fixed order."""
    c, h, w = input_shape
    return get_space(model.space).table_keys(model, (c, h, w), num_classes)


def op_module(key: Key, batch_size: int, space: str) -> tuple[nn.Module, tuple[int, int, int]]:
    """A module running the piece `key` of a `space` network, and its input's shape."""
    return get_space(space).op_module(key, batch_size)


# -- measuring ----------------------------------------------------------------------------------


def measure_arch_latency(arch: Architecture, model: ModelConfig, input_shape: Sequence[int],
                         num_classes: int, *, device: str = "cpu", batch_size: int = 1,
                         warmup: int = 10, repeats: int = 30, clock: Clock = "wall") -> float:
    """Median latency (ms) of the built final network: warm-up, synchronised, median."""
    with _own_rng():
        torch.manual_seed(0)
        net = build_network(arch, network_config_for(arch, model), input_shape[0], num_classes)
    net = net.to(check_device(device)).eval()
    return measure_latency(net, tuple(input_shape), batch_size=batch_size, warmup=warmup,
                           repeats=repeats, clock=clock)


def _reference_archs(model: ModelConfig) -> list[Architecture]:
    """The cheapest architecture and the most expensive, for calibrating the constant."""
    space = get_space(model.space)
    size = space.size(model)
    return [smallest_architecture(model.space, size), space.largest(size)]


def _calibration_archs(model: ModelConfig, n: int = 6) -> list[Architecture]:
    """The two extremes and a few random architectures (fixed seed): the constant is the
    median of their measured-minus-summed latencies."""
    rng = random.Random(0)
    return [*_reference_archs(model), *(random_architecture(model, rng) for _ in range(n))]


def _keyed_modules(net: nn.Module, arch: Architecture, model: ModelConfig,
                   input_shape: Sequence[int], num_classes: int) -> list[tuple[nn.Module, Key]]:
    """The built network's pieces that are timed in place, with their table keys."""
    return [(net.get_submodule(op.module), op.key)
            for op in pieces(arch, model, input_shape, num_classes)
            if op.runs and op.module is not None]


class _OpTimer:
    """Forward hooks that time modules inside a network, per table key."""

    def __init__(self, clock: Clock, device: torch.device) -> None:
        self.now = time.thread_time if clock == "thread" else time.perf_counter
        self.device = device
        self.on = False
        self.samples: dict[Key, list[float]] = {}
        self.starts: dict[int, float] = {}

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def attach(self, module: nn.Module, key: Key) -> list[Any]:
        def pre(m: nn.Module, args: Any) -> None:
            self._sync()
            self.starts[id(m)] = self.now()

        def post(m: nn.Module, args: Any, output: Any) -> None:
            self._sync()
            if self.on:
                self.samples.setdefault(key, []).append(self.now() - self.starts[id(m)])

        return [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]


@torch.no_grad()
def _in_context(model: ModelConfig, input_shape: Sequence[int], num_classes: int, *,
                device: str, batch_size: int, clock: Clock, warmup: int,
                repeats: int) -> dict[Key, float]:
    """Median time of each architecture-dependent op as it runs inside a whole network: an
    op timed alone, on a hot cache and its own input, can be off by a factor of two on the
    CPU (max pooling is), which is enough to misrank architectures."""
    dev = torch.device(device)
    timer = _OpTimer(clock, dev)
    for arch in get_space(model.space).probes(model):
        net = build_network(arch, model, input_shape[0], num_classes).to(dev).eval()
        handles = [h for module, key in _keyed_modules(net, arch, model, input_shape,
                                                      num_classes)
                   for h in timer.attach(module, key)]
        x = torch.randn(batch_size, *input_shape, device=dev)
        for step in range(warmup + repeats):
            timer.on = step >= warmup
            net(x)
        for handle in handles:
            handle.remove()
    return {key: statistics.median(v) * 1e3 for key, v in timer.samples.items()}


@dataclass
class LatencyTable:
    """Milliseconds per network piece at one batch size on one device, and the constant."""

    meta: dict[str, Any]
    entries: dict[Key, float]
    overhead_ms: float = 0.0
    path: Path | None = field(default=None, compare=False)

    def predict_ops(self, ops: Sequence[NetOp]) -> float:
        """Predicted latency (ms) of a network given as `costs.network_ops`."""
        total = self.overhead_ms
        entries = self.entries
        for op in ops:
            if op.runs:
                total += entries[op.key]
        return total

    __call__ = predict_ops

    def predict(self, arch: Architecture) -> float:
        m = self.meta
        model = ModelConfig(**m["model"])
        return self.predict_ops(network_ops(arch, model, tuple(m["input_shape"]),
                                            m["num_classes"]))

    # -- building and caching --

    @staticmethod
    def cache_key(model: ModelConfig, input_shape: Sequence[int], num_classes: int, *,
                  device: str, batch_size: int, threads: int | None = None,
                  clock: Clock = "wall") -> dict[str, Any]:
        dev = torch.device(check_device(device))
        return {
            "format": TABLE_FORMAT,
            "device": device_name(device),
            "device_type": dev.type,
            "torch": torch.__version__,
            "batch_size": batch_size,
            "threads": (threads or torch.get_num_threads()) if dev.type == "cpu" else None,
            "clock": clock,
            "model": {"space": model.space, "layers": model.layers, "channels": model.channels,
                      "nodes": model.nodes, "stem_multiplier": model.stem_multiplier},
            "input_shape": list(input_shape),
            "num_classes": num_classes,
        }

    @classmethod
    def measure(cls, model: ModelConfig, input_shape: Sequence[int], num_classes: int, *,
                device: str = "cpu", batch_size: int = 1, threads: int | None = None,
                clock: Clock = "wall", warmup: int = _WARMUP,
                repeats: int = _REPEATS) -> LatencyTable:
        """Time every piece of the config (and two reference networks) on `device`."""
        meta = cls.cache_key(model, input_shape, num_classes, device=device,
                             batch_size=batch_size, threads=threads, clock=clock)
        keys = table_keys(model, input_shape, num_classes)
        t0 = time.perf_counter()
        entries: dict[Key, float] = {}
        # Its own random numbers: measuring in the middle of a search must not move the
        # global generator a resumed search restores.
        with torch_threads(threads), _own_rng():
            torch.manual_seed(0)
            for key in keys:
                module, shape = op_module(key, batch_size, model.space)
                module = module.to(device).eval()
                entries[key] = measure_latency(module, shape, batch_size=batch_size,
                                               warmup=warmup, repeats=repeats, device=device,
                                               clock=clock)
            # Ops whose count or kind depends on the architecture: timed in context.
            entries.update(_in_context(model, input_shape, num_classes, device=device,
                                       batch_size=batch_size, clock=clock, warmup=warmup,
                                       repeats=repeats))
            table = cls(meta, entries)
            residuals = [
                measure_arch_latency(a, model, input_shape, num_classes, device=device,
                                     batch_size=batch_size, warmup=warmup, repeats=repeats,
                                     clock=clock) - table.predict(a)
                for a in _calibration_archs(model)
            ]
        table.overhead_ms = statistics.median(residuals)
        meta["measured_s"] = round(time.perf_counter() - t0, 3)
        meta["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        return table

    def to_json(self) -> dict[str, Any]:
        return {"meta": self.meta, "overhead_ms": self.overhead_ms,
                "entries": [[list(k), v] for k, v in self.entries.items()]}

    @classmethod
    def from_json(cls, data: dict[str, Any], path: Path | None = None) -> LatencyTable:
        entries = {tuple(k): float(v) for k, v in data["entries"]}
        return cls(data["meta"], entries, float(data["overhead_ms"]), path)

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1))
        os.replace(tmp, path)
        self.path = path
        return path


_LOADED: dict[str, LatencyTable] = {}  # one table per cache file per process
_LOAD_LOCK = threading.Lock()


def _cache_path(key: dict[str, Any], cache_dir: Path) -> Path:
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    slug = re.sub(r"[^a-z0-9]+", "-", f"{key['device_type']}-{key['device']}".lower()).strip("-")
    return cache_dir / f"{slug[:40]}-{digest}.json"


def latency_table(model: ModelConfig, input_shape: Sequence[int], num_classes: int, *,
                  device: str = "cpu", batch_size: int = 1, threads: int | None = None,
                  clock: Clock = "wall", cache_dir: str | Path | None = None) -> LatencyTable:
    """The table for this config on this device: from the cache, or measured and cached.
    A cache that cannot be written is logged and skipped (the table is still returned)."""
    key = LatencyTable.cache_key(model, input_shape, num_classes, device=device,
                                 batch_size=batch_size, threads=threads, clock=clock)
    path = _cache_path(key, Path(cache_dir) if cache_dir else default_cache_dir())
    with _LOAD_LOCK:
        table = _LOADED.get(str(path))
        if table is not None:
            return table
        if path.is_file():
            try:
                data = json.loads(path.read_text())
                meta = {k: v for k, v in data["meta"].items()
                        if k not in ("measured_s", "measured_at")}
                if meta == key:
                    table = LatencyTable.from_json(data, path)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("ignoring unreadable latency table %s: %s", path, exc)
        if table is None:
            log.info("measuring the latency table for %s on %s (batch %d)",
                     key["model"], key["device"], batch_size)
            table = LatencyTable.measure(model, input_shape, num_classes, device=device,
                                         batch_size=batch_size, threads=threads, clock=clock)
            try:
                table.save(path)
            except OSError as exc:
                log.warning("could not cache the latency table at %s: %s", path, exc)
        _LOADED[str(path)] = table
        return table


# -- how good the prediction is ---------------------------------------------------------------


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman rank correlation (Pearson correlation of the ranks, ties averaged)."""
    if len(a) != len(b) or len(a) < 2:
        raise ValueError("spearman needs two sequences of the same length >= 2")
    ra, rb = ranks(a), ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    va = math.sqrt(sum((x - ma) ** 2 for x in ra))
    vb = math.sqrt(sum((y - mb) ** 2 for y in rb))
    return cov / (va * vb) if va and vb else 0.0


def mape(predicted: Sequence[float], measured: Sequence[float]) -> float:
    """Mean absolute percentage error of `predicted` against `measured`, in percent."""
    return 100 * sum(abs(p - m) / m for p, m in zip(predicted, measured, strict=True)) / len(
        measured)


__all__ = [
    "LatencyTable",
    "check_available",
    "check_device",
    "default_cache_dir",
    "device_name",
    "latency_table",
    "mape",
    "measure_arch_latency",
    "op_module",
    "spearman",
    "table_keys",
    "torch_threads",
]
