"""The selection stage: the search's best candidates trained alone, briefly, halved successively.

Shared weights rank architectures poorly against how they train alone (Yu et al. 2020, "How to
train your super-net"; bench/README.md, "Ranking signals" for this space), while a short
stand-alone training is the field's most dependable cheap signal. So, between the search and
the final training, the pool (half the controller's candidates, half the uniform control
group's, the best of each by the space's prior: enas_core/spaces/micro/prior.py) is trained
alone at the search network's size with the final training's optimiser, and halved after each
round (successive halving, Jamieson & Talwalkar 2016; Li et al. 2017): e.g. 8 candidates for 1
epoch, the best 4 on to 2 epochs, one cosine over the 2. The best of the last round is the one
trained in full.

A round ranks its candidates by the average of two ranks: validation accuracy, and training
accuracy averaged over the epochs trained (Ru et al. 2021's early-training signal: a round's
candidates have all trained as many epochs, so this ranks as their sum does). Against the
space tables (bench/README.md, "Equal compute, three seeds, and what a pick of 8 can reach")
the pair ranks better than validation alone on both datasets: validation data is small (a
1,000-image upload validates on ~90 images) while architectures differ by half a point, and
the training split is about ten times larger.

It also says how far the search's own ranking can be trusted: Kendall tau between the
candidates' shared-weight validation accuracy and the first round's stand-alone ranking,
which no shared-weight NAS tool reports.

One step trains one candidate to its round's epoch; `state_dict` after any step resumes there.
Only one network is built at a time: the others wait as state dicts.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from itertools import combinations
from typing import Any

from .config import RunConfig, Runtime, TrainConfig
from .data import Splits
from .metrics import EpochMetrics
from .ranks import ranks
from .runtime import StopFn, never
from .spaces import arch_from_json, prior_score
from .stage_rule import rounds, stage_network

# Kendall tau from which a ranking is called trustworthy / of some use; below, no better than
# chance at the sizes a job ranks (with 8 candidates tau's 95% band under no correlation is
# about +-0.57, so a single job's figure is a hint, and the words say so).
TRUST_LEVELS = ((0.6, "high"), (0.3, "some"))


def kendall_tau(a: list[float], b: list[float]) -> float | None:
    """Kendall's tau-b of two paired lists (ties counted as neither concordant nor discordant,
    and normalised as scipy's `kendalltau`); None when either list is constant."""
    concordant = discordant = ties_a = ties_b = 0
    for i, j in combinations(range(len(a)), 2):
        da, db = a[i] - a[j], b[i] - b[j]
        if da == 0 and db == 0:
            continue
        if da == 0:
            ties_a += 1
        elif db == 0:
            ties_b += 1
        elif (da > 0) == (db > 0):
            concordant += 1
        else:
            discordant += 1
    n = concordant + discordant
    denominator = math.sqrt((n + ties_a) * (n + ties_b))
    return (concordant - discordant) / denominator if denominator else None


def trust(tau: float | None) -> str:
    """Words for a tau: "high", "some" or "none"; "unknown" without one."""
    if tau is None:
        return "unknown"
    return next((word for level, word in TRUST_LEVELS if tau >= level), "none")


def selection_train_config(config: RunConfig, arch_json: dict[str, Any]) -> TrainConfig:
    """The final training's optimiser and data settings on the search network's size, for
    `select.epochs` epochs, without drop-path or an auxiliary head."""
    return replace(config.train, model=stage_network(config, arch_from_json(arch_json)),
                   epochs=config.select.epochs)


def pool(ranked: list[dict[str, Any]], control: list[dict[str, Any]],
         size: int) -> list[dict[str, Any]]:
    """The candidates that enter: the best of `ranked` (the strategy's) and of `control`
    (uniform draws), alternately, distinct, `size` at most; each marked with its `source` and
    its space's `prior`. Best by the prior where the space has one, those within the soft
    limits first (ties, and spaces without a prior: by shared-weight score, the order the
    lists come in): the shared weights rank at chance at the budgets measured, the prior at
    tau +0.3 on a dataset it was not fitted on, and a pool of the prior's best 8 of 20 lifts
    the stage's pick from the 78th-82nd to the 88th-90th percentile of the tables, simulated
    (bench/prior.py). With random search both lists are the same draws."""
    out: dict[str, dict[str, Any]] = {}
    lists = [_by_prior([c | {"source": "search"} for c in ranked]),
             _by_prior([c | {"source": "random"} for c in control])]
    while len(out) < size and any(lists):
        for group in lists:
            while group:
                cand = group.pop(0)
                key = str(cand["arch"])
                if key not in out:
                    out[key] = cand
                    break
            if len(out) == size:
                break
    return list(out.values())


def _by_prior(cands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Within the soft limits first (a penalised score sorts after), then by the prior; ties
    keep the order they came in (the shared-weight score's)."""
    marked = [c | {"prior": prior_score(arch_from_json(c["arch"]))} for c in cands]
    return sorted(marked, key=lambda c: (-round(soft_factor(c), 9), -(c["prior"] or 0.0)))


def soft_factor(cand: dict[str, Any]) -> float:
    """The soft limits' penalty on a candidate: its shared-weight score / val_acc (1: none)."""
    val, score = cand.get("val_acc") or 0.0, cand.get("score")
    return score / val if score is not None and val > 0 else 1.0


class Selection:
    def __init__(self, candidates: list[dict[str, Any]], config: RunConfig, data: Splits, *,
                 runtime: Runtime | None = None, seed: int = 0) -> None:
        self.candidates = candidates
        self.config = config
        self.data = data
        self.runtime = runtime or Runtime()
        self.seed = seed
        self.plan = rounds(len(candidates), config.select.epochs)
        self.steps = sum(n for n, _ in self.plan)
        self.step = 0
        # val_acc alone after each round a candidate took part in, and train_acc averaged over
        # the epochs it had trained by then
        self.alone: list[list[float]] = [[] for _ in candidates]
        self.fit: list[list[float]] = [[] for _ in candidates]
        self.states: dict[int, dict[str, Any]] = {}  # trainers of the candidates still in
        self.epochs_trained = 0
        self.seconds = 0.0
        self.history: list[dict[str, Any]] = []  # one EpochMetrics dict per step

    @property
    def done(self) -> bool:
        return self.step >= self.steps

    def _where(self) -> tuple[int, int]:
        """(round, place in it) of the next step."""
        left = self.step
        for r, (n, _) in enumerate(self.plan):
            if left < n:
                return r, left
            left -= n
        raise IndexError("the selection is done")

    def entrants(self, r: int) -> list[int]:
        """The candidates of round `r`: all at first, then the best of the round before by
        `_scores` (ties: the shared-weight score)."""
        if r == 0:
            return list(range(len(self.candidates)))
        return sorted(self._ranked(r - 1)[: self.plan[r][0]])

    def _ranked(self, r: int) -> list[int]:
        """The candidates of round `r`, best first once they have trained in it."""
        entrants = self.entrants(r)
        scores = self._scores(entrants, r)
        return sorted(entrants, key=lambda i: (
            -scores[i], -self.candidates[i].get("score", 0.0), i))

    def _scores(self, entrants: list[int], r: int) -> dict[int, float]:
        """Each entrant's mean rank (higher: better) of stand-alone val_acc and train_acc over
        its epochs in round `r`, both times the soft limits' factor."""
        factors = {i: soft_factor(self.candidates[i]) for i in entrants}
        val = ranks([self.alone[i][r] * factors[i] for i in entrants])
        fit = ranks([self.fit[i][r] * factors[i] for i in entrants])
        return {i: (v + f) / 2 for i, v, f in zip(entrants, val, fit, strict=True)}

    def run_step(self, should_stop: StopFn = never) -> EpochMetrics:
        """Train the next candidate of the running round to the round's epoch."""
        from .train import Trainer  # torch-heavy; this module's helpers are not

        r, place = self._where()
        i = self.entrants(r)[place]
        target = self.plan[r][1]
        cand = self.candidates[i]
        cfg = selection_train_config(self.config, cand["arch"])
        t0 = time.perf_counter()
        trainer = Trainer(arch_from_json(cand["arch"]), cfg, self.data, runtime=self.runtime,
                          seed=self.seed)
        if i in self.states:
            trainer.load_state_dict(self.states[i])
        while trainer.epoch < target:
            trainer.run_epoch(should_stop)
            self.epochs_trained += 1
        self.alone[i].append(trainer.history[-1]["val_acc"])
        self.fit[i].append(sum(row["train_acc"] for row in trainer.history)
                           / len(trainer.history))
        if r + 1 < len(self.plan):
            self.states[i] = trainer.state_dict()
        self.step += 1
        if place == self.plan[r][0] - 1:
            # the round ended: the candidates that do not go on need no weights
            keep = set(self.entrants(r + 1)) if r + 1 < len(self.plan) else set()
            self.states = {k: v for k, v in self.states.items() if k in keep}
        seconds = time.perf_counter() - t0
        self.seconds += seconds
        row = trainer.history[-1]
        metrics = EpochMetrics(
            phase="select", epoch=self.step, epochs=self.steps, progress=0.0,
            train_loss=row["train_loss"], train_acc=row["train_acc"], val_acc=row["val_acc"],
            val_loss=row.get("val_loss"), lr=row["lr"], seconds=seconds,
            best={"arch": cand["arch"], "val_acc": row["val_acc"], "round": r + 1,
                  "epochs": target},
        )
        self.history.append(metrics.to_dict())
        return metrics

    def picked(self) -> int:
        """The index of the winner: the best of the last round."""
        return self._ranked(len(self.plan) - 1)[0]

    def report(self) -> dict[str, Any]:
        """What the stage did and how far the shared weights' ranking agreed with it."""
        first = self._scores(list(range(len(self.candidates))), 0)
        shared = [c["val_acc"] for c in self.candidates]
        tau = kendall_tau(shared, [first[i] for i in range(len(shared))])
        win = self.picked()
        by_shared = max(range(len(shared)), key=lambda i: (self.candidates[i].get("score", 0.0),
                                                           -i))
        place = self._ranked(0).index(by_shared) + 1
        model = selection_train_config(self.config, self.candidates[win]["arch"]).model
        return {
            "rounds": [{"candidates": n, "epochs": e} for n, e in self.plan],
            "network": {"layers": model.layers, "channels": model.channels},
            "candidates": [
                {"arch": c["arch"], "source": c.get("source"), "prior": c.get("prior"),
                 "shared_val_acc": c["val_acc"],
                 "alone_val_acc": self.alone[k], "alone_train_acc": self.fit[k],
                 "picked": k == win}
                for k, c in enumerate(self.candidates)],
            "picked": win,
            "changed_pick": win != by_shared,
            "kendall_tau": tau,
            "trust": trust(tau),
            "shared_pick_place": place,
            "epochs_trained": self.epochs_trained,
            "seconds": self.seconds,
            "summary": summary_line(tau, len(first), place),
        }

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "alone": self.alone, "fit": self.fit, "states": self.states,
                "epochs_trained": self.epochs_trained, "seconds": self.seconds,
                "history": self.history}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = state["step"]
        self.alone = [list(a) for a in state["alone"]]
        # a checkpoint from before the stage kept training accuracy ranks by val_acc alone
        self.fit = [list(f) for f in state.get("fit", state["alone"])]
        self.states = dict(state["states"])
        self.epochs_trained = state["epochs_trained"]
        self.seconds = state["seconds"]
        self.history = list(state["history"])


def summary_line(tau: float | None, n: int, place: int) -> str:
    """One sentence for people on whether the search's ranking held up."""
    if tau is None:
        return f"the {n} candidates trained alone all scored the same: no ranking to compare"
    word = {"high": "can be trusted", "some": "agreed only in part",
            "none": "did not agree"}[trust(tau)]
    return (f"the shared weights' ranking {word} with {n} candidates trained alone "
            f"(Kendall tau {tau:+.2f}); its pick placed {place} of {n} alone")
