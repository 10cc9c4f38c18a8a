"""One SGD step on a batch, for the shared weights of the search and for a final training: the
two must train alike (the auxiliary head's loss, clipping), so there is one of it."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .config import Runtime
from .runtime import autocast


def train_step(model: nn.Module, inputs: tuple[Any, ...], y: torch.Tensor,
               optimizer: torch.optim.Optimizer, params: list[torch.Tensor], *,
               aux_weight: float, grad_clip: float,
               runtime: Runtime) -> tuple[torch.Tensor, torch.Tensor]:
    """`model(*inputs)` gives the logits, or (logits, auxiliary logits) from a network with an
    auxiliary head, whose loss counts `aux_weight` times; the gradients of `params` are clipped
    to norm `grad_clip` before the step. Returns the loss and the logits, detached."""
    optimizer.zero_grad(set_to_none=True)
    loss, logits = _backward(model, inputs, y, aux_weight=aux_weight, runtime=runtime)
    torch.nn.utils.clip_grad_norm_(params, grad_clip, foreach=True)
    optimizer.step()
    return loss, logits


def train_group_step(model: nn.Module, group: list[tuple[Any, ...]], y: torch.Tensor,
                     optimizer: torch.optim.Optimizer, params: list[torch.Tensor], *,
                     aux_weight: float, grad_clip: float,
                     runtime: Runtime) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """`train_step` for a group of inputs on one batch `y` (FairNAS's step: one architecture
    each): their gradients averaged into one update. Returns each one's loss and logits."""
    optimizer.zero_grad(set_to_none=True)
    out = [_backward(model, inputs, y, aux_weight=aux_weight, runtime=runtime,
                     scale=1 / len(group)) for inputs in group]
    torch.nn.utils.clip_grad_norm_(params, grad_clip, foreach=True)
    optimizer.step()
    return out


def _backward(model: nn.Module, inputs: tuple[Any, ...], y: torch.Tensor, *,
              aux_weight: float, runtime: Runtime,
              scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Adds the gradient of `scale` times the loss; returns the loss and logits, detached."""
    with autocast(runtime):
        out = model(*inputs)
        logits, aux = out if isinstance(out, tuple) else (out, None)
        loss = F.cross_entropy(logits, y)
        if aux is not None:
            loss = loss + aux_weight * F.cross_entropy(aux, y)
    (loss * scale if scale != 1.0 else loss).backward()
    return loss.detach(), logits.detach()


class Tally:
    """An epoch's training loss and accuracy, summed on the device: reading them back once at
    the end instead of every step keeps the loop from waiting on the device."""

    def __init__(self, device: torch.device) -> None:
        self.loss = torch.zeros((), device=device)
        self.correct = torch.zeros((), device=device, dtype=torch.long)
        self.seen = 0

    def add(self, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        self.loss += loss * y.shape[0]
        self.correct += (logits.argmax(1) == y).sum()
        self.seen += y.shape[0]

    def means(self) -> tuple[float, float]:
        """(mean loss, accuracy) over the samples added."""
        seen = max(self.seen, 1)
        return float(self.loss) / seen, int(self.correct) / seen
