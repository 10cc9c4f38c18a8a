"""What every space's layout shares: the images the networks take (at least `MIN_IMAGE_SIDE`,
at most `MAX_IMAGE_SIDE` pixels a side) and what a stride-2 op makes of a resolution. Each
space's walk over a network config (`spaces/<space>/layout.py`) is the one place its search
network, final network, costs and latency-table keys take their shapes from. Torch-free.
"""

from __future__ import annotations

HW = tuple[int, int]

# Both spaces halve the resolution twice (micro: two reduction cells; macro: two pools, from
# 3 layers on). On a side below 2**2 pixels a halving has nothing left to halve: the network
# trains, but its reductions see one pixel and its accuracy stays near chance.
REDUCTIONS = 2
MIN_IMAGE_SIDE = 2**REDUCTIONS
# Activations grow with the pixels: at batch 32 the cheapest network of the smallest preset
# (3 layers, 16 channels) holds 1.9 GB for inference on 256x256 images, 7.8 GB on 512x512 and
# 31 GB on 1024x1024 (`costs.peak_memory`), and training keeps several times that: past 512
# pixels a side no search fits one 80 GB GPU.
MAX_IMAGE_SIDE = 512


def too_small(hw: HW) -> str | None:
    """Why images of `hw` (height, width) are too small for the networks, or None."""
    h, w = hw
    if min(h, w) >= MIN_IMAGE_SIDE:
        return None
    return (
        f"the images are {w}x{h} pixels, too small for the networks, which halve the "
        f"resolution {REDUCTIONS} times: each side must be at least {MIN_IMAGE_SIDE} pixels "
        "(upscale the images, e.g. to 28x28)"
    )


def too_large(hw: HW) -> str | None:
    """Why images of `hw` (height, width) are too large for any search to train on, or None."""
    h, w = hw
    if max(h, w) <= MAX_IMAGE_SIDE:
        return None
    return (
        f"the images are {w}x{h} pixels; the networks train on at most {MAX_IMAGE_SIDE} "
        f"pixels a side (the maximum image side; beyond it no search fits one GPU's memory): "
        "downscale the images"
    )


def half(n: int) -> int:
    """Every stride-2 op here (3x3/5x5 with padding, 1x1 without) maps n to ceil(n / 2)."""
    return (n + 1) // 2


def halved(hw: HW) -> HW:
    return half(hw[0]), half(hw[1])
