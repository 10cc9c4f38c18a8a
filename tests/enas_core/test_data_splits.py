"""Splits: sizes, disjointness, determinism, stratification and train-only statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from enas_core.data import DatasetError, ImageDataset, Splits, make_splits, prepare_data


def indexed(n: int, num_classes: int = 10, name: str = "ids") -> ImageDataset:
    """Samples whose two pixels encode their index, so splits can be traced back."""
    ids = np.arange(n)
    x = np.stack([ids // 256, ids % 256], axis=1).astype(np.uint8).reshape(n, 1, 2, 1)
    classes = tuple(str(i) for i in range(num_classes))
    return ImageDataset(x, (ids % num_classes).astype(np.int64), classes, name)


def ids_of(data: ImageDataset) -> np.ndarray:
    return data.x[:, 0, 0, 0].astype(np.int64) * 256 + data.x[:, 0, 1, 0]


def test_mnist_default_is_55k_5k_10k() -> None:
    classes = tuple(str(i) for i in range(10))
    y = np.arange(60_000, dtype=np.int64) % 10
    train = ImageDataset(np.zeros((60_000, 1, 1, 1), np.uint8), y, classes, "mnist")
    test = ImageDataset(np.zeros((10_000, 1, 1, 1), np.uint8), y[:10_000], classes, "mnist")
    splits = make_splits(train, test)
    sizes = (splits.train.num_samples, splits.val.num_samples, splits.test.num_samples)
    assert sizes == (55_000, 5_000, 10_000)
    assert set(splits.val.class_counts().values()) == {500}


def test_default_fractions_without_test_set() -> None:
    splits = make_splits(indexed(1000))
    sizes = (splits.train.num_samples, splits.val.num_samples, splits.test.num_samples)
    assert sizes == (810, 90, 100)  # test 10% of all, then val 10% of the rest
    assert splits.train.name == "ids/train" and splits.test.name == "ids/test"


def test_splits_are_disjoint_and_cover_everything() -> None:
    splits = make_splits(indexed(997), seed=3, val_size=0.2, test_size=101)
    parts = [ids_of(s) for s in (splits.train, splits.val, splits.test)]
    assert [len(p) for p in parts] == [717, 179, 101]
    everything = np.concatenate(parts)
    assert len(np.unique(everything)) == 997
    # Labels travel with their images.
    for split in (splits.train, splits.val, splits.test):
        np.testing.assert_array_equal(split.y, ids_of(split) % 10)


def test_deterministic_in_seed() -> None:
    data = indexed(500)
    a, b = make_splits(data, seed=7), make_splits(data, seed=7)
    c = make_splits(data, seed=8)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(ids_of(getattr(a, name)), ids_of(getattr(b, name)))
    assert not np.array_equal(ids_of(a.val), ids_of(c.val))


def test_stratified_class_proportions() -> None:
    y = np.repeat(np.arange(3), [600, 300, 100]).astype(np.int64)
    data = ImageDataset(np.zeros((1000, 1, 1, 1), np.uint8), y, ("a", "b", "c"))
    splits = make_splits(data, val_size=100, test_size=200)
    assert splits.test.class_counts() == {"a": 120, "b": 60, "c": 20}
    assert splits.val.class_counts() == {"a": 60, "b": 30, "c": 10}


def test_rare_class_keeps_a_training_sample() -> None:
    y = np.array([0] * 50 + [1] * 50 + [2], dtype=np.int64)
    data = ImageDataset(np.zeros((101, 1, 1, 1), np.uint8), y, ("a", "b", "c"))
    for seed in range(5):
        splits = make_splits(data, seed=seed, val_size=0.3, test_size=0.3)
        assert splits.train.class_counts()["c"] == 1


def test_given_test_set_is_subsampled_by_test_size() -> None:
    splits = make_splits(indexed(300), indexed(200), test_size=0.25)
    assert splits.test.num_samples == 50
    assert splits.train.num_samples + splits.val.num_samples == 300


def test_mean_std_from_train_only() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 128, size=(400, 4, 4, 3), dtype=np.uint8)
    y = np.arange(400, dtype=np.int64) % 4
    train = ImageDataset(x, y, tuple("abcd"))
    test = ImageDataset(np.full((50, 4, 4, 3), 255, np.uint8), y[:50], tuple("abcd"))
    splits = make_splits(train, test)
    pixels = splits.train.x.reshape(-1, 3) / 255.0
    np.testing.assert_allclose(splits.mean, pixels.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(splits.std, pixels.std(axis=0), rtol=1e-9)
    assert len(splits.mean) == 3 and all(isinstance(m, float) for m in splits.mean)
    # Rebuilding Splits recomputes the same statistics from train.
    again = Splits(splits.train, splits.val, splits.test)
    assert again.mean == splits.mean and again.std == splits.std


def test_float_data_statistics_in_unit_scale() -> None:
    data = indexed(200)
    as_float = ImageDataset(data.x.astype(np.float32) / 255.0, data.y, data.classes)
    a, b = make_splits(data), make_splits(as_float)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-6)
    np.testing.assert_allclose(a.std, b.std, rtol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"val_size": 0}, "val_size=0 of 900 samples gives an empty split"),
        ({"val_size": 0.0001}, "gives an empty split"),
        ({"val_size": 900}, "leaving none for training"),
        ({"test_size": 1.5}, "test_size as a fraction must be between 0 and 1"),
        ({"val_size": "10"}, "val_size must be an int (count) or a float fraction"),
        ({"val_size": True}, "val_size must be an int"),
    ],
)
def test_bad_sizes(kwargs: dict, message: str) -> None:
    with pytest.raises(DatasetError) as err:
        make_splits(indexed(1000), **kwargs)
    assert message in str(err.value)


def test_class_missing_from_train() -> None:
    y = np.arange(100, dtype=np.int64) % 2
    data = ImageDataset(np.zeros((100, 1, 1, 1), np.uint8), y, ("a", "b", "never"))
    with pytest.raises(DatasetError, match="class 'never' has no samples in the train split"):
        make_splits(data)


def test_incompatible_test_set() -> None:
    test = ImageDataset(np.zeros((10, 2, 2, 1), np.uint8), np.arange(10) % 2, ("0", "1"))
    with pytest.raises(DatasetError, match="test images are"):
        make_splits(indexed(100, num_classes=2), test)


def test_prepare_data_digits() -> None:
    splits = prepare_data("digits", seed=1)
    assert (splits.train.num_samples, splits.val.num_samples, splits.test.num_samples) == (
        4050,
        450,
        500,
    )
    summary = splits.summary()
    assert summary["train"]["num_classes"] == 10 and 0.1 < summary["mean"][0] < 0.2


def test_prepare_data_file_with_test_arrays(tmp_path: Path) -> None:
    train, test = indexed(300), indexed(60)
    np.savez(tmp_path / "k.npz", x=train.x, y=train.y, x_test=test.x, y_test=test.y)
    splits = prepare_data(tmp_path / "k.npz", val_size=30)
    assert (splits.train.num_samples, splits.val.num_samples, splits.test.num_samples) == (
        270,
        30,
        60,
    )


def test_prepare_data_unknown_source() -> None:
    with pytest.raises(DatasetError, match="neither a builtin dataset"):
        prepare_data("no-such-dataset")
