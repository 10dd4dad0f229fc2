"""Shared fixtures and helpers for gpudriz's tests."""

import sys
from pathlib import Path

import numpy as np
import pytest

TESTS_DIR = Path(__file__).resolve().parent
# The slow NumPy twins (naive_*.py) live beside the tests; importlib mode does
# not put this folder on sys.path by itself.
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

#: Real instrument WCS headers, in the shared folder beside the checkout.
WCS_DIR = TESTS_DIR.parents[1] / "shared" / "data" / "wcs"


@pytest.fixture(scope="session")
def wcs_dir():
    """Folder of the real WCS headers; the test is skipped where it is absent."""
    if not WCS_DIR.is_dir():
        pytest.skip(f"real WCS headers not found at {WCS_DIR}")
    return WCS_DIR


def distorted_pixmap(shape, angle_deg=17.0, shift=(20.0, 5.0), quad=(1e-3, 5e-4), scale=1.0):
    """A rotation + shift + mild quadratic distortion, as a (ny, nx, 2) pixmap."""
    ny, nx = shape
    y, x = np.indices(shape, dtype=np.float64)
    th = np.deg2rad(angle_deg)
    xo = scale * (np.cos(th) * x - np.sin(th) * y) + shift[0] + quad[0] * x * x
    yo = scale * (np.sin(th) * x + np.cos(th) * y) + shift[1] + quad[1] * x * y
    return np.dstack([xo, yo])
