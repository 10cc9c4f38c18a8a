"""`enas example-data`: a real-digits upload file from the bundled sample."""

from __future__ import annotations

import numpy as np

from enas_core.cli import main
from enas_core.data.formats import load_file_with_test


def test_example_data_writes_a_valid_upload(tmp_path, capsys):
    path = tmp_path / "digits.npz"
    assert main(["example-data", str(path), "--samples", "200"]) == 0
    assert capsys.readouterr().out == f"written: {path} (200 digits, 28x28, 10 classes)\n"
    with np.load(path) as npz:
        assert npz["x"].shape == (200, 28, 28) and npz["x"].dtype == np.uint8
        assert npz["y"].dtype == np.int64 and set(npz["y"]) == set(range(10))
    train, _ = load_file_with_test(path)
    assert train.summary()["num_samples"] == 200
