"""A look at a dataset: a PNG grid of sample images, one row per class with its name. Small
and bounded whatever the images' size: each tile is scaled to `TILE` pixels on its longer side.
numpy and PIL only."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .dataset import ImageDataset

TILE = 40  # pixels per image, longer side
GAP = 2
LABEL_W = 96
MAX_PER_CLASS = 16
MAX_CLASSES = 20


def _tile(image: np.ndarray) -> Image.Image:
    """(H, W, C) uint8 or float in [0, 1] -> an RGB tile of at most TILE pixels a side."""
    if image.dtype != np.uint8:
        image = (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)
    if image.shape[2] == 1:
        picture = Image.fromarray(image[:, :, 0], mode="L").convert("RGB")
    else:
        picture = Image.fromarray(image[:, :, :3], mode="RGB")
    h, w = image.shape[:2]
    scale = TILE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    # Small images (8x8 digits) grow with sharp pixels; large ones shrink smoothly.
    resample = Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.BILINEAR
    return picture.resize(size, resample)


def sample_grid(dataset: ImageDataset, *, per_class: int = 8) -> bytes:
    """A PNG: up to `per_class` images (the first of each class, so the same every time) for
    each of up to MAX_CLASSES classes. At most (LABEL_W + 16 * 42) x (20 * 42) pixels."""
    per_class = max(1, min(per_class, MAX_PER_CLASS))
    classes = dataset.classes[:MAX_CLASSES]
    step = TILE + GAP
    grid = Image.new("RGB", (LABEL_W + per_class * step, max(1, len(classes)) * step), "white")
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default()
    for row, name in enumerate(classes):
        y = row * step
        label = name if len(name) <= 14 else name[:12] + ".."
        try:
            draw.text((4, y + TILE // 2 - 6), label, fill=(40, 40, 40), font=font)
        except UnicodeEncodeError:  # Pillow's bitmap font (no FreeType) is Latin-1 only
            ascii_label = label.encode("latin-1", "replace").decode("latin-1")
            draw.text((4, y + TILE // 2 - 6), ascii_label, fill=(40, 40, 40), font=font)
        for col, index in enumerate(np.flatnonzero(dataset.y == row)[:per_class]):
            tile = _tile(dataset.x[index])
            grid.paste(tile, (LABEL_W + col * step + (TILE - tile.width) // 2,
                              y + (TILE - tile.height) // 2))
    out = io.BytesIO()
    grid.save(out, format="PNG", optimize=True)
    return out.getvalue()
