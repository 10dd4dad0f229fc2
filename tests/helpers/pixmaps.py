"""Synthetic pixel maps shared by the kernel and engine tests."""

import numpy as np


def distorted_pixmap(shape, angle_deg=17.0, shift=(20.0, 5.0), quad=(1e-3, 5e-4), scale=1.0):
    """A rotation + shift + mild quadratic distortion, as a (ny, nx, 2) pixmap."""
    ny, nx = shape
    y, x = np.indices(shape, dtype=np.float64)
    th = np.deg2rad(angle_deg)
    xo = scale * (np.cos(th) * x - np.sin(th) * y) + shift[0] + quad[0] * x * x
    yo = scale * (np.sin(th) * x + np.cos(th) * y) + shift[1] + quad[1] * x * y
    return np.dstack([xo, yo])
