"""Final training: one architecture built as a standalone network, trained from scratch."""

from __future__ import annotations

import copy
import time
from typing import Any

import torch
import torch.nn.functional as F

from .architecture import Architecture
from .batchnorm import recalibrate_batch_norm
from .config import ConstraintConfig, Runtime, TrainConfig, train_batch_size
from .data import DeviceLoader, Splits
from .metrics import (
    EpochMetrics,
    measure_flops,
    measure_latency,
    measure_memory,
    measure_params,
)
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
from .sanity import chance_accuracy, training_warnings
from .spaces import build_network
from .step import Tally, train_step


class Trainer:
    def __init__(self, arch: Architecture, config: TrainConfig, data: Splits, *,
                 runtime: Runtime | None = None, seed: int = 0) -> None:
        self.arch = arch
        self.config = config
        self.runtime = runtime or Runtime()
        self.device = torch.device(self.runtime.device)
        self.data = data
        torch.manual_seed(seed)
        train = data.train
        self.input_shape = (train.channels, *train.image_shape[:2])
        self.num_classes = train.num_classes
        net = build_network(arch, config.model, train.channels, train.num_classes)
        self.model = prepare(net, self.runtime)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=config.lr_max,
                                   momentum=config.momentum, nesterov=True,
                                   weight_decay=config.weight_decay)
        self.gen = torch.Generator(device=self.device).manual_seed(seed + 2)
        loader = {"device": self.device, "mean": data.mean, "std": data.std,
                  "generator": self.gen, "channels_last": self.runtime.use_channels_last}
        self.batch_size = train_batch_size(config, train.num_samples)
        self.train_loader = DeviceLoader(train, batch_size=self.batch_size,
                                         augment=config.augment, **loader)
        self.loaders = {
            split: DeviceLoader(getattr(data, split), batch_size=config.batch_size,
                                shuffle=False, drop_last=False, **loader)
            for split in ("val", "test")
        }
        # Training images as evaluation sees them (no augmentation), in a fixed order: the
        # batch-norm statistics are recomputed from them before every evaluation.
        self.stats_loader = self.train_loader.in_order()
        self.epoch = 0
        self.history: list[dict[str, Any]] = []

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "opt": self.opt.state_dict(),
                "epoch": self.epoch, "history": self.history, "rng": rng_state(self.gen)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.epoch = state["epoch"]
        self.history = list(state["history"])
        set_rng_state(state["rng"], self.gen)

    def run_epoch(self, should_stop: StopFn = never) -> EpochMetrics:
        cfg = self.config
        t0 = time.perf_counter()
        lr = cosine_lr(self.epoch, cfg.epochs, cfg.lr_max, cfg.lr_min,
                       cfg.lr_restart_period, cfg.lr_restart_mult)  # at the epoch's start
        if hasattr(self.model, "set_drop_path"):  # ramped up linearly, as in NASNet/DARTS
            self.model.set_drop_path(cfg.model.drop_path * self.epoch / max(cfg.epochs, 1))
        self.model.train()
        params = list(self.model.parameters())
        steps = cfg.steps_per_epoch or len(self.train_loader)
        tally = Tally(self.device)
        for i, (x, y) in zip(range(steps), cycle(self.train_loader), strict=False):
            if should_stop():
                raise Cancelled
            # The cosine is followed step by step, not held for an epoch: with a budget of a
            # few epochs, a last epoch at half the peak rate leaves the weights far from
            # annealed (bench/README.md, "Search quality").
            set_lr(self.opt, cosine_lr(self.epoch + i / steps, cfg.epochs, cfg.lr_max,
                                       cfg.lr_min, cfg.lr_restart_period, cfg.lr_restart_mult))
            tally.add(*train_step(self.model, (x,), y, self.opt, params,
                                  aux_weight=cfg.aux_weight, grad_clip=cfg.grad_clip,
                                  runtime=self.runtime), y)
        self.recalibrate()
        val_loss, val_acc = self.evaluate("val")
        self.epoch += 1
        train_loss, train_acc = tally.means()
        metrics = EpochMetrics(
            phase="final", epoch=self.epoch, epochs=cfg.epochs, progress=0.0,
            train_loss=train_loss, train_acc=train_acc, val_acc=val_acc,
            val_loss=val_loss, lr=lr, seconds=time.perf_counter() - t0,
        )
        self.history.append(metrics.to_dict())
        return metrics

    def recalibrate(self) -> None:
        """Batch-norm statistics of the weights as they are now (see `batchnorm`): done at the
        end of every epoch, so evaluation, the checkpoint and the exported model all use them."""
        with autocast(self.runtime):
            recalibrate_batch_norm(self.model, self.stats_loader)

    @torch.no_grad()
    def evaluate(self, split: str) -> tuple[float, float]:
        """(loss, accuracy) on the val or test split."""
        self.model.eval()
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        seen = 0
        for x, y in self.loaders[split]:
            with autocast(self.runtime):
                logits = self.model(x)
            loss_sum += F.cross_entropy(logits.float(), y, reduction="sum")
            correct += (logits.argmax(1) == y).sum()
            seen += y.shape[0]
        seen = max(seen, 1)
        return float(loss_sum) / seen, int(correct) / seen

    def report(self, constraints: ConstraintConfig | None = None) -> dict[str, Any]:
        """Test accuracy (the only time the test split is read) and the network's costs:
        params, FLOPs (multiply-adds of one image), latency and peak inference memory (MiB)
        at `latency_batch_size` on the training device. With `constraints`, also each limit
        next to the value measured where the limit applies (its latency device and batch
        size), marked met or not: `"constraints": [{"name", "limit", "value", "met", ...}]`."""
        test_loss, test_acc = self.evaluate("test")
        model = self.model
        bs = self.config.latency_batch_size
        last = self.history[-1] if self.history else {}
        out = {
            "test_acc": test_acc,
            "test_loss": test_loss,
            "val_acc": last.get("val_acc"),
            "train_acc": last.get("train_acc"),
            "batch_size": self.batch_size,
            "params": measure_params(model),
            "flops": measure_flops(model, self.input_shape),
            "latency_ms": measure_latency(model, self.input_shape, batch_size=bs),
            "memory_mb": measure_memory(model, self.input_shape, batch_size=bs).mb,
            "latency_batch_size": bs,
            "device": str(self.device),
            "input_shape": list(self.input_shape),
            "warnings": training_warnings(
                train_acc=last.get("train_acc"), val_acc=last.get("val_acc"),
                chance=chance_accuracy(self.data.val.class_counts())),
        }
        if constraints is not None and constraints.active:
            out["constraints"] = self._check(constraints, out)
            out["constraints_met"] = all(c["met"] for c in out["constraints"])
        return out

    def _check(self, constraints: ConstraintConfig, out: dict[str, Any]) -> list[dict[str, Any]]:
        from .constraints import measured_report
        from .latency import check_available, torch_threads

        limits = constraints.limits()
        measured = {"params": out["params"], "flops": out["flops"]}
        device = _indexed(torch.device(check_available(constraints.latency_device)))
        same = device == _indexed(self.device)
        bs = constraints.latency_batch_size
        here = same and bs == out["latency_batch_size"]
        model = self.model if same else copy.deepcopy(self.model).to(device)
        if "latency_ms" in limits:
            threads = constraints.latency_threads
            if here and threads is None:
                measured["latency_ms"] = out["latency_ms"]
            else:
                clock = "thread" if threads == 1 and device.type == "cpu" else "wall"
                with torch_threads(threads):
                    measured["latency_ms"] = measure_latency(model, self.input_shape,
                                                             batch_size=bs, clock=clock)
        if "memory_mb" in limits:
            measured["memory_mb"] = out["memory_mb"] if here else measure_memory(
                model, self.input_shape, batch_size=bs).mb
        report = measured_report(constraints, measured)
        for row in report:
            if row["name"] in ("latency_ms", "memory_mb"):
                row |= {"device": str(device), "batch_size": bs}
        return report


def _indexed(device: torch.device) -> torch.device:
    """cuda -> cuda:N (the current device), so two names of one device compare equal."""
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device
