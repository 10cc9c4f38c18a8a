"""One call from a dataset name or file to ready splits."""

from __future__ import annotations

from pathlib import Path

from .builtin import BUILTIN_DATASETS, builtin_name, load_builtin
from .canonical import is_canonical, load_canonical
from .dataset import DatasetError
from .formats import load_file_with_test
from .splits import Splits, make_splits


def prepare_data(
    source: str | Path,
    data_dir: str | Path | None = None,
    *,
    seed: int = 0,
    val_size: int | float | None = None,
    test_size: int | float | None = None,
    download: bool = True,
) -> Splits:
    """Splits of a builtin dataset (see BUILTIN_DATASETS) or of a dataset file: one of the
    upload formats, or one `canonical.save_canonical` wrote."""
    if isinstance(source, str) and builtin_name(source) is not None:
        train, test = load_builtin(source, data_dir, download=download)
    elif Path(source).expanduser().is_file():
        path = Path(source).expanduser()
        train, test = load_canonical(path) if is_canonical(path) else load_file_with_test(path)
    else:
        raise DatasetError(
            f"{str(source)!r} is neither a builtin dataset ({', '.join(BUILTIN_DATASETS)}) "
            "nor an existing file; give a builtin name or the path of a dataset file"
        )
    return make_splits(train, test, seed=seed, val_size=val_size, test_size=test_size)
