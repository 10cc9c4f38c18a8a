"""REINFORCE for the controller: moving-average baseline and an entropy bonus (ENAS)."""

from __future__ import annotations

import torch
from torch import nn

from .config import ControllerConfig
from .controller import Samples


class Reinforce:
    def __init__(self, controller: nn.Module, config: ControllerConfig) -> None:
        self.controller = controller
        self.config = config
        # Reference settings: Adam with beta1 = 0 and a large epsilon.
        self.optimizer = torch.optim.Adam(controller.parameters(), lr=config.lr,
                                          betas=(0.0, 0.999), eps=1e-3)
        # Starts at the first reward rather than at 0, so the first updates are not all
        # pushed the same way by a baseline that is far below every reward.
        self.baseline: float | None = None

    def step(self, samples: Samples, accuracy: torch.Tensor) -> float:
        """One update from `samples` and their rewards' accuracy term (a CPU tensor (n,))."""
        cfg = self.config
        rewards = accuracy + cfg.entropy_weight * samples.entropy.detach()
        advantages = []
        for r in rewards.tolist():
            self.baseline = r if self.baseline is None else (
                self.baseline - (1 - cfg.baseline_decay) * (self.baseline - r)
            )
            advantages.append(r - self.baseline)
        loss = -(samples.log_prob * torch.tensor(advantages)).mean() + samples.penalty(cfg)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.controller.parameters(), cfg.grad_clip)
        self.optimizer.step()
        return float(loss.detach())

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "baseline": self.baseline}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.baseline = state["baseline"]
