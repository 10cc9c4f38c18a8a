"""The two search spaces behind one interface, chosen by `ModelConfig.space`.

Each space provides a controller (`forward(n, generator) -> Samples`, `sample(n, generator)`,
`log_prob(archs)`), a shared-weights search model (`forward(x, arch)`), and a standalone network
built from one architecture.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from .architecture import Architecture, MacroArchitecture, MicroArchitecture, arch_from_json
from .config import ControllerConfig, ModelConfig


def build_controller(model: ModelConfig, controller: ControllerConfig) -> nn.Module:
    if model.space == "macro":
        from .macro import MacroController

        return MacroController(model.layers, controller)
    from .controller import MicroController

    return MicroController(model.nodes, controller)


def build_search_model(model: ModelConfig, in_channels: int, num_classes: int) -> nn.Module:
    if model.space == "macro":
        from .macro import MacroSearchNetwork

        return MacroSearchNetwork(model, in_channels, num_classes)
    from .search_model import MicroSearchNetwork

    return MicroSearchNetwork(model, in_channels, num_classes)


def build_network(arch: Architecture, model: ModelConfig, in_channels: int,
                  num_classes: int) -> nn.Module:
    check_fits(arch, model)
    if isinstance(arch, MacroArchitecture):
        from .macro import MacroNetwork

        return MacroNetwork(arch, model, in_channels, num_classes)
    from .model import MicroNetwork

    return MicroNetwork(arch, model, in_channels, num_classes)


def check_fits(arch: Architecture, model: ModelConfig) -> None:
    """A clear error when an architecture and a network config disagree."""
    from .architecture import ArchitectureError

    if arch.space != model.space:
        raise ArchitectureError(
            f"a {arch.space} architecture cannot build a {model.space} network"
        )
    if isinstance(arch, MacroArchitecture) and arch.layers != model.layers:
        raise ArchitectureError(
            f"the macro architecture has {arch.layers} layers; the network config asks for "
            f"{model.layers}"
        )


def arch_summary(arch: Architecture) -> dict[str, Any]:
    """The compact form kept in per-epoch history (text only, no op names)."""
    if isinstance(arch, MicroArchitecture):
        return {"conv": arch.conv.to_text(), "reduce": arch.reduce.to_text()}
    return {"arc": arch.to_text()}


def arch_from_summary(data: dict[str, Any]) -> Architecture:
    if "arc" in data:
        return arch_from_json({"space": "macro", "arc": data["arc"]})
    return arch_from_json({"space": "micro", "conv": data["conv"], "reduce": data["reduce"]})


def network_config_for(arch: Architecture, model: ModelConfig) -> ModelConfig:
    """The network config with the space and size the architecture dictates."""
    from dataclasses import replace

    if isinstance(arch, MacroArchitecture):
        return replace(model, space="macro", layers=arch.layers)
    return replace(model, space="micro", nodes=arch.nodes)
