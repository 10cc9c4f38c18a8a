"""ENAS (Efficient Neural Architecture Search, Pham et al. 2018) as a library.

    from enas_core import prepare_data, preset_config, run_job
    result = run_job(preset_config("quick"), prepare_data("digits"), out_dir="runs/quick")

The names below load their module on first use, so `import enas_core.options` (the job
options, torch-free) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> the module that defines it
_EXPORTS = {
    "ArchitectureError": ".architecture",
    "MacroArchitecture": ".spaces.macro",
    "MicroArchitecture": ".spaces.micro",
    "arch_from_json": ".spaces",
    "AugmentConfig": ".config",
    "ConfigError": ".config",
    "ControllerConfig": ".config",
    "ModelConfig": ".config",
    "RunConfig": ".config",
    "Runtime": ".config",
    "SearchConfig": ".config",
    "TrainConfig": ".config",
    "DatasetError": ".data",
    "ImageDataset": ".data",
    "Splits": ".data",
    "load_builtin": ".data",
    "load_file": ".data",
    "prepare_data": ".data",
    "EpochMetrics": ".metrics",
    "Cancelled": ".config",
    "JobResult": ".pipeline",
    "run_job": ".pipeline",
    "PRESETS": ".presets",
    "preset_config": ".presets",
    "Searcher": ".search",
    "Trainer": ".train",
}

__all__ = [
    "PRESETS",
    "ArchitectureError",
    "AugmentConfig",
    "Cancelled",
    "ConfigError",
    "ControllerConfig",
    "DatasetError",
    "EpochMetrics",
    "ImageDataset",
    "JobResult",
    "MacroArchitecture",
    "MicroArchitecture",
    "ModelConfig",
    "RunConfig",
    "Runtime",
    "SearchConfig",
    "Searcher",
    "Splits",
    "TrainConfig",
    "Trainer",
    "arch_from_json",
    "load_builtin",
    "load_file",
    "prepare_data",
    "preset_config",
    "run_job",
]

if TYPE_CHECKING:
    from .architecture import ArchitectureError
    from .config import (
        AugmentConfig,
        Cancelled,
        ConfigError,
        ControllerConfig,
        ModelConfig,
        RunConfig,
        Runtime,
        SearchConfig,
        TrainConfig,
    )
    from .data import DatasetError, ImageDataset, Splits, load_builtin, load_file, prepare_data
    from .metrics import EpochMetrics
    from .pipeline import JobResult, run_job
    from .presets import PRESETS, preset_config
    from .search import Searcher
    from .spaces import arch_from_json
    from .spaces.macro import MacroArchitecture
    from .spaces.micro import MicroArchitecture
    from .train import Trainer


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
