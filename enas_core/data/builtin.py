"""Named datasets: the bundled digits, and MNIST / Fashion-MNIST / CIFAR-10 via torchvision.

MNIST-style sets are read from IDX files with our own validated reader wherever they are
(torchvision's `<root>/MNIST/raw/` layout, a `<root>/<name>/` folder, or flat in `data_dir`),
so an offline machine only needs a folder holding the four files. torchvision is used only to
download them, and for CIFAR-10 (whose batches torchvision md5-checks before unpickling).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from .dataset import DatasetError, ImageDataset
from .formats import load_idx

BUILTIN_DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10")
# Each one's input shape (C, H, W) and class count, as loaded: known without loading it.
BUILTIN_SHAPES: dict[str, tuple[tuple[int, int, int], int]] = {
    "digits": ((1, 28, 28), 10),
    "mnist": ((1, 28, 28), 10),
    "fashion-mnist": ((1, 28, 28), 10),
    "cifar10": ((3, 32, 32), 10),
}

_ALIASES = {
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "cifar-10": "cifar10",
    "cifar_10": "cifar10",
}
_IDX_SETS = {  # name -> (torchvision class name, class names)
    "mnist": ("MNIST", tuple(str(i) for i in range(10))),
    "fashion-mnist": (
        "FashionMNIST",
        (
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
        ),
    ),
}  # fmt: skip
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_CIFAR_DIR = "cifar-10-batches-py"
_CIFAR_ARCHIVE = "cifar-10-python.tar.gz"


def builtin_name(name: str) -> str | None:
    """The canonical builtin name for `name` (case and '-'/'_' insensitive), or None."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    return key if key in BUILTIN_DATASETS else None


def default_data_dir() -> Path:
    return Path.home() / ".cache" / "enas" / "data"


def load_builtin(
    name: str, data_dir: str | Path | None = None, *, download: bool = True
) -> tuple[ImageDataset, ImageDataset | None]:
    """(train, test) of a builtin dataset; "digits" has no test set (None)."""
    key = builtin_name(name)
    if key is None:
        raise DatasetError(
            f"unknown builtin dataset {name!r}; choose one of {', '.join(BUILTIN_DATASETS)}"
        )
    if key == "digits":
        return load_digits(), None
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    if key == "cifar10":
        return _load_cifar10(root, download)
    return _load_idx_set(key, root, download)


def load_digits() -> ImageDataset:
    """The 5,000 real MNIST digits bundled with the package."""
    ref = resources.files("enas_core") / "datasets" / "mnist-5k.npz"
    with resources.as_file(ref) as path, np.load(path, allow_pickle=False) as npz:
        return ImageDataset.from_arrays(npz["x"], npz["y"], name="digits")


def _load_idx_set(key: str, root: Path, download: bool) -> tuple[ImageDataset, ImageDataset]:
    tv_name, classes = _IDX_SETS[key]
    found = _find_idx_files(key, root)
    problem = "download=False"
    if found is None and download:
        problem = f"download failed: {_download_idx(key, root)}"
        found = _find_idx_files(key, root)
    if found is None:
        files = ", ".join(f"{f}.gz" for pair in _IDX_FILES.values() for f in pair)
        raise DatasetError(
            f"{key} not found under {root} ({problem}); expected the four IDX files {files} "
            f"(gzipped or not) in {root}, {root / key} or {root / tv_name / 'raw'}). Copy them "
            "there, or pass download=True on a machine with internet access"
        )
    splits = []
    for split in ("train", "test"):
        images, labels = found[split]
        data = load_idx(images, labels, name=key)
        splits.append(ImageDataset(data.x, _codes(data, classes, images), classes, key))
    return splits[0], splits[1]


def _codes(data: ImageDataset, classes: tuple[str, ...], source: Path) -> np.ndarray:
    """Labels against the fixed class list (load_idx remapped them to the values present)."""
    values = np.array([int(c) for c in data.classes])
    if values.min() < 0 or values.max() >= len(classes):
        raise DatasetError(
            f"{source} has labels {values.min()}..{values.max()}; expected 0..{len(classes) - 1}"
        )
    return values[data.y]


def _find_idx_files(key: str, root: Path) -> dict[str, tuple[Path, Path]] | None:
    tv_name = _IDX_SETS[key][0]
    for folder in (root / tv_name / "raw", root / key, root):
        found = {}
        for split, names in _IDX_FILES.items():
            paths = [_existing(folder, n) for n in names]
            if None in paths:
                break
            found[split] = (paths[0], paths[1])
        else:
            return found  # type: ignore[return-value]
    return None


def _existing(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _download_idx(key: str, root: Path) -> str:
    """Let torchvision fetch (and md5-check) the files into root/<Class>/raw. Returns the
    error text on failure; the caller's message names the files it expected."""
    from torchvision import datasets  # imported here: slow, and only needed to download

    cls = datasets.MNIST if key == "mnist" else datasets.FashionMNIST
    try:
        cls(str(root), train=True, download=True)
    except (RuntimeError, OSError, ValueError) as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return "the files were not where torchvision put them"


def _load_cifar10(root: Path, download: bool) -> tuple[ImageDataset, ImageDataset]:
    from torchvision import datasets

    # A local archive is extracted even when download=False: no network is involved.
    fetch = download or (root / _CIFAR_ARCHIVE).is_file()
    try:
        try:  # first without download, which would print "Files already downloaded"
            sets = [datasets.CIFAR10(str(root), train=t) for t in (True, False)]
        except RuntimeError:
            if not fetch:
                raise
            sets = [datasets.CIFAR10(str(root), train=t, download=True) for t in (True, False)]
    except (RuntimeError, OSError, ValueError) as exc:
        raise DatasetError(
            f"cifar10 not found under {root} ({exc}); expected {root / _CIFAR_DIR} with "
            f"data_batch_1..5 and test_batch, or the archive {root / _CIFAR_ARCHIVE}. Copy "
            "them there, or pass download=True on a machine with internet access"
        ) from exc
    classes = tuple(sets[0].classes)
    train, test = (
        ImageDataset(
            np.asarray(s.data, np.uint8), np.asarray(s.targets, np.int64), classes, "cifar10"
        )
        for s in sets
    )
    return train, test
