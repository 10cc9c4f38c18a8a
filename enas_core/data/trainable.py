"""Can any search train on a dataset at all? The limits a dataset must keep, each named in the
message that refuses it: checked once, when a file becomes a dataset (the service's upload),
so that no job is queued on data it cannot use."""

from __future__ import annotations

from ..layout import too_large, too_small
from .dataset import ImageDataset

# The stem's convolution reads every channel; past a few, a file holds something other than
# the images (grayscale, RGB, a few spectral bands) the networks and their augmentations are
# made for, and a (N, C, H, W) array saved the wrong way round reads as thousands of channels.
MAX_CHANNELS = 16
# ImageNet's 1,000 classes. Every class needs samples in the training and validation splits
# (`splits.make_splits`), and its name is listed with each dataset.
MAX_CLASSES = 1000
MAX_CLASS_NAME_CHARS = 100
# One sample to train on and one to validate (or test) it: the stratified splits keep the
# last sample of a class for training, so a class of one is never validated, and a dataset of
# such classes has no validation or test split at all.
MIN_SAMPLES_PER_CLASS = 2

__all__ = [
    "MAX_CHANNELS",
    "MAX_CLASSES",
    "MAX_CLASS_NAME_CHARS",
    "MIN_SAMPLES_PER_CLASS",
    "untrainable",
]


def untrainable(train: ImageDataset) -> str | None:
    """Why no search can train on `train` (its images and classes), or None."""
    hw = train.image_shape[:2]
    problem = too_small(hw) or too_large(hw)
    if problem:
        return problem
    if train.channels > MAX_CHANNELS:
        return (
            f"the images have {train.channels} channels; at most {MAX_CHANNELS} (1 for "
            "grayscale, 3 for RGB). Save images as (N, H, W) or (N, H, W, C)"
        )
    if train.num_classes > MAX_CLASSES:
        return (
            f"the data has {train.num_classes} classes; at most {MAX_CLASSES}. Merge classes, "
            "or check that the labels are class ids rather than values"
        )
    long_names = [c for c in train.classes if len(c) > MAX_CLASS_NAME_CHARS]
    if long_names:
        return (
            f"the class name {long_names[0][:40]!r}... is {len(long_names[0])} characters "
            f"long; at most {MAX_CLASS_NAME_CHARS}"
        )
    counts = train.class_counts()
    few = {c: n for c, n in counts.items() if n < MIN_SAMPLES_PER_CLASS}
    if few:
        name, n = next(iter(few.items()))
        others = f" (and {len(few) - 1} more classes)" if len(few) > 1 else ""
        return (
            f"class {name!r} has {n} sample{'s' if n != 1 else ''}{others}; each class needs "
            f"at least {MIN_SAMPLES_PER_CLASS} (one to train on, one to validate it). Add "
            "samples or remove the class"
        )
    return None
