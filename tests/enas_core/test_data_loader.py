"""DeviceLoader on the CPU (and on CUDA where there is one): batches, normalisation, epochs,
reproducibility and batched augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from enas_core.config import AugmentConfig
from enas_core.data import DeviceLoader, ImageDataset, load_digits, make_splits


@pytest.fixture(scope="module")
def digits() -> ImageDataset:
    return load_digits().subset(np.arange(1000))


def indexed(n: int) -> ImageDataset:
    """Pixel (0, 0) and (0, 1) encode the sample's index; labels are index % 10."""
    ids = np.arange(n)
    x = np.zeros((n, 4, 4, 1), np.uint8)
    x[:, 0, 0, 0], x[:, 0, 1, 0] = ids // 256, ids % 256
    return ImageDataset(x, (ids % 10).astype(np.int64), tuple("0123456789"))


def ids_of(xb: torch.Tensor) -> torch.Tensor:
    """Inverse of `indexed` for batches normalised with mean 0, std 1."""
    raw = (xb * 255).round().long()
    return raw[:, 0, 0, 0] * 256 + raw[:, 0, 0, 1]


def loader(data: ImageDataset, **kwargs) -> DeviceLoader:
    kwargs = {"batch_size": 64, "device": "cpu", "mean": 0.0, "std": 1.0, **kwargs}
    return DeviceLoader(data, **kwargs)


def test_shapes_dtypes_and_uint8_storage(digits: ImageDataset) -> None:
    dl = loader(digits, batch_size=100)
    assert dl.x.dtype == torch.uint8 and dl.x.shape == (1000, 1, 28, 28)
    batches = list(dl)
    assert len(batches) == len(dl) == 10
    x, y = batches[0]
    assert x.shape == (100, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (100,) and y.dtype == torch.int64
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0


def test_normalised_over_an_epoch(digits: ImageDataset) -> None:
    splits = make_splits(digits)
    dl = DeviceLoader(
        splits.train,
        batch_size=128,
        device="cpu",
        mean=splits.mean,
        std=splits.std,
        drop_last=False,
    )
    xs = torch.cat([x for x, _ in dl])
    assert abs(float(xs.mean())) < 1e-3
    assert abs(float(xs.std()) - 1.0) < 1e-3


def test_every_sample_once_per_epoch_and_reshuffled() -> None:
    data = indexed(1000)
    dl = loader(data, batch_size=64, drop_last=False, generator=torch.Generator().manual_seed(0))
    epochs = []
    for _ in range(2):
        ids, labels = zip(*((ids_of(x), y) for x, y in dl), strict=True)
        ids_t, labels_t = torch.cat(ids), torch.cat(labels)
        assert sorted(ids_t.tolist()) == list(range(1000))
        assert torch.equal(labels_t, ids_t % 10)  # labels stay with their images
        epochs.append(ids_t)
    assert not torch.equal(epochs[0], epochs[1])


def test_no_shuffle_keeps_order() -> None:
    dl = loader(indexed(100), batch_size=30, shuffle=False, drop_last=False)
    assert torch.equal(torch.cat([ids_of(x) for x, _ in dl]), torch.arange(100))


@pytest.mark.parametrize(
    ("n", "batch_size", "drop_last", "sizes"),
    [
        (100, 30, True, [30, 30, 30]),
        (100, 30, False, [30, 30, 30, 10]),
        (7, 32, True, [7]),  # smaller than a batch: one batch of all, never zero
        (7, 32, False, [7]),
        (64, 32, True, [32, 32]),
    ],
)
def test_drop_last(n: int, batch_size: int, drop_last: bool, sizes: list[int]) -> None:
    dl = loader(indexed(n), batch_size=batch_size, drop_last=drop_last)
    assert [len(y) for _, y in dl] == sizes and len(dl) == len(sizes)


def test_reproducible_with_seeded_generator(digits: ImageDataset) -> None:
    aug = AugmentConfig(crop_padding=4, flip=True, cutout=8)

    def run(seed: int) -> list[torch.Tensor]:
        dl = loader(digits, augment=aug, generator=torch.Generator().manual_seed(seed))
        out = [x for x, _ in dl][:3]
        return [*out, dl.sample()[0]]

    a, b, c = run(1), run(1), run(2)
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))
    assert not torch.equal(a[0], c[0])


def test_augmentation_changes_pixels_keeps_shapes(digits: ImageDataset) -> None:
    plain = loader(digits, shuffle=False, channels_last=True)
    aug = loader(
        digits,
        shuffle=False,
        augment=AugmentConfig(crop_padding=4, flip=True, cutout=8),
        generator=torch.Generator().manual_seed(0),
    )
    (x0, y0), (x1, y1) = next(iter(plain)), next(iter(aug))
    assert x0.shape == x1.shape and torch.equal(y0, y1)
    assert x0.is_contiguous(memory_format=torch.channels_last)
    changed = (x0 != x1).flatten(1).any(dim=1)
    assert bool(changed.float().mean() > 0.9)


def test_flip_actually_flips(digits: ImageDataset) -> None:
    plain = loader(digits, shuffle=False)
    flip = loader(
        digits,
        shuffle=False,
        augment=AugmentConfig(flip=True),
        generator=torch.Generator().manual_seed(0),
    )
    x0, x1 = next(iter(plain))[0], next(iter(flip))[0]
    same = (x1 == x0).flatten(1).all(dim=1)
    mirrored = (x1 == x0.flip(3)).flatten(1).all(dim=1)
    assert bool((same | mirrored).all())
    assert 10 < int((mirrored & ~same).sum()) < 54  # about half flipped


def _shifts(img: torch.Tensor, pad: int) -> list[torch.Tensor]:
    h, w = img.shape[-2:]
    padded = torch.nn.functional.pad(img, (pad, pad, pad, pad))
    return [
        padded[:, dy : dy + h, dx : dx + w]
        for dy in range(2 * pad + 1)
        for dx in range(2 * pad + 1)
    ]


@pytest.mark.parametrize("flip", [False, True])
def test_crop_is_a_shifted_window_of_the_padded_image(digits: ImageDataset, flip: bool) -> None:
    plain = loader(digits, shuffle=False, batch_size=16)
    crop = loader(
        digits,
        shuffle=False,
        batch_size=16,
        augment=AugmentConfig(crop_padding=3, flip=flip),
        generator=torch.Generator().manual_seed(0),
    )
    x0, x1 = next(iter(plain))[0], next(iter(crop))[0]
    offsets = set()
    for original, out in zip(x0, x1, strict=True):
        candidates = _shifts(original, 3)
        if flip:
            candidates += [c.flip(-1) for c in candidates]
        hits = [i for i, c in enumerate(candidates) if torch.equal(c, out)]
        assert hits, "output is not a crop of the padded image"
        offsets.add(hits[0])
    assert len(offsets) > 3  # offsets vary across the batch


def test_cutout_zeroes_a_square() -> None:
    ones = ImageDataset(np.full((64, 12, 12, 1), 255, np.uint8), np.arange(64) % 2, ("a", "b"))
    dl = loader(
        ones,
        shuffle=False,
        augment=AugmentConfig(cutout=4),
        generator=torch.Generator().manual_seed(0),
    )
    x, _ = next(iter(dl))
    full = 0
    for img in x[:, 0]:
        holes = (img == 0).nonzero()
        assert len(holes) > 0
        r0, c0 = holes.min(dim=0).values.tolist()
        r1, c1 = holes.max(dim=0).values.tolist()
        assert r1 - r0 < 4 and c1 - c0 < 4
        assert len(holes) == (r1 - r0 + 1) * (c1 - c0 + 1)  # a filled rectangle
        assert bool((img[img != 0] == 1.0).all())
        full += len(holes) == 16
    assert full > 10  # squares inside the image are complete 4x4 holes


def test_sample_is_a_random_batch_of_distinct_samples() -> None:
    dl = loader(indexed(500), batch_size=50, generator=torch.Generator().manual_seed(0))
    (xa, ya), (xb, _) = dl.sample(), dl.sample()
    ids = ids_of(xa)
    assert xa.shape == (50, 1, 4, 4) and len(set(ids.tolist())) == 50
    assert torch.equal(ya, ids % 10)
    assert not torch.equal(ids, ids_of(xb))
    small = loader(indexed(20), batch_size=50)
    assert small.sample()[0].shape[0] == 20


def test_float_storage_and_per_channel_normalisation() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((40, 5, 5, 3), dtype=np.float32)
    data = ImageDataset(x, np.arange(40) % 2, ("a", "b"))
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    dl = DeviceLoader(data, batch_size=40, device="cpu", mean=mean, std=std, shuffle=False)
    assert dl.x.dtype == torch.float32
    out = next(iter(dl))[0]
    expected = torch.from_numpy(x).permute(0, 3, 1, 2) - torch.tensor(mean).view(1, 3, 1, 1)
    expected = expected / torch.tensor(std).view(1, 3, 1, 1)
    torch.testing.assert_close(out, expected)


def test_bad_arguments(digits: ImageDataset) -> None:
    with pytest.raises(ValueError, match="needs 1 or 1 values"):
        loader(digits, mean=(0.1, 0.2))
    with pytest.raises(ValueError, match="std must be positive"):
        loader(digits, std=0.0)
    with pytest.raises(ValueError, match="batch_size"):
        loader(digits, batch_size=0)
    with pytest.raises(ValueError, match="is empty"):
        loader(digits.subset([]))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("gen_device", ["cpu", "cuda"])
def test_cuda_matches_cpu_layout(digits: ImageDataset, gen_device: str) -> None:
    aug = AugmentConfig(crop_padding=4, flip=True, cutout=8)
    dl = loader(
        digits,
        device="cuda",
        augment=aug,
        generator=torch.Generator(device=gen_device).manual_seed(0),
    )
    assert dl.x.device.type == "cuda" and dl.x.dtype == torch.uint8
    x, y = next(iter(dl))
    assert x.device.type == "cuda" and y.device.type == "cuda" and x.shape == (64, 1, 28, 28)
    xs, _ = dl.sample()
    assert xs.device.type == "cuda"
    ids = loader(
        indexed(300),
        device="cuda",
        drop_last=False,
        generator=torch.Generator(device=gen_device).manual_seed(0),
    )
    seen = torch.cat([ids_of(xb) for xb, _ in ids]).cpu()
    assert sorted(seen.tolist()) == list(range(300))
