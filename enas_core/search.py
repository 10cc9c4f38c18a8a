"""The ENAS search: shared weights trained with SGD, the controller with REINFORCE.

One `Searcher` holds everything a search needs and can checkpoint it at epoch boundaries
(`state_dict` / `load_state_dict`); `pipeline.run_job` drives it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .architecture import Architecture
from .config import ModelConfig, Runtime, SearchConfig
from .constraints import (
    check_possible,
    feasible,
    infeasible_message,
    needs,
    pareto_front,
    score,
    shaped_reward,
)
from .costs import CostModel, Costs
from .data import DeviceLoader, Splits
from .memo import Memo
from .metrics import EpochMetrics
from .progress import search_epoch_images
from .reinforce import Reinforce
from .report import search_report
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
from .spaces import (
    arch_from_json,
    arch_from_summary,
    arch_summary,
    build_controller,
    build_search_model,
    get_space,
    network_config_for,
    random_architecture,
)
from .step import Tally, train_group_step


@dataclass
class Candidate:
    arch: Architecture
    val_acc: float
    costs: Costs | None = None  # of the final network
    feasible: bool = True  # no hard limit broken
    score: float | None = None  # val_acc times the soft limits' factor; ranks candidates

    def __post_init__(self) -> None:
        if self.score is None:
            self.score = self.val_acc

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"arch": self.arch.to_json(), "val_acc": self.val_acc}
        if self.costs is not None:
            out |= {"costs": self.costs.to_dict(), "feasible": self.feasible,
                    "score": self.score}
        return out

    def point(self) -> dict[str, Any]:
        """A flat record for the Pareto front."""
        costs = self.costs.to_dict() if self.costs is not None else {}
        return {"arch": self.arch.to_json(), "val_acc": self.val_acc, **costs,
                "feasible": self.feasible, "score": self.score}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


# Architectures for the shared-weight steps are sampled this many at a time: one batched
# controller pass is cheap, and memory no longer grows with `steps_per_epoch`.
SAMPLE_CHUNK = 256
PROGRESS_EVERY_S = 5.0  # how often `on_progress` hears of a running epoch

Draw = Callable[[int], list[Architecture]]


class Searcher:
    """`target` is the network config the limits of `config.constraints` apply to, the final
    network's (run_job passes the final training's); by default the search network's.
    `latency_cache_dir` overrides where latency tables are cached."""

    def __init__(self, config: SearchConfig, data: Splits, *, runtime: Runtime | None = None,
                 seed: int = 0, target: ModelConfig | None = None,
                 latency_cache_dir: str | Path | None = None) -> None:
        self.config = config
        self.runtime = runtime or Runtime()
        self.device = torch.device(self.runtime.device)
        train = data.train
        self.constraints = config.constraints
        self.input_shape = (train.channels, *train.image_shape[:2])
        self.cost_model = self._cost_model(target or config.model, train.num_classes,
                                           latency_cache_dir)
        check_possible(self.constraints, self.cost_model.model, self.input_shape,
                       train.num_classes)
        self.evaluated: dict[str, Candidate] = {}  # every architecture ranked on validation
        self.derive_tried = 0
        self.derive_closest: Costs | None = None
        self.report: dict[str, Any] | None = None  # controller vs random, after `derive`
        self.random_best: Candidate | None = None  # the best random candidate, after `derive`
        # After `derive`, best first: every candidate ranked, and the uniform control group's
        # distinct draws (the selection stage's pool)
        self.ranked: list[Candidate] = []
        self.control_ranked: list[Candidate] = []
        self.seed = seed
        torch.manual_seed(seed)
        model = build_search_model(config.model, train.channels, train.num_classes)
        model.recompute = self.runtime.recompute
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
                  "generator": self.data_gen, "channels_last": self.runtime.use_channels_last}
        self.train_loader = DeviceLoader(train, batch_size=config.batch_size,
                                         augment=config.augment, **loader)
        self.reward_loader = DeviceLoader(data.val, batch_size=config.eval_batch_size, **loader)
        self.eval_loader = DeviceLoader(data.val, batch_size=config.eval_batch_size,
                                        shuffle=False, drop_last=False, **loader)
        self.train_samples, self.val_samples = train.num_samples, data.val.num_samples
        self.shares = self.epoch_shares()
        self.epoch = 0
        self.best: Candidate | None = None
        self.history: list[dict[str, Any]] = []
        self.elapsed = 0.0  # seconds of search, summed over resumes
        self.deadline: float | None = None
        # Told the fraction of the running epoch done, every PROGRESS_EVERY_S at most.
        self.on_progress: Callable[[float], None] | None = None
        self._last_progress = 0.0

    def _cost_model(self, target: ModelConfig, num_classes: int,
                    cache_dir: str | Path | None) -> CostModel:
        from .latency import check_available, latency_table

        cons = self.constraints
        check_available(cons.latency_device)
        # The limits apply to the final network, of the size the searched architectures have.
        fitted = get_space(self.config.model.space).fit_config(target, self.config.model)
        threads = cons.latency_threads
        clock = "thread" if threads == 1 and cons.latency_device == "cpu" else "wall"

        def table(arch: Architecture):  # noqa: ANN202 - a LatencyTable
            return latency_table(network_config_for(arch, fitted), self.input_shape,
                                 num_classes, device=cons.latency_device,
                                 batch_size=cons.latency_batch_size, threads=threads,
                                 clock=clock, cache_dir=cache_dir)

        return CostModel(fitted, self.input_shape, num_classes,
                         batch_size=cons.latency_batch_size, device=cons.latency_device,
                         latency_factory=table)

    def price(self, arch: Architecture, full: bool = False) -> Costs:
        """The final network's costs: params and FLOPs always; latency and memory when a limit
        needs them or `full` (candidates ranked on validation data get everything)."""
        latency, memory = needs(self.constraints)
        return self.cost_model(arch, latency=latency or full, memory=memory or full)

    def candidate(self, arch: Architecture, val_acc: float) -> Candidate:
        costs = self.price(arch, full=True)
        return Candidate(arch, val_acc, costs, feasible(self.constraints, costs),
                         score(self.constraints, val_acc, costs))

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
            "evaluated": [{"arch": c.arch.to_json(), "val_acc": c.val_acc}
                          for c in self.evaluated.values()],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.controller.load_state_dict(state["controller"])
        self.w_opt.load_state_dict(state["w_opt"])
        self.reinforce.load_state_dict(state["reinforce"])
        self.epoch = state["epoch"]
        best = state["best"]
        self.best = self.candidate(arch_from_summary(best["summary"]), best["val_acc"]) \
            if best else None
        self.evaluated = {}
        for row in state.get("evaluated", []):
            arch = arch_from_json(row["arch"])
            self.evaluated[str(arch)] = self.candidate(arch, row["val_acc"])
        self.history = list(state["history"])
        self.elapsed = state["elapsed"]
        set_rng_state(state["rng"], self.ctrl_gen, self.data_gen)

    # -- one epoch -----------------------------------------------------------------------

    def _progress(self, fraction: float) -> None:
        if self.on_progress is not None and (
                time.monotonic() - self._last_progress >= PROGRESS_EVERY_S):
            self._last_progress = time.monotonic()
            self.on_progress(fraction)

    def epoch_shares(self) -> tuple[float, float]:
        """The parts of an epoch's progress its shared-weight steps and its controller steps
        stand for (the candidate's evaluation is the rest), in proportion to the images each
        puts through the network (`progress.search_epoch_images`). The demo preset on the
        bundled digits: 48%, 50% and 2%, against 39%, 58% and 3% of its first epoch's time on
        a loaded 2-core CPU; the fixed 70/30 split before made the rate of its shared steps
        promise the epoch in about half its time (an ETA off by 2x)."""
        parts = search_epoch_images(self.config, self.train_samples, self.val_samples)
        return parts[0] / sum(parts), parts[1] / sum(parts)

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    @property
    def uses_controller(self) -> bool:
        return self.config.strategy == "enas"

    def uniform(self, purpose: str) -> Draw:
        """Draws architectures uniformly from the space. The stream is seeded by (seed, epoch,
        purpose), so a resumed search draws what an uninterrupted one would have."""
        rng = random.Random(f"{self.seed}:{self.epoch}:{purpose}")
        model = self.config.model
        return lambda n: [random_architecture(model, rng) for _ in range(n)]

    def sampler(self, purpose: str) -> Draw:
        """The search strategy's sampler: the controller's, or uniform for random search."""
        if self.uses_controller:
            return lambda n: self.controller.sample(n, self.ctrl_gen)
        return self.uniform(purpose)

    def run_epoch(self, should_stop: StopFn = never) -> EpochMetrics:
        """Shared weights for one pass, then the controller; returns this epoch's metrics."""
        cfg = self.config
        t0 = time.perf_counter()
        lr = cosine_lr(self.epoch, cfg.epochs, cfg.lr_max, cfg.lr_min,
                       cfg.lr_restart_period, cfg.lr_restart_mult)
        train_loss, train_acc = self.train_shared(lr, should_stop)
        ctrl = self.train_controller(should_stop)
        sampled = ctrl.pop("sampled")
        # Confirm the epoch's highest-reward architecture on the validation split before it can
        # become the best so far: a single minibatch reward is too noisy to report. One that
        # breaks a hard limit never can.
        pool = [s for s in sampled if s.get("feasible", True)]
        if pool:
            top = max(pool, key=lambda s: s["reward"])
            cand = self.evaluate_candidate(arch_from_summary(top))
            if self.best is None or cand.score > self.best.score:
                self.best = cand
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
        """An epoch of the shared weights: `steps_per_epoch` passes of one architecture each,
        one update a pass, or with `shared_sampling: fair` one update a FairNAS group (its
        passes share a batch), so every mode costs the same per epoch."""
        cfg = self.config
        set_lr(self.w_opt, lr)
        steps = cfg.steps_per_epoch or len(self.train_loader)
        self.model.train()
        params = list(self.model.parameters())
        tally = Tally(self.device)
        batches = cycle(self.train_loader)
        groups = self._update_groups(steps)
        step = 0
        while step < steps:
            if should_stop():
                raise Cancelled
            if self.out_of_time():
                break
            self._progress(self.shares[0] * step / steps)
            group = next(groups)
            x, y = next(batches)
            for loss, logits in train_group_step(
                    self.model, [(x, arch) for arch in group], y, self.w_opt, params,
                    aux_weight=cfg.aux_weight, grad_clip=cfg.grad_clip, runtime=self.runtime):
                tally.add(loss, logits, y)
            step += len(group)
        return tally.means()

    def _update_groups(self, steps: int) -> Iterator[list[Architecture]]:
        """The architectures of each update, `steps` in all: FairNAS's groups
        (`SearchSpace.fair`, seeded as `uniform` is), or one each from the sampler."""
        if self.config.shared_sampling == "fair":
            model = self.config.model
            space = get_space(model.space)
            rng = random.Random(f"{self.seed}:{self.epoch}:train")
            done = 0
            while done < steps:
                group = space.fair(model, rng)[:steps - done]
                done += len(group)
                yield group
            return
        draw = (self.uniform("train") if self.config.shared_sampling == "uniform"
                else self.sampler("train"))
        for start in range(0, steps, SAMPLE_CHUNK):
            # The controller does not change during this phase: a chunk of steps'
            # architectures in one batched pass, so the loop never waits on it.
            for arch in draw(min(SAMPLE_CHUNK, steps - start)):
                yield [arch]

    def train_controller(self, should_stop: StopFn) -> dict[str, Any]:
        """The controller's REINFORCE updates on validation minibatch rewards. Random search
        spends the same evaluations on uniform samples (which can become the best so far) and
        updates nothing."""
        cfg = self.config.controller
        self.model.eval()
        sampled: list[dict[str, Any]] = []
        losses, entropies, rewards_all = [], [], []
        uniform = None if self.uses_controller else self.uniform("rewards")
        for k in range(cfg.train_steps):
            self._progress(self.shares[0] + self.shares[1] * k / cfg.train_steps)
            if should_stop():
                raise Cancelled
            if self.out_of_time():
                break
            if uniform is None:
                samples = self.controller(cfg.num_aggregate, self.ctrl_gen)
                archs = samples.archs
            else:
                archs = uniform(cfg.num_aggregate)
            accs = []
            with torch.no_grad(), autocast(self.runtime):
                for arch in archs:
                    x, y = self.reward_loader.sample()
                    accs.append((self.model(x, arch).argmax(1) == y).float().mean())
            acc = torch.stack(accs).cpu()  # the one device sync of a controller step
            costs = [self.price(a) for a in archs]
            records = [c.to_dict() for c in costs]
            reward = acc
            if self.constraints.active:
                reward = torch.tensor([shaped_reward(self.constraints, a, c)
                                       for a, c in zip(acc.tolist(), costs, strict=True)])
                for rec, c in zip(records, costs, strict=True):
                    rec["feasible"] = feasible(self.constraints, c)
            if uniform is None:
                losses.append(self.reinforce.step(samples, reward))
                entropies.append(float(samples.entropy.detach().mean()))
            rewards_all += reward.tolist()
            sampled += [arch_summary(a) | {"reward": r, "acc": ac}
                        | {k: v for k, v in rec.items() if v is not None}
                        for a, r, ac, rec in zip(archs, reward.tolist(), acc.tolist(),
                                                 records, strict=True)]
        return {"controller_loss": _mean(losses), "entropy": _mean(entropies),
                "baseline": self.reinforce.baseline if uniform is None else None,
                "mean_reward": _mean(rewards_all), "sampled": sampled}

    # -- evaluation and the final choice -------------------------------------------------

    def evaluate(self, arch: Architecture) -> float:
        """Validation accuracy of `arch` with the shared weights (first `eval_batches`)."""
        return self.evaluate_many([arch])[0]

    @torch.no_grad()
    def evaluate_many(self, archs: list[Architecture], should_stop: StopFn = never, *,
                      shared: bool = True) -> list[float]:
        """`evaluate` of each of `archs`, batch-major: each validation batch goes through
        every architecture while it is at hand, and what they compute alike (the stem, the
        first cells' architecture-independent ops, common prefixes) is computed once
        (memo.py). An architecture listed twice is evaluated once. `shared=False` runs each
        through the whole network (`forward`), as before: the same accuracies
        (tests/enas_core/test_memo.py), in 1.5-2x the CPU time (bench/ranking_speed.py)."""
        # In text order: those that agree on their first cells are neighbours, so the values
        # they share are dropped sooner (the quick preset's memo peak: 322 -> 270 MiB).
        distinct = sorted({str(a): a for a in archs}.values(), key=str)
        if not distinct:
            return []
        self.model.eval()
        correct = [torch.zeros((), device=self.device, dtype=torch.long) for _ in distinct]
        memo = Memo() if shared and hasattr(self.model, "forward_memo") else None
        if memo is not None:
            for arch in distinct:
                self.model.forward_memo(memo, memo.input(), arch)
        seen = 0
        limit = self.config.eval_batches
        for i, (x, y) in enumerate(self.eval_loader):
            if limit is not None and i >= limit:
                break
            with autocast(self.runtime):
                batch = memo.batch(x) if memo is not None else None
                for k, arch in enumerate(distinct):
                    if should_stop():
                        raise Cancelled
                    logits = (self.model(x, arch) if memo is None
                              else self.model.forward_memo(memo, batch, arch)[1])
                    correct[k] += (logits.argmax(1) == y).sum()
            seen += y.shape[0]
        counts = torch.stack(correct).tolist()  # one device sync
        acc = {str(a): c / max(seen, 1) for a, c in zip(distinct, counts, strict=True)}
        return [acc[str(a)] for a in archs]

    def evaluate_candidate(self, arch: Architecture) -> Candidate:
        """Validation accuracy (with the current shared weights) and costs of `arch`; the
        latest evaluation of each architecture is kept for the Pareto front."""
        return self._rank(arch, self.evaluate(arch))

    def derive(self, should_stop: StopFn = never) -> list[Candidate]:
        """Sample `num_candidates` architectures from the strategy (the trained controller, or
        uniformly for random search), rank them on validation data: the top-k, best first (by
        score: val_acc, times the soft limits' factor). The best so far is ranked with them.

        Then the same number drawn uniformly from the space are ranked on the same data with
        the same weights, and `self.report` compares the two groups (`report.search_report`);
        `self.random_best` is the best of them, for a random baseline.

        Under hard limits a candidate that breaks one is priced and dropped before it is
        evaluated, and more are drawn (up to `constraints.derive_tries` batches; the last
        epoch's satisfying samples join the controller's) until `num_candidates` satisfy them;
        the random group is drawn uniformly among those that satisfy them the same way. If
        none does, the list is empty: `infeasible_message()` says why, and the closest of the
        rejected are evaluated after all, so the Pareto front shows what the search could
        reach (marked infeasible)."""
        cons, n = self.constraints, self.config.num_candidates
        hard_limits = cons.hard_limits()
        rejected: dict[str, tuple[Architecture, Costs]] = {}
        drawn = self._draw_group(self.sampler("derive"), rejected, should_stop)
        extra = [self.best.arch] if self.best is not None else []
        if hard_limits and self.history and self.uses_controller:
            seen = sorted((s for s in self.history[-1]["sampled"] if s.get("feasible")),
                          key=lambda s: -s["reward"])
            extra += [arch_from_summary(s) for s in seen[:n]]
        to_rank = {str(a): a for a in drawn}
        for arch in extra:
            key = str(arch)
            if key in to_rank or key in rejected:
                continue
            if hard_limits:
                costs = self.price(arch)
                if not feasible(cons, costs):
                    rejected[key] = (arch, costs)
                    continue
            to_rank[key] = arch
        control_drawn = (self._draw_group(self.uniform("control"), {}, should_stop)
                         if self.uses_controller else drawn)
        # Every accuracy in one batch-major pass: what is drawn never depends on them.
        everyone = list(to_rank.values()) + control_drawn
        acc = dict(zip(map(str, everyone), self.evaluate_many(everyone, should_stop),
                       strict=True))
        ranked = {key: self._rank(arch, acc[key]) for key, arch in to_rank.items()}
        main = [ranked[str(a)] for a in drawn]
        # The control group's own candidates (a repeat is the same one), not kept for the
        # Pareto front.
        own = {str(a): a for a in control_drawn}
        own_cands = {key: self.candidate(arch, acc[key]) for key, arch in own.items()}
        control = ([own_cands[str(a)] for a in control_drawn] if self.uses_controller
                   else main)
        if not ranked and control:
            # Hard limits the controller's samples all broke, but uniform draws met: return
            # those rather than nothing (the report still tells the two groups apart).
            for cand in control:
                self.evaluated[str(cand.arch)] = cand
                ranked[str(cand.arch)] = cand
        self.derive_tried = len(ranked) + len(rejected)
        self.derive_closest = None
        if not ranked and rejected:
            closest = sorted(rejected.values(), key=lambda ac: sum(
                max(ac[1].get(k) / v, 1.0) for k, v in hard_limits.items()))
            self.derive_closest = closest[0][1]
            archs = [arch for arch, _ in closest[:n]]
            for arch, val_acc in zip(archs, self.evaluate_many(archs, should_stop),
                                     strict=True):
                self._rank(arch, val_acc)

        self.random_best = max(control, key=lambda c: c.score) if control else None
        distinct = {str(c.arch): c for c in control}
        self.control_ranked = sorted(distinct.values(), key=lambda c: -c.score)
        entropy = [h["entropy"] for h in self.history if h.get("entropy") is not None]
        self.report = search_report(
            self.config.strategy,
            [(c.arch, c.val_acc) for c in main] if self.uses_controller else None,
            [(c.arch, c.val_acc) for c in control],
            top_k=self.config.top_k, seed=self.seed, entropy=entropy,
        )
        order = sorted(ranked.values(), key=lambda c: -c.score)
        self.ranked = order
        return order[: self.config.top_k]

    def _rank(self, arch: Architecture, val_acc: float) -> Candidate:
        """The candidate of `arch` at `val_acc`, kept for the Pareto front."""
        cand = self.evaluated[str(arch)] = self.candidate(arch, val_acc)
        return cand

    def _draw_group(self, draw: Draw, rejected: dict[str, tuple[Architecture, Costs]],
                    should_stop: StopFn) -> list[Architecture]:
        """`num_candidates` draws that meet the hard limits, in draw order (a repeated
        architecture appears each time it is drawn). Those that break a hard limit go to
        `rejected`."""
        cons, n = self.constraints, self.config.num_candidates
        hard = bool(cons.hard_limits())
        picked: list[Architecture] = []
        met: set[str] = set()
        for _ in range(cons.derive_tries if hard else 1):
            for arch in draw(n):
                if should_stop():
                    raise Cancelled
                key = str(arch)
                if key in rejected:
                    continue
                if hard and key not in met:
                    costs = self.price(arch)
                    if not feasible(cons, costs):
                        rejected[key] = (arch, costs)
                        continue
                    met.add(key)
                picked.append(arch)
                if len(picked) == n:
                    return picked
        return picked

    def infeasible_message(self) -> str:
        return infeasible_message(self.constraints, self.derive_tried, self.derive_closest)

    def pareto(self) -> dict[str, Any]:
        """The Pareto front of every architecture ranked on validation data over (val_acc up,
        params down, predicted latency down)."""
        cons = self.constraints
        return {
            "objectives": {"val_acc": "max", "params": "min", "latency_ms": "min"},
            "latency_device": cons.latency_device,
            "latency_batch_size": cons.latency_batch_size,
            "evaluated": len(self.evaluated),
            "front": pareto_front(c.point() for c in self.evaluated.values()),
        }
