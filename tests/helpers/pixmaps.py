"""Synthetic pixel maps and WCSs shared by the kernel and engine tests."""

import warnings
from pathlib import Path

import astropy
import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning


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


def dist_lookup_wcs():
    """astropy's test header with SIP, D2IM and NPOL tables (ACS/WFC-like: a 4096 px D2IM row,
    65x33 NPOL tables every 64 px), as shipped in astropy's package; skips the test without it."""
    path = Path(astropy.__file__).parent / "wcs" / "tests" / "data" / "dist_lookup.fits.gz"
    if not path.exists():
        pytest.skip(f"{path} is not in this astropy installation")
    with fits.open(path) as hdul, warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        return WCS(hdul[1].header, hdul)
