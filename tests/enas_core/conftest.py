"""The engine tests' fixtures (their shared helpers are in helpers.py)."""

import pytest

from enas_core.data import Splits, prepare_data


@pytest.fixture(scope="session")
def digits() -> Splits:
    """The bundled real MNIST digits, split 4,050 / 450 / 500."""
    return prepare_data("digits", seed=0)
