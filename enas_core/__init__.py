"""ENAS (Efficient Neural Architecture Search, Pham et al. 2018) as a library.

    from enas_core import prepare_data, preset_config, run_job
    result = run_job(preset_config("quick"), prepare_data("digits"), out_dir="runs/quick")
"""

from .architecture import (
    ArchitectureError,
    MacroArchitecture,
    MicroArchitecture,
    arch_from_json,
)
from .config import (
    AugmentConfig,
    ControllerConfig,
    ModelConfig,
    RunConfig,
    Runtime,
    SearchConfig,
    TrainConfig,
)
from .data import DatasetError, ImageDataset, Splits, load_builtin, load_file, prepare_data
from .metrics import EpochMetrics
from .pipeline import Cancelled, JobResult, run_job
from .presets import PRESETS, preset_config
from .search import Searcher
from .train import Trainer

__all__ = [
    "PRESETS",
    "ArchitectureError",
    "AugmentConfig",
    "Cancelled",
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
