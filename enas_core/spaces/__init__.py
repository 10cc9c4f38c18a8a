"""The search spaces, one registered object each (`get_space("micro")`, `space_names()`): each
space is a folder here that owns all of its code (`micro/`, `macro/`) and registers itself when
imported, so adding a space is one new folder here (see CONTRIBUTING.md). The functions below
are what the rest of the engine calls; each asks the space of its config or architecture.
"""

from __future__ import annotations

import importlib
import pkgutil
import random
from typing import TYPE_CHECKING, Any

from ..architecture import Architecture, ArchitectureError
from ..config import ConfigError
from .base import (
    SearchSpace,
    get_space,
    register_space,
    space_for_summary,
    space_names,
    space_of,
    unregister_space,
)

if TYPE_CHECKING:
    from torch import nn

    from ..config import ControllerConfig, ModelConfig

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")


def arch_from_json(data: dict[str, Any]) -> Architecture:
    """An architecture of any space from its JSON form (`arch.to_json()`)."""
    if not isinstance(data, dict):
        raise ArchitectureError("an architecture must be a JSON object")
    name = data.get("space", "micro")
    try:
        space = get_space(name)
    except ConfigError:
        raise ArchitectureError(f"unknown search space {name!r}; use "
                                f"{' or '.join(map(repr, space_names()))}") from None
    return space.from_json(data)


def draw(arch: Architecture, *, title: str | None = None) -> str:
    """An SVG picture of an architecture of any space (each space's `draw.py` lays it out)."""
    return space_of(arch).draw(arch, title=title)


def build_controller(model: ModelConfig, controller: ControllerConfig) -> nn.Module:
    return get_space(model.space).build_controller(model, controller)


def build_search_model(model: ModelConfig, in_channels: int, num_classes: int) -> nn.Module:
    space = get_space(model.space)
    space.check(model)
    return space.build_search_network(model, in_channels, num_classes)


def build_network(arch: Architecture, model: ModelConfig, in_channels: int,
                  num_classes: int) -> nn.Module:
    space = space_of(arch)
    space.check_fits(arch, model)
    space.check(model)
    return space.build_network(arch, model, in_channels, num_classes)


def check_fits(arch: Architecture, model: ModelConfig) -> None:
    """A clear error when an architecture and a network config disagree."""
    space_of(arch).check_fits(arch, model)


def arch_summary(arch: Architecture) -> dict[str, Any]:
    """The compact form kept in per-epoch history (text only, no op names)."""
    return space_of(arch).summary(arch)


def arch_from_summary(data: dict[str, Any]) -> Architecture:
    return space_for_summary(data).from_summary(data)


def network_config_for(arch: Architecture, model: ModelConfig) -> ModelConfig:
    """The network config with the space and size the architecture dictates."""
    return space_of(arch).fit(arch, model)


def prior_score(arch: Architecture) -> float | None:
    """Its space's prior (`SearchSpace.prior`): how well it tends to train, untrained."""
    return space_of(arch).prior(arch)


def random_architecture(model: ModelConfig, rng: random.Random) -> Architecture:
    """A uniformly random architecture of the config's space and size."""
    return get_space(model.space).random(model, rng)


__all__ = [
    "SearchSpace",
    "arch_from_json",
    "arch_from_summary",
    "arch_summary",
    "build_controller",
    "build_network",
    "build_search_model",
    "check_fits",
    "get_space",
    "network_config_for",
    "random_architecture",
    "register_space",
    "space_for_summary",
    "space_names",
    "space_of",
    "unregister_space",
]
