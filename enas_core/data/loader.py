"""Batches from a split held whole on the training device.

ENAS trains small networks on small images, where a per-sample DataLoader (PIL decode,
collate, host-to-device copy each batch) costs more than the step itself. Here the split is
moved to the device once; every batch is gathered, augmented and normalised there with batched
tensor ops, so nothing per batch waits on the host.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..config import AugmentConfig
from .dataset import ImageDataset


class DeviceLoader:
    """A whole split held as ONE tensor on the training device; batching, normalisation and
    augmentation on that device (no per-sample DataLoader, no host-device sync per batch).

    Yields `(x, y)`: x float32 (B, C, H, W) normalised with `mean`/`std` (per channel, in the
    [0, 1] pixel scale), y int64 (B,). uint8 data stays uint8 on the device (4x less memory)
    and each batch is converted. Augmentation follows torchvision/DARTS: random crop from a
    zero-padded (black) image and horizontal flip before normalisation, cutout after it (the
    hole is 0, the dataset mean). All randomness comes from `generator`.
    """

    def __init__(
        self,
        data: ImageDataset,
        *,
        batch_size: int,
        device: torch.device | str,
        mean: Sequence[float] | float,
        std: Sequence[float] | float,
        augment: AugmentConfig | None = None,
        shuffle: bool = True,
        drop_last: bool = True,
        generator: torch.Generator | None = None,
        channels_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if data.num_samples < 1:
            raise ValueError(f"dataset {data.name!r} is empty; a loader needs samples")
        aug = augment or AugmentConfig()
        if aug.crop_padding < 0 or aug.cutout < 0:
            raise ValueError(f"crop_padding and cutout must be >= 0, got {aug}")
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator
        self.channels_last = channels_last
        self.augment = aug
        self.classes = data.classes
        self.num_samples = data.num_samples
        h, w, c = data.image_shape
        self.image_shape = (h, w, c)

        # NHWC on the host -> NCHW on the device, keeping uint8 as uint8.
        self.x = _tensor(data.x).to(self.device).permute(0, 3, 1, 2).contiguous()
        self.y = _tensor(data.y).to(self.device)
        # normalised = pixel * (unit / std) - mean / std: one fused multiply-add per batch.
        unit = 1.0 / 255.0 if data.x.dtype == np.uint8 else 1.0
        mean_t, std_t = _per_channel(mean, c, "mean"), _per_channel(std, c, "std")
        if (std_t <= 0).any():
            raise ValueError(f"std must be positive, got {std_t.tolist()}")
        self._scale = (unit / std_t).float().view(1, c, 1, 1).to(self.device)
        self._shift = (-mean_t / std_t).float().view(1, c, 1, 1).to(self.device)

        self._rows = torch.arange(h, device=self.device)
        self._cols = torch.arange(w, device=self.device)
        self._channels = torch.arange(c, device=self.device).view(1, c, 1, 1)
        # Random numbers are drawn where the generator lives (a CPU generator stays usable
        # with a CUDA loader) and moved over without a sync.
        self._rand_device = generator.device if generator is not None else self.device
        self._draws = (2 if aug.crop_padding else 0) + int(aug.flip) + (2 if aug.cutout else 0)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        """Batches per epoch; with drop_last a split smaller than a batch is one batch."""
        n, bs = self.num_samples, self.batch_size
        if self.drop_last:
            return max(1, n // bs)
        return -(-n // bs)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, bs = self.num_samples, self.batch_size
        order = self._permutation() if self.shuffle else None
        for i in range(len(self)):
            lo, hi = i * bs, min((i + 1) * bs, n)
            if order is None:
                xb, yb = self.x[lo:hi], self.y[lo:hi]
            else:
                idx = order[lo:hi]
                xb, yb = self.x.index_select(0, idx), self.y.index_select(0, idx)
            yield self._transform(xb), yb

    def in_order(self) -> DeviceLoader:
        """The same split as evaluation reads it (no augmentation, no shuffling, every sample),
        sharing this loader's tensors: no second copy of the data on the device."""
        other = copy.copy(self)
        other.augment, other._draws = AugmentConfig(), 0
        other.shuffle, other.drop_last = False, False
        return other

    def sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One random batch (distinct samples), e.g. for a controller reward."""
        idx = self._permutation()[: min(self.batch_size, self.num_samples)]
        return self._transform(self.x.index_select(0, idx)), self.y.index_select(0, idx)

    # --- internals ------------------------------------------------------------------------

    def _permutation(self) -> torch.Tensor:
        perm = torch.randperm(self.num_samples, generator=self.generator, device=self._rand_device)
        return perm.to(self.device, non_blocking=True)

    def _transform(self, xb: torch.Tensor) -> torch.Tensor:
        aug, b = self.augment, xb.shape[0]
        u = iter(self._uniform(b)) if self._draws else iter(())
        if aug.crop_padding:
            xb = self._crop(xb, next(u), next(u), next(u) < 0.5 if aug.flip else None)
        elif aug.flip:
            flip = (next(u) < 0.5).view(b, 1, 1, 1)
            xb = torch.where(flip, xb.flip(3), xb)
        out = torch.addcmul(self._shift, xb.float(), self._scale)
        if aug.cutout:
            out = self._cutout(out, next(u), next(u))
        if self.channels_last:
            out = out.contiguous(memory_format=torch.channels_last)
        return out

    def _uniform(self, b: int) -> torch.Tensor:
        """All of a batch's random numbers in one draw: (draws, B) uniform in [0, 1)."""
        u = torch.rand((self._draws, b), generator=self.generator, device=self._rand_device)
        return u.to(self.device, non_blocking=True)

    def _crop(
        self, xb: torch.Tensor, uy: torch.Tensor, ux: torch.Tensor, flip: torch.Tensor | None
    ) -> torch.Tensor:
        """Random crop of the zero-padded batch (and optional flip) as one gather."""
        p, b = self.augment.crop_padding, xb.shape[0]
        h, w = self.image_shape[:2]
        padded = F.pad(xb, (p, p, p, p))
        oy, ox = _randint(uy, 2 * p + 1), _randint(ux, 2 * p + 1)
        rows = oy[:, None] + self._rows  # (B, H) rows of the padded image
        cols = ox[:, None] + self._cols
        if flip is not None:
            cols = torch.where(flip[:, None], ox[:, None] + (w - 1 - self._cols), cols)
        batch = torch.arange(b, device=self.device).view(b, 1, 1, 1)
        return padded[batch, self._channels, rows[:, None, :, None], cols[:, None, None, :]]

    def _cutout(self, out: torch.Tensor, uy: torch.Tensor, ux: torch.Tensor) -> torch.Tensor:
        """Zero a side x side square centred anywhere (clipped at the border), as DARTS."""
        side = self.augment.cutout
        h, w = self.image_shape[:2]
        y0 = _randint(uy, h)[:, None] - side // 2
        x0 = _randint(ux, w)[:, None] - side // 2
        in_rows = (self._rows >= y0) & (self._rows < y0 + side)  # (B, H)
        in_cols = (self._cols >= x0) & (self._cols < x0 + side)
        hole = in_rows[:, None, :, None] & in_cols[:, None, None, :]
        return out.masked_fill(hole, 0.0)


def _randint(u: torch.Tensor, high: int) -> torch.Tensor:
    """Uniform integers in [0, high) from uniform floats in [0, 1)."""
    return (u * high).long().clamp_(max=high - 1)


def _tensor(a: np.ndarray) -> torch.Tensor:
    # torch warns on (and must not share) read-only arrays, e.g. ones np.load returns.
    return torch.from_numpy(a if a.flags.writeable else a.copy())


def _per_channel(value: Sequence[float] | float, c: int, what: str) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=torch.float64).flatten()
    if t.numel() == 1:
        t = t.expand(c)
    if t.numel() != c:
        raise ValueError(f"{what} needs 1 or {c} values (one per channel), got {t.numel()}")
    return t.clone()
