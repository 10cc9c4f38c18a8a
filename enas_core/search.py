"""The ENAS search: shared weights trained with SGD, the controller with REINFORCE.

One `Searcher` holds everything a search needs and can checkpoint it at epoch boundaries
(`state_dict` / `load_state_dict`); `pipeline.run_job` drives it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .architecture import Architecture
from .config import Runtime, SearchConfig
from .data import DeviceLoader, Splits
from .metrics import EpochMetrics
from .reinforce import Reinforce
from .runtime import (
    Cancelled,
    StopFn,
    autocast,
    cosine_lr,
    cycle,
    never,
    prepare,
    rng_state,
    set_lr,
    set_rng_state,
)
from .spaces import arch_from_summary, arch_summary, build_controller, build_search_model


@dataclass
class Candidate:
    arch: Architecture
    val_acc: float

    def to_dict(self) -> dict[str, Any]:
        return {"arch": self.arch.to_json(), "val_acc": self.val_acc}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


class Searcher:
    def __init__(self, config: SearchConfig, data: Splits, *, runtime: Runtime | None = None,
                 seed: int = 0) -> None:
        self.config = config
        self.runtime = runtime or Runtime()
        self.device = torch.device(self.runtime.device)
        torch.manual_seed(seed)
        train = data.train
        model = build_search_model(config.model, train.channels, train.num_classes)
        self.model = prepare(model, self.runtime)
        self.controller = build_controller(config.model, config.controller)
        self.w_opt = torch.optim.SGD(
            self.model.parameters(), lr=config.lr_max, momentum=config.momentum, nesterov=True,
            weight_decay=config.weight_decay,
        )
        self.reinforce = Reinforce(self.controller, config.controller)
        self.ctrl_gen = torch.Generator().manual_seed(seed)
        self.data_gen = torch.Generator(device=self.device).manual_seed(seed + 1)
        loader = {"device": self.device, "mean": data.mean, "std": data.std,
                  "generator": self.data_gen, "channels_last": self.runtime.channels_last}
        self.train_loader = DeviceLoader(train, batch_size=config.batch_size,
                                         augment=config.augment, **loader)
        self.reward_loader = DeviceLoader(data.val, batch_size=config.eval_batch_size, **loader)
        self.eval_loader = DeviceLoader(data.val, batch_size=config.eval_batch_size,
                                        shuffle=False, drop_last=False, **loader)
        self.epoch = 0
        self.best: Candidate | None = None
        self.history: list[dict[str, Any]] = []
        self.elapsed = 0.0  # seconds of search, summed over resumes
        self.deadline: float | None = None

    # -- checkpointing -------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "controller": self.controller.state_dict(),
            "w_opt": self.w_opt.state_dict(),
            "reinforce": self.reinforce.state_dict(),
            "epoch": self.epoch,
            "best": self.best.to_dict() | {"summary": arch_summary(self.best.arch)}
            if self.best else None,
            "history": self.history,
            "elapsed": self.elapsed,
            "rng": rng_state(self.ctrl_gen, self.data_gen),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.controller.load_state_dict(state["controller"])
        self.w_opt.load_state_dict(state["w_opt"])
        self.reinforce.load_state_dict(state["reinforce"])
        self.epoch = state["epoch"]
        best = state["best"]
        self.best = Candidate(arch_from_summary(best["summary"]), best["val_acc"]) if best else None
        self.history = list(state["history"])
        self.elapsed = state["elapsed"]
        set_rng_state(state["rng"], self.ctrl_gen, self.data_gen)

    # -- one epoch -----------------------------------------------------------------------

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def run_epoch(self, should_stop: StopFn = never) -> EpochMetrics:
        """Shared weights for one pass, then the controller; returns this epoch's metrics."""
        cfg = self.config
        t0 = time.perf_counter()
        lr = cosine_lr(self.epoch, cfg.epochs, cfg.lr_max, cfg.lr_min)
        train_loss, train_acc = self.train_shared(lr, should_stop)
        ctrl = self.train_controller(should_stop)
        sampled = ctrl.pop("sampled")
        # Confirm the epoch's highest-reward architecture on the validation split before it can
        # become the best so far: a single minibatch reward is too noisy to report.
        if sampled:
            top = max(sampled, key=lambda s: s["reward"])
            arch = arch_from_summary(top)
            acc = self.evaluate(arch)
            if self.best is None or acc > self.best.val_acc:
                self.best = Candidate(arch, acc)
        self.epoch += 1
        seconds = time.perf_counter() - t0
        self.elapsed += seconds
        metrics = EpochMetrics(
            phase="search", epoch=self.epoch, epochs=cfg.epochs, progress=0.0,
            train_loss=train_loss, train_acc=train_acc,
            val_acc=self.best.val_acc if self.best else None, lr=lr, seconds=seconds,
            sampled=sampled, best=self.best.to_dict() if self.best else None, **ctrl,
        )
        self.history.append(metrics.to_dict())
        return metrics

    def train_shared(self, lr: float, should_stop: StopFn) -> tuple[float, float]:
        cfg = self.config
        set_lr(self.w_opt, lr)
        steps = cfg.steps_per_epoch or len(self.train_loader)
        # The controller does not change during this phase: sample every step's architecture
        # up front in one batched pass, so the training loop never waits on the controller.
        archs = self.controller.sample(steps, self.ctrl_gen)
        self.model.train()
        params = list(self.model.parameters())
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        seen = 0
        for arch, (x, y) in zip(archs, cycle(self.train_loader), strict=False):
            if should_stop():
                raise Cancelled
            if self.out_of_time():
                break
            with autocast(self.runtime):
                logits = self.model(x, arch)
                loss = F.cross_entropy(logits, y)
            self.w_opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip, foreach=True)
            self.w_opt.step()
            loss_sum += loss.detach() * y.shape[0]
            correct += (logits.detach().argmax(1) == y).sum()
            seen += y.shape[0]
        seen = max(seen, 1)
        return float(loss_sum) / seen, int(correct) / seen

    def train_controller(self, should_stop: StopFn) -> dict[str, Any]:
        cfg = self.config.controller
        self.model.eval()
        sampled: list[dict[str, Any]] = []
        losses, entropies, rewards_all = [], [], []
        for _ in range(cfg.train_steps):
            if should_stop():
                raise Cancelled
            if self.out_of_time():
                break
            samples = self.controller(cfg.num_aggregate, self.ctrl_gen)
            accs = []
            with torch.no_grad(), autocast(self.runtime):
                for arch in samples.archs:
                    x, y = self.reward_loader.sample()
                    accs.append((self.model(x, arch).argmax(1) == y).float().mean())
            acc = torch.stack(accs).cpu()  # the one device sync of a controller step
            loss = self.reinforce.step(samples, acc)
            losses.append(loss)
            entropies.append(float(samples.entropy.detach().mean()))
            rewards_all += acc.tolist()
            sampled += [arch_summary(a) | {"reward": r}
                        for a, r in zip(samples.archs, acc.tolist(), strict=True)]
        return {"controller_loss": _mean(losses), "entropy": _mean(entropies),
                "baseline": self.reinforce.baseline, "mean_reward": _mean(rewards_all),
                "sampled": sampled}

    # -- evaluation and the final choice -------------------------------------------------

    @torch.no_grad()
    def evaluate(self, arch: Architecture) -> float:
        """Validation accuracy of `arch` with the shared weights (first `eval_batches`)."""
        self.model.eval()
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        seen = 0
        limit = self.config.eval_batches
        for i, (x, y) in enumerate(self.eval_loader):
            if limit is not None and i >= limit:
                break
            with autocast(self.runtime):
                correct += (self.model(x, arch).argmax(1) == y).sum()
            seen += y.shape[0]
        return int(correct) / max(seen, 1)

    def derive(self, should_stop: StopFn = never) -> list[Candidate]:
        """Sample candidates, rank them on validation data: the top-k, best first."""
        archs = self.controller.sample(self.config.num_candidates, self.ctrl_gen)
        if self.best is not None:
            archs.append(self.best.arch)
        ranked: dict[str, Candidate] = {}
        for arch in archs:
            if should_stop():
                raise Cancelled
            key = str(arch)
            if key not in ranked:
                ranked[key] = Candidate(arch, self.evaluate(arch))
        order = sorted(ranked.values(), key=lambda c: -c.val_acc)
        return order[: self.config.top_k]
