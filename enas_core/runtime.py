"""Device, precision and memory-format handling shared by the search and the final training."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from .config import Cancelled as Cancelled  # its home is torch-free; the engine raises it
from .config import Runtime


def autocast(runtime: Runtime) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast where asked for, a no-op context otherwise (nanoGPT's `ctx`)."""
    if runtime.precision == "bf16":
        device_type = torch.device(runtime.device).type
        return torch.autocast(device_type=device_type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def prepare(model: nn.Module, runtime: Runtime) -> nn.Module:
    if torch.device(runtime.device).type == "cuda":
        tf32 = runtime.precision == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cudnn.benchmark = True
    model = model.to(runtime.device)
    if runtime.use_channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def cosine_lr(epoch: float, epochs: int, lr_max: float, lr_min: float,
              restart_period: int | None = None, restart_mult: int = 2) -> float:
    """Cosine annealing from `lr_max` to `lr_min` over `epochs`. With `restart_period`, with
    warm restarts instead (SGDR, Loshchilov & Hutter 2017, the ENAS reference's schedule): the
    first cycle lasts `restart_period` epochs, each next one `restart_mult` times longer."""
    t, length = epoch, max(epochs, 1)
    if restart_period:
        length = restart_period
        while t >= length:
            t -= length
            length *= restart_mult
    return lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * t / length))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def cycle(loader: Any) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless batches: epochs of `loader` back to back (each reshuffled)."""
    while True:
        yield from loader


def never() -> bool:
    return False


StopFn = Callable[[], bool]


def rng_state(*generators: torch.Generator) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(),
                             "generators": [g.get_state() for g in generators]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any], *generators: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    for g, s in zip(generators, state["generators"], strict=True):
        g.set_state(s)
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
