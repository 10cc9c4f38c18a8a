"""A whole job: search, choose the best architecture, train it from scratch, report.

After every epoch of either phase a checkpoint is written first (atomically) and `on_epoch` is
called second, with the checkpoint's path in the metrics; `resume_from` continues right after
that epoch. On the CPU with a fixed seed a resumed job ends as one that ran through.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from .config import RunConfig, Runtime, to_dict
from .constraints import limits_dict
from .data import Splits
from .export import atomic_save, save_model
from .metrics import EpochMetrics
from .progress import epoch_work, select_epoch_work
from .runtime import Cancelled, StopFn, never
from .search import Searcher
from .selection import Selection, pool
from .spaces import arch_from_json, network_config_for
from .stage_rule import stage_epochs, stage_of
from .train import Trainer
from .usage import UsageMeter

__all__ = ["Cancelled", "JobResult", "checkpoint_order", "run_job"]

PHASES = ("search", "select", "final", "baseline")  # in the order a job runs them
KEEP_CHECKPOINTS = 2  # the newest and the one before: a caller may not have recorded the newest


@dataclass
class JobResult:
    # {"arch": ARCH JSON, "val_acc", "costs", "feasible", "score"}; None only when hard limits
    # were set and no architecture met them (`constraints["satisfied"]` is then False and
    # `constraints["message"]` says why; nothing is trained).
    best: dict[str, Any] | None
    top_k: list[dict[str, Any]]
    history: list[dict[str, Any]]  # EpochMetrics dicts of both phases, in order
    final: dict[str, Any] | None  # test_acc, params, flops, latency_ms, ... (None: no training)
    model_path: str | None
    search_stopped_early: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    # {"objectives", "latency_device", "latency_batch_size", "evaluated", "front": [points]}
    pareto: dict[str, Any] | None = None
    # None without limits; else {"limits", "modes", ..., "satisfied", "message"}
    constraints: dict[str, Any] | None = None
    # The controller's candidates against uniform ones (report.search_report)
    search_report: dict[str, Any] | None = None
    # With `baseline="random"`: {"arch", "val_acc", ..., "final": {...}, "model_path"}, the best
    # random candidate trained with the same budget; None otherwise
    baseline: dict[str, Any] | None = None
    # What this run cost: device, seconds, images and peak memory per phase (UsageMeter)
    usage: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "top_k": self.top_k,
            "history": self.history,
            "final": self.final,
            "model_path": self.model_path,
            "search_stopped_early": self.search_stopped_early,
            "config": self.config,
            "pareto": self.pareto,
            "constraints": self.constraints,
            "search_report": self.search_report,
            "baseline": self.baseline,
            "usage": self.usage,
        }


def checkpoint_order(path: Path) -> tuple[int, str]:
    """Sorts checkpoints oldest first: by phase in the order a job runs them, then epoch."""
    phase = path.name.split("-")[0]
    return (PHASES.index(phase) if phase in PHASES else -1, path.name)


def _checkpoint(out_dir: Path, phase: str, epoch: int, state: dict[str, Any]) -> Path:
    ckpt_dir = out_dir / "checkpoints"
    path = atomic_save(state, ckpt_dir / f"{phase}-{epoch:04d}.pt")
    order = sorted(ckpt_dir.glob("*.pt"), key=checkpoint_order)
    for old in order[:-KEEP_CHECKPOINTS]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)


def run_job(config: RunConfig, data: Splits, *, out_dir: str | Path, device: str = "cpu",
            runtime: Runtime | None = None,
            on_epoch: Callable[[EpochMetrics], None] | None = None,
            should_stop: StopFn | None = None,
            resume_from: str | Path | None = None,
            on_phase: Callable[..., None] | None = None,
            usage: UsageMeter | None = None,
            latency_cache_dir: str | Path | None = None) -> JobResult:
    """Search, then train the best architecture from scratch (and, with `baseline="random"`,
    the best random candidate too). `on_phase(phase, epoch=, epochs=, progress=)` is told when
    a phase starts: "preparing" (the search network, pricing tables), "search", "final",
    "baseline", with the epochs of it already done (on a resume) and in all, and again as a
    search epoch progresses.

    `usage`: a meter of the caller's to read what the run cost (device time, images, peak
    memory per phase: search, which includes preparing, final, baseline), also when it raises;
    each epoch's metrics and the result carry its snapshot (of this run: a resumed run counts
    from where it resumed). `latency_cache_dir`: where latency tables are kept (default
    `latency.default_cache_dir()`; a service keeps them under its data directory)."""
    config = replace(config, select=stage_of(config))  # an automatic stage decided once
    runtime = runtime or Runtime(device=device)
    meter = usage if usage is not None else UsageMeter(runtime.device)
    try:
        return _run_job(config, data, out_dir=out_dir, runtime=runtime, on_epoch=on_epoch,
                        should_stop=should_stop, resume_from=resume_from, on_phase=on_phase,
                        meter=meter, latency_cache_dir=latency_cache_dir)
    finally:
        meter.end()


def select_epochs(config: RunConfig) -> int:
    """The epochs the selection stage trains in all (each candidate's, added up)."""
    return stage_epochs(stage_of(config))


def _progress_scale(config: RunConfig, data: Splits) -> Callable[..., float]:
    """`at(search_epochs, training_epochs=0, select_epochs=0)`: the job's progress (0..1)
    after that many epochs of the search, of final training (and the baseline's) and of the
    selection stage, each epoch weighted by its work (`progress.epoch_work`), so the rate of
    progress stays that of the time."""
    trainings = 2 if config.baseline == "random" else 1
    train = data.train
    shape = (train.channels, *train.image_shape[:2])
    sizes = (train.num_classes, train.num_samples, data.val.num_samples)
    search, final = epoch_work(config, shape, *sizes)
    select = select_epoch_work(config, shape, *sizes) if stage_of(config).active else 0.0
    total = (config.search.epochs * search + trainings * config.train.epochs * final
             + select_epochs(config) * select)
    if total <= 0:  # nothing to do
        search = final = select = total = 1.0

    def at(search_epochs: float, training_epochs: float = 0, select_epochs: float = 0) -> float:
        return min((search_epochs * search + training_epochs * final
                    + select_epochs * select) / total, 1.0)

    return at


def _run_job(config: RunConfig, data: Splits, *, out_dir: str | Path, runtime: Runtime,
             on_epoch: Callable[[EpochMetrics], None] | None,
             should_stop: StopFn | None, resume_from: str | Path | None,
             on_phase: Callable[..., None] | None,
             meter: UsageMeter, latency_cache_dir: str | Path | None = None) -> JobResult:
    out_dir = Path(out_dir)
    should_stop = should_stop or never
    report = on_epoch or (lambda m: None)
    announce = on_phase or (lambda phase, **where: None)
    state = load_checkpoint(resume_from) if resume_from else None
    at = _progress_scale(config, data)
    base = {"config": to_dict(config)}

    cons = config.search.constraints
    if state is None or state["phase"] == "search":
        done = state["searcher"]["epoch"] if state is not None else 0
        announce("preparing", epoch=done, epochs=config.search.epochs, progress=at(done))
        meter.begin("search")
        searcher = Searcher(config.search, data, runtime=runtime, seed=config.seed,
                            target=config.train.model, latency_cache_dir=latency_cache_dir)
        meter.count(searcher.model)
        if state is not None:
            searcher.load_state_dict(state["searcher"])
        limit = config.search.time_limit_s
        if limit is not None:
            searcher.deadline = time.monotonic() + max(limit - searcher.elapsed, 0.0)
        announce("search", epoch=searcher.epoch, epochs=config.search.epochs,
                 progress=at(searcher.epoch))
        searcher.on_progress = lambda f: announce(
            "search", epoch=searcher.epoch, epochs=config.search.epochs,
            progress=at(searcher.epoch + f))
        while searcher.epoch < config.search.epochs and not searcher.out_of_time():
            metrics = searcher.run_epoch(should_stop)
            metrics.progress = at(searcher.epoch)
            searcher.history[-1] = metrics.to_dict()
            path = _checkpoint(out_dir, "search", searcher.epoch,
                               base | {"phase": "search", "searcher": searcher.state_dict()})
            metrics.checkpoint = str(path)
            metrics.usage = meter.snapshot()
            report(metrics)
        top = searcher.derive(should_stop)
        search = {
            "best": top[0].to_dict() if top else None,
            "top_k": [c.to_dict() for c in top],
            "history": searcher.history,
            "stopped_early": searcher.epoch < config.search.epochs,
            "pareto": searcher.pareto(),
            "constraints": limits_dict(cons) | {
                "satisfied": bool(top),
                "message": None if top else searcher.infeasible_message(),
            } if cons.active else None,
            "report": searcher.report,
            "random_best": searcher.random_best.to_dict() if searcher.random_best else None,
            "pool": pool([c.to_dict() for c in searcher.ranked],
                         [c.to_dict() for c in searcher.control_ranked],
                         config.select.candidates) if config.select.active else [],
        }
        del searcher
        meter.end()
    else:
        search = state["search"]

    if (config.select.active and search["best"] is not None and len(search["pool"]) > 1
            and search.get("selection") is None):
        search = _select(config, data, search, out_dir=out_dir, runtime=runtime,
                         state=state if state is not None and state["phase"] == "select"
                         else None, base=base, at=at, report=report, announce=announce,
                         should_stop=should_stop, meter=meter)
    # past the stage (run or skipped: a pool of one), its share of the work is done
    select_done = select_epochs(config)

    def train(phase: str, candidate: dict[str, Any], trained_before: int,
              extra: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
        """Train `candidate` from scratch with the final-training config, checkpointing each
        epoch as `phase`; returns its report, its history and the saved model's path."""
        meter.begin(phase)
        arch = arch_from_json(candidate["arch"])
        train_cfg = replace(config.train, model=network_config_for(arch, config.train.model))
        trainer = Trainer(arch, train_cfg, data, runtime=runtime, seed=config.seed)
        counting = meter.count(trainer.model)
        if state is not None and state["phase"] == phase:
            trainer.load_state_dict(state["trainer"])
        announce(phase, epoch=trainer.epoch, epochs=config.train.epochs,
                 progress=at(config.search.epochs, trained_before + trainer.epoch,
                             select_done))
        while trainer.epoch < config.train.epochs:
            metrics = trainer.run_epoch(should_stop)
            metrics.phase = phase
            metrics.progress = at(config.search.epochs, trained_before + trainer.epoch,
                                  select_done)
            trainer.history[-1] = metrics.to_dict()
            path = _checkpoint(out_dir, phase, trainer.epoch, base | extra | {
                "phase": phase, "search": search, "trainer": trainer.state_dict()})
            metrics.checkpoint = str(path)
            metrics.usage = meter.snapshot()
            report(metrics)
        final = trainer.report(constraints=cons if cons.active else None)
        counting.remove()
        model_path = str(save_model(
            out_dir / ("model.pt" if phase == "final" else f"{phase}-model.pt"), trainer.model,
            arch=arch, config=train_cfg.model, input_shape=trainer.input_shape,
            classes=data.train.classes, mean=tuple(data.mean), std=tuple(data.std),
        ))
        meter.end()
        return final, trainer.history, model_path

    final = model_path = None
    final_history: list[dict[str, Any]] = []
    if state is not None and state["phase"] == "baseline":
        final, final_history, model_path = state["final"]
    elif config.train.epochs > 0 and search["best"] is not None:
        final, final_history, model_path = train("final", search["best"], 0, {})

    baseline = None
    random_best = search.get("random_best")
    if config.baseline == "random" and final is not None and random_best is not None:
        result, history, path = train(
            "baseline", random_best, config.train.epochs,
            {"final": [final, final_history, model_path]})
        final_history = final_history + history
        baseline = random_best | {"final": result, "model_path": path}

    result = JobResult(
        best=search["best"], top_k=search["top_k"], history=search["history"] + final_history,
        final=final, model_path=model_path, search_stopped_early=search["stopped_early"],
        config=to_dict(config), pareto=search.get("pareto"),
        constraints=search.get("constraints"), search_report=search.get("report"),
        baseline=baseline, usage=meter.snapshot(),
    )
    (out_dir / "result.json").write_text(json.dumps(result.to_dict(), indent=2))
    return result


def _select(config: RunConfig, data: Splits, search: dict[str, Any], *, out_dir: Path,
            runtime: Runtime, state: dict[str, Any] | None, base: dict[str, Any],
            at: Callable[..., float], report: Callable[[EpochMetrics], None],
            announce: Callable[..., None], should_stop: StopFn,
            meter: UsageMeter) -> dict[str, Any]:
    """The selection stage (`enas_core.selection`) over the search's pool, checkpointed after
    each candidate it trains; the search's results with its pick as the best, its report in
    the search report (`"selection"`) and its steps in the history."""
    meter.begin("select")
    selection = Selection(search["pool"], config, data, runtime=runtime, seed=config.seed)
    if state is not None:
        selection.load_state_dict(state["selection"])
    announce("select", epoch=selection.step, epochs=selection.steps,
             progress=at(config.search.epochs, 0, selection.epochs_trained))
    while not selection.done:
        metrics = selection.run_step(should_stop)
        metrics.progress = at(config.search.epochs, 0, selection.epochs_trained)
        selection.history[-1] = metrics.to_dict()
        path = _checkpoint(out_dir, "select", selection.step, base | {
            "phase": "select", "search": search, "selection": selection.state_dict()})
        metrics.checkpoint = str(path)
        metrics.usage = meter.snapshot()
        report(metrics)
    result = selection.report()
    picked = {k: v for k, v in selection.candidates[result["picked"]].items() if k != "source"}
    meter.end()
    return search | {
        "best": picked,
        "selection": result,
        "report": (search["report"] or {}) | {"selection": result},
        "history": search["history"] + selection.history,
    }
