"""Structured per-epoch metrics, and what a built network measures: `measure_params`,
`measure_flops`, `measure_latency`, `measure_memory`. (`costs.py` predicts the same from an
architecture, without building it.)"""

from __future__ import annotations

import gc
import statistics
import time
import weakref
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from .costs import Memory

Phase = Literal["search", "select", "final", "baseline"]
Clock = Literal["wall", "thread"]


@dataclass
class EpochMetrics:
    phase: Phase
    epoch: int  # 1-based within the phase
    epochs: int  # planned epochs in the phase
    progress: float  # 0..1 over the whole job
    train_loss: float
    train_acc: float
    val_acc: float | None
    lr: float
    seconds: float
    checkpoint: str | None = None
    # Search only:
    controller_loss: float | None = None
    entropy: float | None = None
    baseline: float | None = None
    mean_reward: float | None = None
    # Per controller sample: {"conv","reduce"|"arc", "reward", "acc", "params", "flops"}, plus
    # "latency_ms"/"memory_mb" when a limit needs them and "feasible" when limits are set.
    sampled: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None  # {"arch": ARCH JSON, "val_acc": float}
    # Final only:
    val_loss: float | None = None
    # What the run has cost so far (enas_core.usage.UsageMeter.snapshot()).
    usage: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpochMetrics:
        return cls(**data)


def measure_params(model: nn.Module) -> int:
    """Parameters of a built network (`costs.count_params` predicts them from an
    architecture)."""
    return sum(p.numel() for p in model.parameters())


def measure_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of one forward pass of a built network for one image, counted as it runs
    (FlopCounterMode counts 2 per MAC); `costs.count_flops` predicts them."""
    # Imported here: torch.utils.flop_counter loads triton (~77 MiB of RSS with the CUDA
    # wheel), which a worker that never measures FLOPs in this process need not carry.
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    p = next(model.parameters())
    x = torch.zeros(1, *input_shape, device=p.device, dtype=p.dtype)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    model.train(was_training)
    return counter.get_total_flops() // 2


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def measure_latency(model: nn.Module, input_shape: tuple[int, ...], *, batch_size: int = 1,
                    warmup: int = 10, repeats: int = 30,
                    device: torch.device | str | None = None,
                    clock: Clock = "wall") -> float:
    """Median inference latency in milliseconds (after warm-up, synchronised). The input goes
    to the device of the model's first parameter or buffer, or `device` for a module that
    holds neither (a pooling op).

    `clock="thread"` times the calling thread's CPU time instead of wall time: on a CPU shared
    with other work and with one intra-op thread (`torch.set_num_threads(1)`), it leaves out
    the time the thread waits for a core, which wall time counts as latency."""
    p = next(iter([*model.parameters(), *model.buffers()]), None)
    if p is not None:
        dev, dtype = p.device, p.dtype if p.is_floating_point() else torch.float32
    else:
        dev, dtype = torch.device(device or "cpu"), torch.float32
    if clock == "thread" and (dev.type != "cpu" or torch.get_num_threads() != 1):
        raise ValueError("clock='thread' needs the CPU and torch.set_num_threads(1)")
    now = time.thread_time if clock == "thread" else time.perf_counter
    was_training = model.training
    model.eval()
    x = torch.randn(batch_size, *input_shape, device=dev, dtype=dtype)
    for _ in range(warmup):
        model(x)
    _sync(dev)
    times = []
    for _ in range(repeats):
        t0 = now()
        model(x)
        _sync(dev)
        times.append(now() - t0)
    model.train(was_training)
    return statistics.median(times) * 1e3


class _LiveTensorBytes(TorchDispatchMode):
    """Tracks the bytes of every storage an op allocates while a Python reference to it (or to
    a view of it) lives: the CPU counterpart of the CUDA allocator's allocated-bytes peak."""

    def __init__(self, ignore: set[int]) -> None:
        super().__init__()
        self.ignore = ignore  # storages that exist before the pass (weights, the input)
        self.storages: dict[int, list[int]] = {}  # data_ptr -> [nbytes, live references]
        self.live = 0
        self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self._track(t)
        return out

    def _track(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        ptr, nbytes = storage.data_ptr(), storage.nbytes()
        if nbytes == 0 or ptr in self.ignore:
            return
        entry = self.storages.get(ptr)
        if entry is None:
            entry = self.storages[ptr] = [nbytes, 0]
            self.live += nbytes
            self.peak = max(self.peak, self.live)
        entry[1] += 1
        weakref.finalize(t, self._release, ptr)

    def _release(self, ptr: int) -> None:
        entry = self.storages[ptr]
        entry[1] -= 1
        if entry[1] == 0:
            self.live -= entry[0]
            del self.storages[ptr]


@dataclass(frozen=True)
class MeasuredMemory(Memory):
    """`costs.Memory` as measured: the activations are the peak allocated during one inference
    pass on top of the weights and the input, on `device`."""

    device: str = "cpu"


@torch.no_grad()
def measure_memory(model: nn.Module, input_shape: tuple[int, ...], *,
                   batch_size: int = 1) -> MeasuredMemory:
    """Peak inference memory at `batch_size` on the model's device. On CUDA the activations
    are `torch.cuda.max_memory_allocated` over the pass minus what was allocated before it
    (warm-up first, so lazily allocated library workspaces are not counted), and weights and
    input are counted in the allocator's 512-byte blocks; on the CPU the activations are the
    peak of live tensor storages, tracked op by op."""
    was_training = model.training
    model.eval()
    p = next(model.parameters())
    tensors = [*model.parameters(), *model.buffers()]
    x = torch.randn(batch_size, *input_shape, device=p.device, dtype=p.dtype)

    def held(t: torch.Tensor) -> int:  # what the CUDA caching allocator gives each tensor
        n = t.untyped_storage().nbytes()
        return max(512, -(-n // 512) * 512) if p.device.type == "cuda" else n

    weights = sum(held(t) for t in tensors)
    input_bytes = held(x)
    if p.device.type == "cuda":
        model(x)  # warm-up: cuBLAS/cuDNN handles and workspaces
        torch.cuda.synchronize(p.device)
        torch.cuda.reset_peak_memory_stats(p.device)
        before = torch.cuda.memory_allocated(p.device)
        model(x)
        torch.cuda.synchronize(p.device)
        activations = torch.cuda.max_memory_allocated(p.device) - before
    else:
        ignore = {t.untyped_storage().data_ptr() for t in [*tensors, x]}
        with _LiveTensorBytes(ignore) as tracker:
            out = model(x)
            del out
        gc.collect()
        activations = tracker.peak
    model.train(was_training)
    return MeasuredMemory(weights=weights, input=input_bytes, activations=activations,
                          batch_size=batch_size, device=str(p.device))
