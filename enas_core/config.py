"""Frozen configuration dataclasses for the search and the final training.

Defaults follow the ENAS paper and its reference implementation (Pham et al. 2018) where they
apply; `presets.py` names whole settings.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from functools import cache
from typing import Any, Literal, get_args, get_type_hints

Space = str  # a registered search space's name (enas_core.spaces)
Sharing = Literal["edge", "node", "cell"]
Strategy = Literal["enas", "random"]
SharedSampling = Literal["controller", "uniform", "fair"]
Baseline = Literal["none", "random"]
ConstraintMode = Literal["hard", "soft"]
LIMITS: tuple[str, ...] = ("params", "flops", "latency_ms", "memory_mb")


class ConfigError(ValueError):
    """An invalid config value. `field` names the dataclass field the message is about, so a
    caller that set it (the CLI, the API) can name its own option without reading the message."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ControllerConfig:
    """The controller and its REINFORCE training. Defaults are the reference micro search's
    (melodyguan/enas `micro_controller.py`, `scripts/cifar10_micro_search.sh`)."""

    hidden_size: int = 100
    lr: float = 3.5e-3
    tanh_constant: float | None = 1.10  # logits = c * tanh(logits / temperature)
    op_tanh_reduce: float = 2.5  # the op logits use c / op_tanh_reduce (reference code)
    temperature: float | None = None  # the reference micro search sets none
    # Micro space: the op softmax's learnable bias starts here (sep convs first), and the conv
    # cell adds a fixed bias after the tanh; together a fresh controller picks a sep conv in the
    # conv cell with probability ~0.63 rather than 0.40, steering away from parameter-free cells.
    op_bias: tuple[float, ...] | None = (10.0, 10.0, 0.0, 0.0, 0.0)
    conv_op_bias: tuple[float, ...] | None = (0.25, 0.25, -0.25, -0.25, -0.25)
    entropy_weight: float = 1e-4  # entropy bonus added to the reward
    baseline_decay: float = 0.99  # moving-average baseline
    train_steps: int = 30  # controller updates per epoch
    num_aggregate: int = 10  # architectures (REINFORCE samples) per controller update
    skip_target: float = 0.4  # macro space: KL pull of skip probability towards this
    skip_weight: float = 0.8
    grad_clip: float | None = None

    def __post_init__(self) -> None:
        for name in ("op_bias", "conv_op_bias"):  # JSON gives lists; keep the config hashable
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(float(v) for v in value))


@dataclass(frozen=True)
class ModelConfig:
    """A network of either space: stem, `layers` cells in three stages, classifier."""

    space: Space = "micro"
    layers: int = 6  # micro: normal cells in all (a multiple of 3); macro: conv layers
    channels: int = 20
    nodes: int = 5  # micro: nodes per cell
    stem_multiplier: int = 3
    # Micro search networks only: which edges share one set of op weights. "edge" is the
    # reference's (every node and input its own), "node" shares them across a node's inputs
    # (as NNI's ENAS), "cell" across a whole cell (one set per cell and stride). Coarser
    # sharing trains each weight more often: at a few hundred steps it is what lets the shared
    # model learn at all (bench/README.md, "Weight sharing").
    sharing: Sharing = "edge"
    # An auxiliary classifier after the second reduction (micro; search and final networks).
    aux_head: bool = False
    # Final networks only:
    drop_path: float = 0.0  # final network only; probability of dropping a path

    def __post_init__(self) -> None:
        if self.sharing not in ("edge", "node", "cell"):
            raise ConfigError(f"sharing must be 'edge', 'node' or 'cell', got {self.sharing!r}",
                              field="sharing")
        # What a space needs besides (micro: layers a multiple of 3) its `check` says.
        for name in ("layers", "channels", "nodes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}",
                                  field=name)
        if not 0.0 <= self.drop_path < 1.0:
            raise ConfigError(f"drop_path must be in [0, 1), got {self.drop_path}",
                              field="drop_path")


@dataclass(frozen=True)
class AugmentConfig:
    crop_padding: int = 0  # random crop with this much zero padding; 0 turns it off
    flip: bool = False  # random horizontal flip (not for digits)
    cutout: int = 0  # cutout square side; 0 turns it off


@dataclass(frozen=True)
class ConstraintConfig:
    """Limits on what the final network (the one trained after the search) may cost; None is
    no limit. Params and FLOPs (multiply-adds of one image) are computed exactly from the
    architecture; latency is predicted from a per-op table measured on `latency_device` at
    `latency_batch_size`; memory (MiB: weights, input and peak activations at that batch
    size) is computed. See constraints.py for how limits shape the controller's reward.

    `mode` applies to every limit; `modes` overrides it per limit, e.g.
    `{"latency_ms": "soft"}`. Soft limits use MnasNet's reward `acc * (cost / limit) ** weight`
    with `weight` < 0; `soft_penalty` picks MnasNet's variant: "always" (its default: a cheaper
    network is rewarded too) or "over" (only a cost above the limit is penalised).
    """

    max_params: int | None = None
    max_flops: int | None = None
    max_latency_ms: float | None = None
    max_memory_mb: float | None = None
    mode: ConstraintMode = "hard"
    modes: dict[str, str] = field(default_factory=dict)
    weight: float = -0.07
    soft_penalty: Literal["always", "over"] = "always"
    latency_device: str = "cpu"  # "cpu", "cuda" or "cuda:N"
    latency_batch_size: int = 1
    latency_threads: int | None = None  # CPU intra-op threads; 1 also times thread CPU time
    derive_tries: int = 20  # controller batches derive samples to find a satisfying one

    def __post_init__(self) -> None:
        for name in LIMITS:
            value = getattr(self, f"max_{name}")
            if value is None:
                continue
            if (isinstance(value, bool) or not isinstance(value, int | float)
                    or not math.isfinite(value) or value <= 0):
                raise ConfigError(f"max_{name} must be a positive number, got {value!r}",
                                  field=f"max_{name}")
        for where, mode in [("mode", self.mode)] + [(f"modes[{k!r}]", v)
                                                     for k, v in self.modes.items()]:
            if mode not in ("hard", "soft"):
                raise ConfigError(f"constraint {where} must be 'hard' or 'soft', got {mode!r}",
                                  field=where.partition("[")[0])
        unknown = set(self.modes) - set(LIMITS)
        if unknown:
            raise ConfigError(f"constraint modes for unknown limit(s) {sorted(unknown)}; "
                              f"limits are {', '.join(LIMITS)}", field="modes")
        if (isinstance(self.weight, bool) or not isinstance(self.weight, int | float)
                or not math.isfinite(self.weight) or self.weight >= 0):
            raise ConfigError(f"constraint weight must be a negative number (MnasNet uses -0.07), "
                              f"got {self.weight!r}", field="weight")
        if self.soft_penalty not in ("always", "over"):
            raise ConfigError(f"soft_penalty must be 'always' or 'over', got {self.soft_penalty!r}",
                              field="soft_penalty")
        if not isinstance(self.latency_device, str) or not (
                self.latency_device == "cpu"
                or re.fullmatch(r"cuda(:\d+)?", self.latency_device)):
            raise ConfigError(f"unknown latency device {self.latency_device!r}; use 'cpu' or "
                              f"'cuda' (or 'cuda:N')", field="latency_device")
        for name in ("latency_batch_size", "derive_tries"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}",
                                  field=name)
        if self.latency_threads is not None and (
                isinstance(self.latency_threads, bool) or not isinstance(self.latency_threads, int)
                or self.latency_threads < 1):
            raise ConfigError(f"latency_threads must be a positive integer or None, "
                              f"got {self.latency_threads!r}", field="latency_threads")

    def limits(self) -> dict[str, float]:
        """The limits that are set: {"params": 1e5, "latency_ms": 5.0, ...}."""
        return {name: v for name in LIMITS if (v := getattr(self, f"max_{name}")) is not None}

    def mode_of(self, name: str) -> str:
        return self.modes.get(name, self.mode)

    def hard_limits(self) -> dict[str, float]:
        """The limits no returned architecture may break."""
        return {name: v for name, v in self.limits().items() if self.mode_of(name) == "hard"}

    @property
    def active(self) -> bool:
        return bool(self.limits())


@dataclass(frozen=True)
class SearchConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    epochs: int = 10
    batch_size: int = 128  # shared-weights training batch
    eval_batch_size: int = 128  # validation batch for rewards and the final ranking
    lr_max: float = 0.05
    lr_min: float = 5e-4
    # None: one cosine over all epochs; N: warm restarts, cycles of N, N*mult, ... epochs
    lr_restart_period: int | None = None
    lr_restart_mult: int = 2
    momentum: float = 0.9
    weight_decay: float = 1e-4
    grad_clip: float = 5.0
    aux_weight: float = 0.4  # the auxiliary head's loss weight (with model.aux_head)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    steps_per_epoch: int | None = None  # None: one pass over the train split
    num_candidates: int = 10  # architectures sampled after the search and ranked on validation
    eval_batches: int | None = None  # validation batches per candidate; None: the whole split
    top_k: int = 5
    time_limit_s: float | None = None  # ends the search early; the best so far is kept
    constraints: ConstraintConfig = field(default_factory=ConstraintConfig)
    # "enas": the controller samples and learns; "random": random search with weight sharing
    # (Li & Talwalkar 2019): the same shared-weight training and ranking, uniform sampling.
    strategy: Strategy = "enas"
    # Which architectures train the shared weights: "controller" (the reference: its samples)
    # or "uniform" (draws from the whole space, as random search trains them). The controller's
    # samples concentrate training on the ops it favours; the weights of the others lag, and
    # the ranking then favours the controller's own picks (bench/README.md, "Search quality").
    # "fair": FairNAS's strict fairness (Chu et al. 2021): groups of as many uniform draws as
    # the space has ops, in which every op choice takes each op once, trained on one batch with
    # their gradients averaged into one update, so every op's weights get the same updates.
    shared_sampling: SharedSampling = "controller"

    def __post_init__(self) -> None:
        if self.shared_sampling not in ("controller", "uniform", "fair"):
            raise ConfigError("shared_sampling must be 'controller', 'uniform' or 'fair', got "
                              f"{self.shared_sampling!r}", field="shared_sampling")
        for name in ("epochs", "batch_size", "eval_batch_size", "num_candidates", "top_k"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}",
                                  field=name)
        if self.strategy not in ("enas", "random"):
            raise ConfigError(f"strategy must be 'enas' or 'random', got {self.strategy!r}",
                              field="strategy")


@dataclass(frozen=True)
class TrainConfig:
    model: ModelConfig = field(default_factory=lambda: ModelConfig(channels=36, layers=6))
    epochs: int = 10
    batch_size: int = 128
    lr_max: float = 0.05
    lr_min: float = 1e-4
    lr_restart_period: int | None = None  # as SearchConfig's
    lr_restart_mult: int = 2
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    aux_weight: float = 0.4
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    steps_per_epoch: int | None = None
    # A small train split gets a smaller batch (down to MIN_FINAL_BATCH) so that an epoch takes
    # at least this many steps: 810 images at batch 128 are 6 steps an epoch, 30 in a 5-epoch
    # training, too few to learn (test 0.86 against 0.92 at batch 32, same images seen). 0: off.
    min_steps_per_epoch: int = 25
    latency_batch_size: int = 1

    def __post_init__(self) -> None:
        if self.min_steps_per_epoch < 0:
            raise ConfigError(f"min_steps_per_epoch must be >= 0, got {self.min_steps_per_epoch}",
                              field="min_steps_per_epoch")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 0 or (name == "batch_size" and self.batch_size < 1):
                raise ConfigError(f"{name} out of range: {getattr(self, name)}", field=name)


MIN_FINAL_BATCH = 16


def train_batch_size(config: TrainConfig, train_samples: int) -> int:
    """The batch final training uses on a train split of `train_samples` images: the
    configured one, made smaller (not below MIN_FINAL_BATCH) where it would leave an epoch fewer
    than `min_steps_per_epoch` steps."""
    if config.min_steps_per_epoch == 0:
        return config.batch_size
    fit = max(train_samples // config.min_steps_per_epoch, MIN_FINAL_BATCH)
    return min(config.batch_size, fit)


@dataclass(frozen=True)
class SelectConfig:
    """The selection stage between the search and the final training (`enas_core.selection`):
    `candidates` of the search's (half the controller's, half the uniform control group's,
    each group's best by the space's prior: `selection.pool`) trained alone, briefly, at the
    search network's size, halved successively until the last ones have trained `epochs`
    epochs; the best of those is trained in full. 0 turns it off: the shared weights' best is
    trained, as in the paper. None (the default): `stage_rule.stage_of` decides, by what the
    stage would cost against the final training (`enas_core.stage_rule`)."""

    candidates: int | None = None
    epochs: int = 2  # the epochs the last round's candidates reach (one cosine over them)

    def __post_init__(self) -> None:
        if self.candidates is not None and (self.candidates < 0 or self.candidates == 1):
            raise ConfigError("select candidates must be 0 (off) or at least 2, got "
                              f"{self.candidates}", field="candidates")
        if self.epochs < 1:
            raise ConfigError(f"select epochs must be positive, got {self.epochs}",
                              field="epochs")

    @property
    def active(self) -> bool:
        if self.candidates is None:  # a silent "off" here would hide the stage from a caller
            raise ValueError("automatic selection stage: ask stage_rule.stage_of, which knows the "
                             "final training's epochs")
        return self.candidates > 1


@dataclass(frozen=True)
class RunConfig:
    """A whole job: search, then train the best architecture from scratch."""

    search: SearchConfig = field(default_factory=SearchConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    select: SelectConfig = field(default_factory=SelectConfig)
    seed: int = 0
    # "random": also train the best of the random candidates ranked after the search, with the
    # same final-training budget, so the result shows what the search bought.
    baseline: Baseline = "none"

    def __post_init__(self) -> None:
        if self.baseline not in ("none", "random"):
            raise ConfigError(f"baseline must be 'none' or 'random', got {self.baseline!r}",
                              field="baseline")


def to_dict(config: Any) -> dict[str, Any]:
    """The config as JSON-ready data (tuples become lists, as a JSON round trip gives them)."""
    return _lists(asdict(config))


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(v) for v in value]
    return value


def from_dict(cls: type, data: dict[str, Any], *, _at: str = "") -> Any:
    """Rebuild a (nested) config dataclass from `to_dict` output; unknown keys are errors that
    name their dotted path (`search.model.foo`)."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} field(s): "
                          f"{', '.join(_at + name for name in unknown)}", field=unknown[0])
    nested = _nested(cls)
    kwargs = {}
    for name, value in data.items():
        sub = nested.get(name)
        kwargs[name] = (from_dict(sub, value, _at=f"{_at}{name}.")
                        if sub and isinstance(value, dict) else value)
    return cls(**kwargs)


@cache
def _nested(cls: type) -> dict[str, type]:
    """The fields of `cls` that hold a config dataclass (`X` or `X | None`), read from its type
    hints: a new nested config needs no entry anywhere else, and none can be left out."""
    hints = get_type_hints(cls)
    out = {}
    for f in fields(cls):
        members = [t for t in get_args(hints[f.name]) or (hints[f.name],) if t is not type(None)]
        if len(members) == 1 and isinstance(members[0], type) and is_dataclass(members[0]):
            out[f.name] = members[0]
    return out


__all__ = [
    "LIMITS",
    "AugmentConfig",
    "Baseline",
    "ConfigError",
    "ConstraintConfig",
    "ControllerConfig",
    "ModelConfig",
    "Precision",
    "RunConfig",
    "Runtime",
    "SearchConfig",
    "SelectConfig",
    "Sharing",
    "Space",
    "SharedSampling",
    "Strategy",
    "TrainConfig",
    "from_dict",
    "replace",
    "to_dict",
]


Precision = Literal["fp32", "tf32", "bf16"]


class Cancelled(Exception):
    """Raised when the caller's `should_stop()` asks to stop. (Here, torch-free, so that a
    caller can catch it without loading the engine: the `enas` CLI's service commands.)"""


@dataclass(frozen=True)
class Runtime:
    """Where and how to run; not part of what is searched, so not in the job's config."""

    device: str = "cpu"
    precision: Precision = "fp32"  # tf32: TF32 matmuls/convs on Ampere+; bf16: autocast
    # None: channels_last on the CPU, where oneDNN's depthwise and pointwise convolutions run
    # about twice as fast in it (bench/README.md), the default layout elsewhere.
    channels_last: bool | None = None
    # Recompute each micro search cell's activations in the backward pass, not keep them:
    # saved activations drop to under 0.1 GB at batch 128 in the benchmark's config (from
    # 1.1-1.7 GB before the ops recomputed their own inner activations on the CPU,
    # ops.recomputing; 0.6-0.7 GB since) for about 35% more time per step. The search
    # model's BNs keep no running statistics, so the recomputation is exact.
    recompute: bool = False

    @property
    def use_channels_last(self) -> bool:
        if self.channels_last is None:
            return self.device.split(":")[0] == "cpu"
        return self.channels_last

    def __post_init__(self) -> None:
        if self.precision not in ("fp32", "tf32", "bf16"):
            raise ValueError(f"precision must be fp32, tf32 or bf16, got {self.precision!r}")
