"""The job options: one table from which the CLI's flags, the API's `JobCreate` and the
mapping onto the engine's `RunConfig` are derived.

An option has one name, used as is by the API (`search_batch_size`) and with dashes by the CLI
(`--search-batch-size`); a type, bounds (every number has a maximum), a help text, and the
places in the `RunConfig` it sets. Its default is the value at its first place in the preset's
config (or the engine's, without a preset), so it is written down once, in `presets.py` or
`config.py`. `build_config` applies given values to a preset, and an error names the option
that caused it (`OptionError.option`), never by matching the message.

Adding an option is one `Option(...)` in `OPTIONS`. This module does not import torch: a
client can check a request with it before sending it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .config import AugmentConfig, ConfigError, RunConfig
from .presets import PRESETS, preset_config
from .spaces import get_space, space_names
from .stage_rule import stage_of

DAY_S = 24 * 3600


class OptionError(ValueError):
    """A value the option does not take, or one the engine refused; `option` is its name."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class Option:
    name: str
    paths: tuple[str, ...]  # dotted places in RunConfig it sets, e.g. "search.model.layers"
    type: type  # int, float, str or bool
    help: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False  # value > minimum instead of >=
    exclusive_maximum: bool = False
    # The values a str option takes (a callable is asked when needed: a registry).
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] | None = None
    group: str = "search"  # what it is about: a heading in help texts
    unset: str | None = None  # what None means where the engine's default is None
    aliases: tuple[str, ...] = ()  # older CLI spellings, still accepted but not listed
    # The value as it goes into the config, and back (for showing a default), when they differ.
    encode: Callable[[Any], Any] | None = None
    decode: Callable[[Any], Any] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def allowed(self) -> tuple[str, ...] | None:
        return self.choices() if callable(self.choices) else self.choices

    def check(self, value: Any) -> Any:
        """The value, checked against the type, choices and bounds; OptionError if it is not."""
        if self.type is bool:
            if not isinstance(value, bool):
                raise OptionError(self.name, f"must be true or false, got {value!r}")
            return value
        if self.type is str:
            if not isinstance(value, str):
                raise OptionError(self.name, f"must be a string, got {value!r}")
            allowed = self.allowed()
            if allowed is not None and value not in allowed:
                raise OptionError(self.name, f"must be one of {', '.join(allowed)}; got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            kind = "an integer" if self.type is int else "a number"
            raise OptionError(self.name, f"must be {kind}, got {value!r}")
        if self.type is int:
            if isinstance(value, float):
                if not value.is_integer():
                    raise OptionError(self.name, f"must be an integer, got {value!r}")
                value = int(value)
        else:
            if not math.isfinite(value):
                raise OptionError(self.name, f"must be a finite number, got {value!r}")
            value = float(value)
        low, high = self.minimum, self.maximum
        if low is not None and (value <= low if self.exclusive_minimum else value < low):
            word = "greater than" if self.exclusive_minimum else "at least"
            raise OptionError(self.name, f"must be {word} {_number(low)}, got {_number(value)}")
        if high is not None and (value >= high if self.exclusive_maximum else value > high):
            word = "less than" if self.exclusive_maximum else "at most"
            raise OptionError(self.name, f"must be {word} {_number(high)}, got {_number(value)}")
        return value

    def default(self, config: RunConfig) -> Any:
        """The option's value in `config` (the preset's or the engine's default)."""
        value: Any = config
        for part in self.paths[0].split("."):
            value = getattr(value, part)
        return self.decode(value) if self.decode else value

    def describe_default(self, config: RunConfig) -> str:
        value = self.default(config)
        if value is None:
            return self.unset or "none"
        if isinstance(value, bool):
            return str(value).lower()
        return f"{value:g}" if isinstance(value, float) else str(value)

    def bounds(self) -> str:
        """The bounds as a help text shows them: "1..4096", "(0, 10]"."""
        if self.minimum is None and self.maximum is None:
            return ""
        low = "-inf" if self.minimum is None else _number(self.minimum)
        high = "inf" if self.maximum is None else _number(self.maximum)
        if not (self.exclusive_minimum or self.exclusive_maximum) and self.type is int:
            return f"{low}..{high}"
        return (("(" if self.exclusive_minimum else "[") + f"{low}, {high}"
                + (")" if self.exclusive_maximum else "]"))


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _augment(value: str) -> dict[str, Any]:
    """none | crop | crop-flip -> the AugmentConfig fields it sets (cutout is its own option)."""
    return {"crop_padding": 0 if value == "none" else 4, "flip": value == "crop-flip"}


def _augment_name(augment: AugmentConfig) -> str:
    if not augment.crop_padding:
        return "none"
    return "crop-flip" if augment.flip else "crop"


GROUPS = {
    "space": "the search space",
    "search": "the search",
    "controller": "the controller (REINFORCE)",
    "select": "selection: the best candidates trained alone briefly, halved successively",
    "final": "final training of the best architecture",
    "constraints": "limits on the final network's costs; none is set by default",
    "run": "the run",
}

_OPTIONS: tuple[Option, ...] = (
    # -- the search space (search and final networks)
    Option("space", ("search.model.space", "train.model.space"), str,
           "search space: micro (a conv and a reduction cell) or macro (a whole network)",
           choices=space_names, group="space"),
    Option("nodes", ("search.model.nodes", "train.model.nodes"), int,
           "nodes per micro cell", minimum=1, maximum=10, group="space"),
    # -- the search
    Option("strategy", ("search.strategy",), str,
           "enas: the controller learns which architectures to sample; random: random "
           "search with weight sharing (uniform sampling, the same training and ranking)",
           choices=("enas", "random")),
    Option("shared_sampling", ("search.shared_sampling",), str,
           "which architectures train the shared weights: controller (the reference: the "
           "controller's samples) or uniform (draws from the whole space, so every op's "
           "weights train alike; the controller still learns and picks) or fair (FairNAS: "
           "groups in which every op choice takes each op once, one update a group)",
           choices=("controller", "uniform", "fair")),
    Option("sharing", ("search.model.sharing",), str,
           "micro search network: which edges share op weights: edge (the reference's: "
           "every node and input its own), node (across a node's inputs) or cell (one set "
           "per cell; trains fastest, for short searches)",
           choices=("edge", "node", "cell")),
    Option("search_epochs", ("search.epochs",), int,
           "search epochs; each trains the shared weights, then the controller",
           minimum=1, maximum=10_000),
    Option("layers", ("search.model.layers",), int,
           "search network depth (micro: normal cells, a multiple of 3; macro: layers)",
           minimum=1, maximum=60),
    Option("channels", ("search.model.channels",), int, "search network channels",
           minimum=1, maximum=512),
    Option("search_batch_size", ("search.batch_size",), int,
           "shared-weights training batch size", minimum=1, maximum=4096,
           aliases=("--batch-size",)),
    Option("eval_batch_size", ("search.eval_batch_size",), int,
           "validation batch size of the rewards and the final ranking",
           minimum=1, maximum=4096),
    Option("search_lr", ("search.lr_max",), float,
           "shared-weights maximum learning rate (cosine)", minimum=0, maximum=10,
           exclusive_minimum=True, aliases=("--lr",)),
    Option("search_lr_restart", ("search.lr_restart_period",), int,
           "cosine with warm restarts (SGDR): the first cycle's epochs, each next twice as "
           "long (the reference: 10)", minimum=1, maximum=10_000,
           unset="one cosine over all epochs"),
    Option("search_aux_head", ("search.model.aux_head",), bool,
           "search network: an auxiliary classifier after the second reduction (micro), its "
           "loss weighted 0.4, as the reference's search child"),
    Option("steps_per_epoch", ("search.steps_per_epoch",), int,
           "shared-weights steps per search epoch", minimum=1, maximum=100_000,
           unset="one pass over the train split"),
    Option("num_candidates", ("search.num_candidates",), int,
           "architectures sampled after the search and ranked on validation data",
           minimum=1, maximum=1000, aliases=("--candidates",)),
    Option("eval_batches", ("search.eval_batches",), int,
           "validation batches per ranked candidate", minimum=1, maximum=10_000,
           unset="the whole validation split"),
    Option("top_k", ("search.top_k",), int, "architectures kept from the ranking",
           minimum=1, maximum=100),
    Option("time_limit", ("search.time_limit_s",), float,
           "seconds of search before it ends with the best architecture so far",
           minimum=0, maximum=30 * DAY_S, exclusive_minimum=True, unset="no limit"),
    # -- the controller
    Option("controller_lr", ("search.controller.lr",), float, "controller Adam learning rate",
           minimum=0, maximum=10, exclusive_minimum=True, group="controller"),
    Option("controller_train_steps", ("search.controller.train_steps",), int,
           "controller updates per search epoch", minimum=1, maximum=10_000,
           group="controller", aliases=("--controller-steps",)),
    Option("controller_num_aggregate", ("search.controller.num_aggregate",), int,
           "architectures sampled per controller update", minimum=1, maximum=1000,
           group="controller", aliases=("--controller-aggregate",)),
    # -- the selection stage
    Option("select_candidates", ("select.candidates",), int,
           "candidates trained alone after the search (half the search's, half the uniform "
           "control group's, each group's best by the space's prior), the better half going "
           "on each round; the best is "
           "trained in full, and the job reports how far the shared weights' ranking agreed "
           "(Kendall tau). 0: off, the shared weights' best is trained", minimum=0,
           maximum=64, group="select",
           unset="automatic: 8 where the stage costs at most a quarter of the final "
                 "training (at the demo's sizes from 48 final epochs, at quick's from 24), else 0"),
    Option("select_epochs", ("select.epochs",), int,
           "selection: the epochs the last round's candidates reach (rounds double them from "
           "1)", minimum=1, maximum=100, group="select"),
    # -- final training
    Option("final_epochs", ("train.epochs",), int,
           "epochs training the best architecture from scratch (0: search only)",
           minimum=0, maximum=10_000, group="final"),
    Option("final_layers", ("train.model.layers",), int,
           "final network depth (micro: normal cells, a multiple of 3; macro: the "
           "architecture's)", minimum=1, maximum=60, group="final"),
    Option("final_channels", ("train.model.channels",), int, "final network channels",
           minimum=1, maximum=512, group="final"),
    Option("final_batch_size", ("train.batch_size",), int, "final-training batch size",
           minimum=1, maximum=4096, group="final"),
    Option("final_lr", ("train.lr_max",), float,
           "final-training maximum learning rate (cosine)", minimum=0, maximum=10,
           exclusive_minimum=True, group="final"),
    Option("final_lr_restart", ("train.lr_restart_period",), int,
           "final training: cosine with warm restarts, the first cycle's epochs",
           minimum=1, maximum=10_000, group="final", unset="one cosine over all epochs"),
    Option("final_steps_per_epoch", ("train.steps_per_epoch",), int,
           "final-training steps per epoch", minimum=1, maximum=100_000, group="final",
           unset="one pass over the train split"),
    Option("final_min_steps_per_epoch", ("train.min_steps_per_epoch",), int,
           "final training on a small train split: the batch is made smaller (not below 16) "
           "so that an epoch takes at least this many steps (0: off)", minimum=0,
           maximum=10_000, group="final"),
    Option("augment", ("search.augment", "train.augment"), str,
           "random crop (padding 4), optionally with horizontal flips (not for digits)",
           choices=("none", "crop", "crop-flip"), group="final", encode=_augment,
           decode=_augment_name),
    Option("cutout", ("train.augment.cutout",), int,
           "final training: cutout square side (0: off)", minimum=0, maximum=1024,
           group="final"),
    Option("drop_path", ("train.model.drop_path",), float,
           "final training: drop-path probability", minimum=0, maximum=1,
           exclusive_maximum=True, group="final"),
    Option("aux_head", ("train.model.aux_head",), bool,
           "final training: an auxiliary classifier after the second reduction (micro)",
           group="final"),
    Option("baseline", ("baseline",), str,
           "random: also train the best of the random candidates ranked after the search, "
           "with the same final-training budget, and report both test accuracies",
           choices=("none", "random"), group="final"),
    # -- limits on the final network
    Option("max_params", ("search.constraints.max_params",), int,
           "limit on the final network's parameters", minimum=0, maximum=10**12,
           exclusive_minimum=True, group="constraints", unset="no limit"),
    Option("max_flops", ("search.constraints.max_flops",), int,
           "limit on its multiply-adds per image", minimum=0, maximum=10**15,
           exclusive_minimum=True, group="constraints", unset="no limit"),
    Option("max_latency_ms", ("search.constraints.max_latency_ms",), float,
           "limit on its inference latency in ms on latency_device at latency_batch_size "
           "(predicted during the search from a per-op table measured once and cached, "
           "measured after final training)", minimum=0, maximum=3_600_000,
           exclusive_minimum=True, group="constraints", unset="no limit"),
    Option("max_memory_mb", ("search.constraints.max_memory_mb",), float,
           "limit on its peak inference memory in MiB (weights, input and activations at "
           "latency_batch_size)", minimum=0, maximum=10**7, exclusive_minimum=True,
           group="constraints", unset="no limit"),
    Option("constraint_mode", ("search.constraints.mode",), str,
           "hard: a network over a limit is never chosen; soft: the reward is "
           "accuracy * (cost / limit) ** constraint_weight (MnasNet)",
           choices=("hard", "soft"), group="constraints"),
    Option("constraint_weight", ("search.constraints.weight",), float,
           "the soft limits' exponent, negative (MnasNet's is -0.07)", minimum=-10,
           maximum=0, exclusive_maximum=True, group="constraints"),
    Option("latency_device", ("search.constraints.latency_device",), str,
           "where latency and memory limits apply: cpu, or cuda (the GPU the job runs on)",
           choices=("cpu", "cuda"), group="constraints"),
    Option("latency_batch_size", ("search.constraints.latency_batch_size",), int,
           "batch size latency and memory limits apply at", minimum=1, maximum=4096,
           group="constraints"),
    # -- the run
    Option("seed", ("seed",), int, "random seed (data splits, weights, sampling)",
           minimum=0, maximum=2**31 - 1, group="run"),
)

OPTIONS: dict[str, Option] = {o.name: o for o in _OPTIONS}
_BY_PATH: dict[str, str] = {}
for _option in _OPTIONS:
    for _path in _option.paths:
        _BY_PATH.setdefault(_path, _option.name)


def option_at(path: str) -> str | None:
    """The option that sets the config value at `path` ("train.model.layers" ->
    "final_layers"), or that sets the config holding it; None if none does."""
    while path:
        if path in _BY_PATH:
            return _BY_PATH[path]
        path = path.rpartition(".")[0]
    return None


def base_config(preset: str | None) -> RunConfig:
    """The preset's config, or the engine's defaults without one."""
    if preset is None:
        return RunConfig()
    if preset not in PRESETS:
        raise OptionError("preset", f"unknown preset {preset!r}; one of: "
                                    f"{', '.join(sorted(PRESETS))}")
    return preset_config(preset)


def build_config(values: Mapping[str, Any], *, preset: str | None = None) -> RunConfig:
    """The preset's config (or the engine's defaults) with the given option values (None
    leaves an option at its default). OptionError names the option of a bad value, or the
    option whose value the engine refused."""
    config = base_config(preset)
    changes: dict[str, Any] = {}  # nested by path part
    owners: dict[str, str] = {}  # path -> option name
    for name, value in values.items():
        option = OPTIONS.get(name)
        if option is None:
            raise OptionError(name, f"unknown option {name!r}")
        if value is None:
            continue
        value = option.encode(option.check(value)) if option.encode else option.check(value)
        for path in option.paths:
            items = value.items() if isinstance(value, dict) else [("", value)]
            for sub, item in items:
                full = f"{path}.{sub}" if sub else path
                _put(changes, full.split("."), item)
                owners[full] = name
    config = _tie_final_network(_scale_to_steps(_rebuild(config, changes, "", owners), owners),
                                owners)
    # An automatic stage decided now, so that the job's stored config says what it runs.
    return replace(config, select=stage_of(config))


def _scale_to_steps(config: RunConfig, owners: dict[str, str]) -> RunConfig:
    """A search epoch bounded by `steps_per_epoch` is bounded in all its work: the controller
    updates and the validation batches per ranked candidate that were not given explicitly
    are at most `steps_per_epoch` too (each controller update is `controller_num_aggregate`
    forward passes of one batch, a candidate's rank one per batch). Without it, a 5-step
    epoch still ran 30 x 10 controller passes and ranked every candidate on the whole
    validation split."""
    search = config.search
    steps = search.steps_per_epoch
    if steps is None or "search.steps_per_epoch" not in owners:
        return config
    controller, eval_batches = search.controller, search.eval_batches
    if "search.controller.train_steps" not in owners:
        controller = replace(controller, train_steps=min(controller.train_steps, steps))
    if "search.eval_batches" not in owners:
        eval_batches = steps if eval_batches is None else min(eval_batches, steps)
    return replace(config, search=replace(search, controller=controller,
                                          eval_batches=eval_batches))


def _put(tree: dict[str, Any], parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        tree = tree.setdefault(part, {})
    tree[parts[-1]] = value


def _rebuild(obj: Any, changes: dict[str, Any], prefix: str, owners: dict[str, str]) -> Any:
    """`obj` with `changes` applied, innermost configs first, each config replaced once with
    all its changes (so no check sees half of them)."""
    kwargs = {
        key: _rebuild(getattr(obj, key), change, f"{prefix}{key}.", owners)
        if isinstance(change, dict) else change
        for key, change in changes.items()
    }
    try:
        return replace(obj, **kwargs)
    except (ValueError, TypeError) as exc:
        raise _blame(exc, prefix, owners) from exc


def _blame(exc: Exception, prefix: str, owners: dict[str, str]) -> OptionError:
    """The option to name for an engine error raised while building the config at
    `prefix`: the one setting the field the error names, else the first given there."""
    if isinstance(exc, OptionError):
        return exc
    field = exc.field if isinstance(exc, ConfigError) else None
    name = option_at(prefix + field) if field else None
    if name is None:
        name = next((o for p, o in owners.items() if p.startswith(prefix)), "preset")
    return OptionError(name, str(exc))


def _tie_final_network(config: RunConfig, owners: dict[str, str]) -> RunConfig:
    """Both networks checked by their space; the final network in the searched space, with
    the size its architectures have (micro: the search's nodes; macro: its layers)."""
    search = config.search.model
    try:
        space = get_space(search.space)
        space.check(search)
    except (ValueError, TypeError) as exc:
        raise _blame(exc, "search.model.", owners) from exc
    try:
        final = space.fit_config(config.train.model, search)
        space.check(final)
    except (ValueError, TypeError) as exc:
        raise _blame(exc, "train.model.", owners) from exc
    return replace(config, train=replace(config.train, model=final))


__all__ = ["GROUPS", "OPTIONS", "Option", "OptionError", "base_config", "build_config",
           "option_at"]
