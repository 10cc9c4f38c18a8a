"""Every input format loads the bundled real digits exactly, and every malformed file is
rejected with a message that says what is wrong."""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from enas_core.data import (
    BUILTIN_DATASETS,
    BUILTIN_SHAPES,
    DatasetError,
    ImageDataset,
    formats,
    is_canonical,
    load_builtin,
    load_canonical,
    load_file,
    load_idx,
    prepare_data,
    save_canonical,
)
from enas_core.data.formats import load_file_with_test

DIGITS = Path(__file__).parents[2] / "enas_core" / "datasets" / "mnist-5k.npz"


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """120 real digits covering all ten classes: x uint8 (120, 28, 28), y int64."""
    with np.load(DIGITS) as d:
        return d["x"][:120].copy(), d["y"][:120].astype(np.int64)


def write_idx(path: Path, arr: np.ndarray, *, gz: bool, magic: bytes | None = None) -> Path:
    header = magic or bytes([0, 0, 0x08, arr.ndim])
    data = header + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def png_bytes(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def write_zip(path: Path, members: dict[str, bytes | None]) -> Path:
    """None values become directory entries."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            if data is None:
                zf.writestr(zipfile.ZipInfo(name), b"")
            else:
                zf.writestr(name, data)
    return path


def folder_zip(path: Path, x: np.ndarray, y: np.ndarray, prefix: str = "") -> Path:
    members: dict[str, bytes | None] = {"__MACOSX/._junk": b"\0", f"{prefix}.DS_Store": b""}
    for i, (img, label) in enumerate(zip(x, y, strict=True)):
        members[f"{prefix}{label}/{i:04d}.png"] = png_bytes(img)
    return write_zip(path, members)


def write_csv(path: Path, x: np.ndarray, y: np.ndarray, *, header: bool) -> Path:
    flat = x.reshape(len(x), -1)
    lines = ["label," + ",".join(f"pixel{i}" for i in range(flat.shape[1]))] if header else []
    lines += [f"{label}," + ",".join(map(str, row)) for label, row in zip(y, flat, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


# --- every format loads the real digits ------------------------------------------------------


def _npz3d(tmp: Path, x: np.ndarray, y: np.ndarray) -> Path:
    np.savez(tmp / "d.npz", x=x, y=y)
    return tmp / "d.npz"


def _npz4d(tmp: Path, x: np.ndarray, y: np.ndarray) -> Path:
    np.savez_compressed(tmp / "d.npz", x=x[..., None], y=y.astype(np.uint8))
    return tmp / "d.npz"


def _npz_float_labels(tmp: Path, x: np.ndarray, y: np.ndarray) -> Path:
    np.savez(tmp / "d.npz", x=x.astype(np.int32), y=y.astype(np.float64))
    return tmp / "d.npz"


def _idx(gz: bool) -> Callable[[Path, np.ndarray, np.ndarray], Path]:
    def write(tmp: Path, x: np.ndarray, y: np.ndarray) -> Path:
        ext = ".gz" if gz else ""
        write_idx(tmp / f"train-labels-idx1-ubyte{ext}", y, gz=gz)
        return write_idx(tmp / f"train-images-idx3-ubyte{ext}", x, gz=gz)

    return write


def _idx_zip(tmp: Path, x: np.ndarray, y: np.ndarray) -> Path:
    images = gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", *x.shape) + x.tobytes())
    labels = bytes([0, 0, 8, 1]) + struct.pack(">I", len(y)) + y.astype(np.uint8).tobytes()
    return write_zip(tmp / "mnist.zip", {"a/images.gz": images, "a/labels": labels})


def _csv(header: bool) -> Callable[[Path, np.ndarray, np.ndarray], Path]:
    return lambda tmp, x, y: write_csv(tmp / "d.csv", x, y, header=header)


def _png_zip(wrapper: str) -> Callable[[Path, np.ndarray, np.ndarray], Path]:
    return lambda tmp, x, y: folder_zip(tmp / "d.zip", x, y, prefix=wrapper)


FORMAT_WRITERS = {
    "npz-3d": _npz3d,
    "npz-4d": _npz4d,
    "npz-int32-float-labels": _npz_float_labels,
    "idx-gz": _idx(gz=True),
    "idx-raw": _idx(gz=False),
    "idx-zip": _idx_zip,
    "csv-header": _csv(header=True),
    "csv-no-header": _csv(header=False),
    "png-zip": _png_zip(""),
    "png-zip-wrapped": _png_zip("digits/"),
}


@pytest.mark.parametrize("fmt", FORMAT_WRITERS)
def test_format_loads_digits_exactly(tmp_path: Path, digits, fmt: str) -> None:
    x, y = digits
    path = FORMAT_WRITERS[fmt](tmp_path, x, y)
    data = load_file(path)
    order = np.argsort(y, kind="stable") if fmt.startswith("png") else np.arange(len(y))
    assert data.x.dtype == np.uint8
    assert data.x.shape == (len(x), 28, 28, 1)
    np.testing.assert_array_equal(data.x[..., 0], x[order])
    assert data.classes == tuple(str(i) for i in range(10))
    np.testing.assert_array_equal(data.y, y[order])
    assert data.y.dtype == np.int64


def test_float_npz_scaled_to_unit_range(tmp_path: Path, digits) -> None:
    x, y = digits
    for scale in (1.0, 255.0):
        np.savez(tmp_path / "f.npz", x=(x / 255.0 * scale).astype(np.float64), y=y)
        data = load_file(tmp_path / "f.npz")
        assert data.x.dtype == np.float32
        np.testing.assert_allclose(data.x[..., 0], x / 255.0, atol=1e-6)


def test_rgb_png_zip_keeps_colour(tmp_path: Path, digits) -> None:
    x, y = digits
    rgb = np.stack([x, 255 - x, x // 2], axis=-1)
    members = {
        f"{label}/{i:04d}.png": png_bytes(img)
        for i, (img, label) in enumerate(zip(rgb, y, strict=True))
    }
    data = load_file(write_zip(tmp_path / "rgb.zip", members))
    order = np.argsort(y, kind="stable")
    assert data.image_shape == (28, 28, 3)
    np.testing.assert_array_equal(data.x, rgb[order])


def test_mixed_gray_and_rgb_become_rgb(tmp_path: Path, digits) -> None:
    x, _ = digits
    members = {
        "a/0.png": png_bytes(x[0]),
        "b/0.png": png_bytes(np.stack([x[1]] * 3, axis=-1)),
    }
    data = load_file(write_zip(tmp_path / "m.zip", members))
    assert data.image_shape == (28, 28, 3)
    np.testing.assert_array_equal(data.x[0], np.stack([x[0]] * 3, axis=-1))


def test_arbitrary_int_labels_are_remapped(tmp_path: Path, digits) -> None:
    x, y = digits
    labels = np.array([3, 7, 9])[y % 3]
    np.savez(tmp_path / "d.npz", x=x, y=labels)
    data = load_file(tmp_path / "d.npz")
    assert data.classes == ("3", "7", "9")
    np.testing.assert_array_equal(data.y, y % 3)


def test_keras_npz_with_test_arrays(tmp_path: Path, digits) -> None:
    x, y = digits
    np.savez(tmp_path / "k.npz", x_train=x[:100], y_train=y[:100], x_test=x[100:], y_test=y[100:])
    train, test = load_file_with_test(tmp_path / "k.npz")
    assert train.num_samples == 100 and test is not None and test.num_samples == 20
    assert train.classes == test.classes
    np.testing.assert_array_equal(test.x[..., 0], x[100:])


def test_load_idx_with_explicit_paths(tmp_path: Path, digits) -> None:
    x, y = digits
    images = write_idx(tmp_path / "imgs.bin", x, gz=True)
    labels = write_idx(tmp_path / "labs.bin", y, gz=False)
    data = load_idx(images, labels)
    np.testing.assert_array_equal(data.x[..., 0], x)


def test_summary_is_json_safe(digits) -> None:
    import json

    x, y = digits
    data = ImageDataset.from_arrays(x, y, name="d")
    summary = json.loads(json.dumps(data.summary()))
    assert summary["image_shape"] == [28, 28, 1]
    assert summary["num_classes"] == 10 and sum(summary["class_counts"].values()) == len(x)
    assert data.subset([0, 2]).num_samples == 2


# --- malformed files are rejected with a clear message --------------------------------------


def _bad_npz(**arrays) -> Callable[[Path, np.ndarray, np.ndarray], Path]:
    def write(tmp: Path, x: np.ndarray, y: np.ndarray) -> Path:
        np.savez(tmp / "bad.npz", **{k: v(x, y) if callable(v) else v for k, v in arrays.items()})
        return tmp / "bad.npz"

    return write


def _zip_of(members: Callable[[np.ndarray, np.ndarray], dict]) -> Callable:
    return lambda tmp, x, y: write_zip(tmp / "bad.zip", members(x, y))


def _bad_idx_magic(tmp: Path, x: np.ndarray, y: np.ndarray) -> Path:
    write_idx(tmp / "train-labels-idx1-ubyte.gz", y, gz=True)
    return write_idx(tmp / "train-images-idx3-ubyte.gz", x, gz=True, magic=b"\0\0\x08\x03"[::-1])


def _idx_count_mismatch(tmp: Path, x: np.ndarray, y: np.ndarray) -> Path:
    write_idx(tmp / "train-labels-idx1-ubyte", y[:-1], gz=False)
    return write_idx(tmp / "train-images-idx3-ubyte", x, gz=False)


def _idx_truncated(tmp: Path, x: np.ndarray, y: np.ndarray) -> Path:
    write_idx(tmp / "train-labels-idx1-ubyte", y, gz=False)
    path = write_idx(tmp / "train-images-idx3-ubyte", x, gz=False)
    path.write_bytes(path.read_bytes()[:-100])
    return path


def _idx_without_labels(tmp: Path, x: np.ndarray, y: np.ndarray) -> Path:
    return write_idx(tmp / "train-images-idx3-ubyte.gz", x, gz=True)


def _corrupt_zip(tmp: Path, x: np.ndarray, y: np.ndarray) -> Path:
    path = folder_zip(tmp / "c.zip", x[:20], y[:20])
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def _npz_lying_header(tmp: Path, x: np.ndarray, y: np.ndarray) -> Path:
    buf = io.BytesIO()
    header = {"descr": "|u1", "fortran_order": False, "shape": (10**9, 28, 28)}
    np.lib.format.write_array_header_1_0(buf, header)
    buf.write(x[:2].tobytes())
    out = io.BytesIO()
    np.save(out, y)
    return write_zip(tmp / "lie.npz", {"x.npy": buf.getvalue(), "y.npy": out.getvalue()})


def _pickle_named_npz(tmp: Path, x: np.ndarray, y: np.ndarray) -> Path:
    import pickle

    (tmp / "p.npz").write_bytes(pickle.dumps({"x": x, "y": y}))
    return tmp / "p.npz"


def _tarball(tmp: Path, x: np.ndarray, y: np.ndarray) -> Path:
    (tmp / "d.tar.gz").write_bytes(gzip.compress(b"not really a tar"))
    return tmp / "d.tar.gz"


def _csv_text(text: str) -> Callable:
    def write(tmp: Path, x: np.ndarray, y: np.ndarray) -> Path:
        (tmp / "bad.csv").write_text(text)
        return tmp / "bad.csv"

    return write


def _unknown(tmp: Path, x: np.ndarray, y: np.ndarray) -> Path:
    (tmp / "data.bin").write_bytes(bytes(range(256)) * 4)
    return tmp / "data.bin"


def _png_members(*names: str) -> Callable:
    """A zip whose named members are real digit PNGs (the second one cropped when its name
    says "small"); names ending in "/" are empty folders."""

    def members(x: np.ndarray, y: np.ndarray) -> dict[str, bytes | None]:
        out: dict[str, bytes | None] = {}
        for i, name in enumerate(names):
            img = x[i][:20] if "small" in name else x[i]
            out[name] = None if name.endswith("/") else png_bytes(img)
        return out

    return _zip_of(members)


def _x(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return x


def _y(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return y


MALFORMED = {
    "npz-1d-x": (
        _bad_npz(x=np.arange(10), y=np.arange(10)),
        "x must have shape (N,H,W) or (N,H,W,C); got (10,)",
    ),
    "npz-length-mismatch": (
        _bad_npz(x=lambda x, y: x[:10], y=lambda x, y: y[:9]),
        "x has 10 samples but y has 9",
    ),
    "npz-float-labels": (
        _bad_npz(x=lambda x, y: x[:4], y=np.array([0, 1.5, 1, 0])),
        "labels must be integers; y[1] is 1.5",
    ),
    "npz-one-class": (_bad_npz(x=lambda x, y: x[:5], y=np.zeros(5)), "only one class"),
    "npz-object": (
        _bad_npz(x=np.array([[1], "a"], dtype=object), y=np.arange(2)),
        "object (pickled) array",
    ),
    "npz-missing-keys": (_bad_npz(images=_x), "must hold arrays 'x' (images) and 'y'"),
    "npz-zero-size": (
        _bad_npz(x=np.zeros((5, 0, 28), np.uint8), y=np.arange(5)),
        "images have zero size",
    ),
    "npz-normalised-floats": (
        _bad_npz(x=lambda x, y: x / 255.0 - 0.5, y=_y),
        "Save raw (unnormalised) pixels",
    ),
    "npz-2d-labels": (
        _bad_npz(x=_x, y=lambda x, y: np.stack([y, y], 1)),
        "y must have shape (N,)",
    ),
    "npz-lying-header": (_npz_lying_header, "claims shape (1000000000, 28, 28)"),
    "npz-is-a-pickle": (_pickle_named_npz, "p.npz is not a valid zip file"),
    "tar-gz": (_tarball, "tar archive, which is not supported"),
    "zip-different-sizes": (
        _png_members("a/1.png", "b/small.png"),
        "b/small.png is 28x20 pixels but a/1.png is 28x28; all images must have the same size",
    ),
    "zip-empty-class": (
        _png_members("a/1.png", "b/2.png", "empty/"),
        "class folder 'empty' in bad.zip holds no images",
    ),
    "zip-one-class": (_png_members("a/1.png", "a/2.png"), "needs at least two"),
    "zip-loose-image": (
        _png_members("a/1.png", "b/2.png", "3.png"),
        "3.png in bad.zip is not inside a class folder",
    ),
    "zip-not-an-image": (
        _zip_of(lambda x, y: {"a/1.png": png_bytes(x[0]), "b/2.png": b"not a png"}),
        "cannot read image b/2.png in bad.zip: not a valid image file",
    ),
    "zip-path-traversal": (_png_members("a/1.png", "../b/2.png"), "unsafe member path"),
    "zip-corrupt": (_corrupt_zip, "not a valid zip file"),
    "idx-bad-magic": (_bad_idx_magic, "bad magic number 0x03080000"),
    "idx-count-mismatch": (
        _idx_count_mismatch,
        "train-images-idx3-ubyte has 120 images but train-labels-idx1-ubyte has 119",
    ),
    "idx-truncated": (_idx_truncated, "is truncated"),
    "idx-no-labels-file": (_idx_without_labels, "labels file was not found"),
    "csv-not-square": (_csv_text("1,0,0,0\n2,0,0,0\n"), "not a perfect square"),
    "csv-non-numeric": (
        _csv_text("label,a,b,c,d\n1,0,0,0,0\n2,0,x,0,0\n"),
        "line 3, column 3 ('b'): 'x' is not a number",
    ),
    "csv-ragged": (_csv_text("1,0,0,0,0\n2,0,0,0\n"), "line 2 has 4 columns"),
    "csv-header-only": (_csv_text("label,p0,p1,p2,p3\n"), "no data rows"),
    "unknown-format": (_unknown, "cannot tell the format"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_file_is_rejected(tmp_path: Path, digits, case: str) -> None:
    write, message = MALFORMED[case]
    path = write(tmp_path, *digits)
    with pytest.raises(DatasetError) as err:
        load_file(path)
    assert message in str(err.value)


def test_unknown_explicit_format(tmp_path: Path, digits) -> None:
    path = _npz3d(tmp_path, *digits)
    with pytest.raises(DatasetError, match="unknown format 'hdf5'; supported formats: npz"):
        load_file(path, format="hdf5")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_file(tmp_path / "nope.npz")


def test_zip_bomb_is_refused(tmp_path: Path, digits, monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = digits
    path = write_zip(tmp_path / "bomb.zip", {"a/1.png": png_bytes(x[0]), "b/z.png": bytes(1 << 20)})
    monkeypatch.setattr(formats.safety, "MAX_UNCOMPRESSED_BYTES", 1 << 19)
    with pytest.raises(DatasetError, match="more than the limit"):
        load_file(path)


def test_oversized_image_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = np.zeros((64, 64), np.uint8)
    path = write_zip(tmp_path / "big.zip", {"a/1.png": png_bytes(big), "b/2.png": png_bytes(big)})
    monkeypatch.setattr(formats.safety, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(DatasetError, match="64x64, more than 1000 pixels"):
        load_file(path)


# --- the registry and the canonical form -----------------------------------------------------


def test_each_format_registers_its_name_suffixes_and_description() -> None:
    assert formats.FORMATS == ("npz", "idx", "csv", "zip")
    assert formats.upload_suffixes() == (".npz", ".csv", ".csv.gz", ".zip")
    assert ".csv (label, pixels...)" in formats.describe(uploads_only=True)
    with pytest.raises(ValueError, match="already registered"):
        formats.register(formats.get_format("csv"))


@pytest.mark.parametrize("fmt", ["npz-3d", "csv-header", "png-zip"])
def test_sniffing_names_the_format(tmp_path: Path, digits, fmt: str) -> None:
    path = FORMAT_WRITERS[fmt](tmp_path, *digits)
    assert formats.sniff_format(path) == {"npz": "npz", "csv": "csv", "png": "zip"}[
        fmt.split("-")[0]]


def test_canonical_form_round_trips(tmp_path: Path, digits) -> None:
    x, y = digits
    np.savez(tmp_path / "k.npz", x_train=x[:100], y_train=y[:100] + 3, x_test=x[100:],
             y_test=y[100:] + 3)
    train, test = load_file_with_test(tmp_path / "k.npz")
    path = save_canonical(tmp_path / "c.npz", train, test)
    assert is_canonical(path) and not is_canonical(tmp_path / "k.npz")
    again, again_test = load_canonical(path)
    for a, b in ((train, again), (test, again_test)):
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.y, b.y)
        assert a.classes == b.classes and a.name == b.name
    splits = prepare_data(path)  # read as it was written, not parsed as a user's file
    assert splits.train.classes == train.classes == tuple(str(i) for i in range(3, 13))


# --- builtin datasets (offline only: no network in tests) -----------------------------------


def test_builtin_digits() -> None:
    train, test = load_builtin("digits")
    assert test is None
    assert train.num_samples == 5000 and train.num_classes == 10
    assert train.image_shape == (28, 28, 1) and train.x.dtype == np.uint8
    assert "digits" in BUILTIN_DATASETS
    assert set(BUILTIN_SHAPES) == set(BUILTIN_DATASETS)  # known without loading them
    assert BUILTIN_SHAPES["digits"] == ((1, 28, 28), train.num_classes)


def _write_idx_set(folder: Path, digits, *, gz: bool) -> None:
    x, y = digits
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    for split, sl in (("train", slice(0, 100)), ("t10k", slice(100, 120))):
        write_idx(folder / f"{split}-images-idx3-ubyte{ext}", x[sl], gz=gz)
        write_idx(folder / f"{split}-labels-idx1-ubyte{ext}", y[sl], gz=gz)


@pytest.mark.parametrize(
    ("name", "layout", "gz"),
    [
        ("fashion-mnist", "", True),  # flat in data_dir
        ("fashion-mnist", "fashion-mnist", True),  # data_dir/<name>/
        ("mnist", "MNIST/raw", False),  # torchvision's layout, extracted
        ("fashion_mnist", "FashionMNIST/raw", True),
    ],
)
def test_builtin_offline_idx_layouts(tmp_path: Path, digits, name, layout, gz) -> None:
    _write_idx_set(tmp_path / layout if layout else tmp_path, digits, gz=gz)
    train, test = load_builtin(name, tmp_path, download=False)
    assert test is not None
    assert (train.num_samples, test.num_samples) == (100, 20)
    np.testing.assert_array_equal(train.x[..., 0], digits[0][:100])
    np.testing.assert_array_equal(test.y, digits[1][100:])
    assert train.num_classes == 10
    if "fashion" in name:
        assert train.classes[0] == "T-shirt/top" and train.name == "fashion-mnist"


def test_builtin_offline_missing_files(tmp_path: Path, digits) -> None:
    _write_idx_set(tmp_path, digits, gz=True)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError) as err:
        load_builtin("fashion-mnist", tmp_path, download=False)
    message = str(err.value)
    assert str(tmp_path) in message and "t10k-labels-idx1-ubyte.gz" in message
    assert "download=True" in message


def test_builtin_cifar10_offline_missing(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as err:
        load_builtin("CIFAR-10", tmp_path, download=False)
    assert "cifar-10-batches-py" in str(err.value) and str(tmp_path) in str(err.value)


def test_builtin_unknown_name() -> None:
    with pytest.raises(DatasetError, match="unknown builtin dataset 'imagenet'"):
        load_builtin("imagenet")


def test_zip_with_windows_separators(tmp_path: Path, digits) -> None:
    x, _ = digits
    members = {"top\\a\\1.png": png_bytes(x[0]), "top\\b\\2.png": png_bytes(x[1])}
    data = load_file(write_zip(tmp_path / "win.zip", members))
    assert data.classes == ("a", "b")
    np.testing.assert_array_equal(data.x[1, ..., 0], x[1])
