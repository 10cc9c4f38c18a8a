"""Datasets for the engine: loading (builtin names and user files), splits, device batches."""

from .builtin import BUILTIN_DATASETS, BUILTIN_SHAPES, load_builtin, load_digits
from .canonical import is_canonical, load_canonical, save_canonical
from .dataset import DatasetError, ImageDataset
from .formats import FORMATS, load_file, load_idx
from .prepare import prepare_data
from .splits import Splits, channel_stats, make_splits


def __getattr__(name: str) -> object:
    """DeviceLoader imports torch: loaded when asked for, so that a reader of datasets (the
    API's upload checks) does not load torch."""
    if name == "DeviceLoader":
        from .loader import DeviceLoader

        return DeviceLoader
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BUILTIN_DATASETS",
    "BUILTIN_SHAPES",
    "FORMATS",
    "DatasetError",
    "DeviceLoader",
    "ImageDataset",
    "Splits",
    "channel_stats",
    "is_canonical",
    "load_builtin",
    "load_canonical",
    "load_digits",
    "load_file",
    "load_idx",
    "make_splits",
    "prepare_data",
    "save_canonical",
]
