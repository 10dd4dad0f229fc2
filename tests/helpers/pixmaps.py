"""Synthetic pixel maps and WCSs shared by the kernel and engine tests."""

import numpy as np
from astropy.wcs import WCS


def distorted_pixmap(shape, angle_deg=17.0, shift=(20.0, 5.0), quad=(1e-3, 5e-4), scale=1.0):
    """A rotation + shift + mild quadratic distortion, as a (ny, nx, 2) pixmap."""
    ny, nx = shape
    y, x = np.indices(shape, dtype=np.float64)
    th = np.deg2rad(angle_deg)
    xo = scale * (np.cos(th) * x - np.sin(th) * y) + shift[0] + quad[0] * x * x
    yo = scale * (np.sin(th) * x + np.cos(th) * y) + shift[1] + quad[1] * x * y
    return np.dstack([xo, yo])


def tan_wcs(crval=(10.0, 20.0), crpix=(50.0, 40.0), scale=0.1 / 3600, rot=0.0, shape=None):
    """A TAN WCS of ``scale`` deg per pixel rotated by ``rot`` degrees (``shape``: its pixel_shape)."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = list(crval)
    w.wcs.crpix = list(crpix)
    c, s = np.cos(np.deg2rad(rot)), np.sin(np.deg2rad(rot))
    w.wcs.cd = scale * np.array([[-c, s], [s, c]])
    if shape is not None:
        w.pixel_shape = shape[::-1]
    return w
