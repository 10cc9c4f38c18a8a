"""Structured per-epoch metrics and measurements of a built network."""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

Phase = Literal["search", "final"]


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
    sampled: list[dict[str, Any]] = field(default_factory=list)  # {"conv","reduce"|"arc","reward"}
    best: dict[str, Any] | None = None  # {"arch": ARCH JSON, "val_acc": float}
    # Final only:
    val_loss: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpochMetrics:
        return cls(**data)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of one forward pass for one image (FlopCounterMode counts 2 per MAC)."""
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
                    warmup: int = 10, repeats: int = 30) -> float:
    """Median inference latency in milliseconds (after warm-up, synchronised)."""
    was_training = model.training
    model.eval()
    p = next(model.parameters())
    x = torch.randn(batch_size, *input_shape, device=p.device, dtype=p.dtype)
    for _ in range(warmup):
        model(x)
    _sync(p.device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model(x)
        _sync(p.device)
        times.append(time.perf_counter() - t0)
    model.train(was_training)
    return statistics.median(times) * 1e3
