"""Train / validation / test splits, stratified and deterministic in the seed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .dataset import DatasetError, ImageDataset

# MNIST's customary split (and the seed study's): 5,000 of the 60,000 train for validation.
_MNIST_TRAIN, _MNIST_VAL = 60_000, 5_000
_DEFAULT_FRACTION = 0.1


@dataclass(frozen=True, eq=False)
class Splits:
    """Three disjoint splits, with the per-channel pixel mean and std of `train` only (in the
    [0, 1] scale), so validation and test data never leak into the normalisation."""

    train: ImageDataset
    val: ImageDataset
    test: ImageDataset
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not self.mean or not self.std:
            mean, std = channel_stats(self.train)
            object.__setattr__(self, "mean", mean)
            object.__setattr__(self, "std", std)

    def summary(self) -> dict[str, Any]:
        """JSON-safe: the three dataset summaries and the normalisation statistics."""
        return {
            "train": self.train.summary(),
            "val": self.val.summary(),
            "test": self.test.summary(),
            "mean": list(self.mean),
            "std": list(self.std),
        }


def make_splits(
    train: ImageDataset,
    test: ImageDataset | None = None,
    *,
    seed: int = 0,
    val_size: int | float | None = None,
    test_size: int | float | None = None,
) -> Splits:
    """Carve validation (and, without `test`, a test split) out of `train`.

    Sizes are counts (int) or fractions (float in (0, 1)). Defaults: test 10% of `train` when
    no test set is given; validation 10% of what remains, or 5,000 for the 60,000-sample
    "mnist" train set (55,000 / 5,000 / 10,000). With a test set given, `test_size` takes a
    stratified subset of it. Every split keeps the class proportions, and every class keeps at
    least one training sample.
    """
    rng = np.random.default_rng(seed)
    base = train.name
    if test is None:
        n_test = _resolve(test_size, train.num_samples, _DEFAULT_FRACTION, "test_size")
        rest, held = _stratified_take(train, n_test, rng, "test")
        pool, test = train.subset(rest), train.subset(held)
    else:
        _check_compatible(train, test)
        pool = train
        if test_size is not None:
            n_test = _resolve(test_size, test.num_samples, None, "test_size", allow_all=True)
            _, held = _stratified_take(test, n_test, rng, "test", keep=0)
            test = test.subset(held)
    default_val = (
        _MNIST_VAL if base == "mnist" and train.num_samples == _MNIST_TRAIN else _DEFAULT_FRACTION
    )
    n_val = _resolve(val_size, pool.num_samples, default_val, "val_size")
    kept, held = _stratified_take(pool, n_val, rng, "validation")
    train_split = pool.subset(kept, name=_named(base, "train"))
    missing = [c for c, n in train_split.class_counts().items() if n == 0]
    if missing:
        raise DatasetError(
            f"class {missing[0]!r} has no samples in the train split (it has none in the "
            "training data); add samples of it or remove the class"
        )
    return Splits(
        train=train_split,
        val=pool.subset(held, name=_named(base, "val")),
        test=replace(test, name=_named(base, "test")),
    )


def channel_stats(data: ImageDataset) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (population) std of the pixels in [0, 1] scale."""
    c = data.channels
    total = np.zeros(c)
    squares = np.zeros(c)
    chunk = 4096  # bounds the float64 temporary for large sets
    for start in range(0, data.num_samples, chunk):
        block = data.x[start : start + chunk].reshape(-1, c).astype(np.float64)
        total += block.sum(axis=0)
        squares += np.square(block).sum(axis=0)
    count = data.num_samples * data.x.shape[1] * data.x.shape[2]
    scale = 255.0 if data.x.dtype == np.uint8 else 1.0
    mean = total / count
    var = np.maximum(squares / count - mean**2, 0.0)
    std = np.sqrt(var)
    std[std == 0] = scale  # a constant channel: leave it unscaled rather than divide by zero
    return tuple(float(m) for m in mean / scale), tuple(float(s) for s in std / scale)


def _resolve(
    size: int | float | None,
    n: int,
    default: int | float | None,
    what: str,
    allow_all: bool = False,
) -> int:
    size = default if size is None else size
    if isinstance(size, bool) or not isinstance(size, int | float | np.integer | np.floating):
        raise DatasetError(f"{what} must be an int (count) or a float fraction; got {size!r}")
    if isinstance(size, float | np.floating):
        if not 0.0 < size < 1.0:
            raise DatasetError(f"{what} as a fraction must be between 0 and 1; got {size}")
        count = round(size * n)
    else:
        count = int(size)
    if count < 1:
        raise DatasetError(
            f"{what}={size!r} of {n} samples gives an empty split; use a larger size"
        )
    if count > n or (count == n and not allow_all):
        raise DatasetError(
            f"{what}={size!r} takes {count} of {n} samples, leaving none for training; "
            "use a smaller size or more data"
        )
    return count


def _stratified_take(
    data: ImageDataset, n: int, rng: np.random.Generator, what: str, keep: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (rest, taken) with `n` taken in proportion to each class, never
    taking the last `keep` samples of a class (so every class stays in the rest)."""
    y = data.y
    counts = np.bincount(y, minlength=data.num_classes)
    caps = np.maximum(counts - keep, 0)
    if n > caps.sum():
        raise DatasetError(
            f"a {what} split of {n} samples is too large for {data.num_samples} samples "
            f"when each of the {int((counts > 0).sum())} classes keeps {keep} for training"
        )
    quota = n * counts / len(y)
    take = np.minimum(np.floor(quota).astype(np.int64), caps)
    # The remainder goes to the largest fractional quotas (ties at random) with room left.
    order = np.lexsort((rng.random(len(counts)), -(quota - take)))
    short = n - int(take.sum())
    while short:
        for c in order:
            if short and take[c] < caps[c]:
                take[c] += 1
                short -= 1
    # Group a random permutation by class; the first take[c] of each group are taken.
    perm = rng.permutation(len(y))
    grouped = perm[np.argsort(y[perm], kind="stable")]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.arange(len(y)) - starts[y[grouped]]
    chosen = rank < take[y[grouped]]
    return np.sort(grouped[~chosen]), np.sort(grouped[chosen])


def _check_compatible(train: ImageDataset, test: ImageDataset) -> None:
    if test.image_shape != train.image_shape:
        raise DatasetError(
            f"test images are {test.image_shape} but train images are {train.image_shape}; "
            "they must have the same shape"
        )
    if test.classes != train.classes:
        raise DatasetError(
            f"test classes {list(test.classes)} differ from train classes "
            f"{list(train.classes)}; both must use the same class list"
        )


def _named(base: str, split: str) -> str:
    return f"{base}/{split}" if base else split
