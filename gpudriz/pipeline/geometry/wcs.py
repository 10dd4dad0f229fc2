"""Celestial WCS from FITS headers, the linear part of a chip's WCS, and WCS corrections.

Exposures (:mod:`gpudriz.pipeline.io.instruments`), reference images
(:mod:`gpudriz.pipeline.geometry.outframe`, ``refimage``), shift-file
references (:mod:`gpudriz.pipeline.geometry.shiftfile`) and coefficients files
(:mod:`gpudriz.pipeline.geometry.distortion`) all turn a header into an
astropy WCS the same way: lookup tables read from the open file, astropy's
"fixed keyword" warnings silenced, and a failure reported as one
:class:`~gpudriz.pipeline.io.fits.InputError` sentence naming the file.
:func:`corrected_wcs` applies an affine correction of reference pixels (a
shift file's line) to a chip's WCS.
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
from astropy.wcs import WCS, FITSFixedWarning

from gpudriz.pipeline.io.fits import InputError, reason

__all__ = [
    "parse_wcs",
    "celestial_wcs",
    "linear_wcs",
    "corrected_wcs",
    "pixel_to_world",
    "world_to_pixel",
]

log = logging.getLogger("gpudriz")

# Largest departure (pixels) of a corrected chip WCS from the formula before a warning.
_FIT_TOL = 1e-3


def parse_wcs(header, fobj, what: str, *, model: str = "WCS") -> WCS:
    """The WCS of ``header``, its lookup tables read from the open file ``fobj``.

    Parameters
    ----------
    header : astropy.io.fits.Header
        The header holding the WCS keywords.
    fobj : astropy.io.fits.HDUList
        The open file, for the ``WCSDVARR`` / ``D2IMARR`` extensions.
    what : str
        How to name the header in the error (``"'x.fits' SCI,1"``).
    model : str, optional
        What the header holds, for the error (``"WCS"``, ``"distortion model"``).

    Returns
    -------
    astropy.wcs.WCS

    Raises
    ------
    InputError
        ``"<what> has an unusable <model> (<astropy's reason>)."``
    """
    with warnings.catch_warnings():
        # HST headers carry keywords astropy "fixes" (dates, RADECSYS, NAXIS=0 images); harmless here
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            return WCS(header, fobj=fobj)
        except Exception as exc:  # astropy raises ValueError, KeyError, MemoryError... on bad headers
            raise InputError(f"{what} has an unusable {model} ({reason(exc)}).") from None


def celestial_wcs(header, fobj, what: str, shape) -> WCS:
    """The 2-D celestial WCS of an image ``header`` of ``shape`` ``(ny, nx)``.

    Parameters
    ----------
    header, fobj, what
        As for :func:`parse_wcs`.
    shape : tuple of int
        ``(ny, nx)`` of the image; it becomes the WCS's ``pixel_shape``.

    Returns
    -------
    astropy.wcs.WCS

    Raises
    ------
    InputError
        If the WCS cannot be parsed, or is not a 2-D celestial one.
    """
    w = parse_wcs(header, fobj, what)
    if w.naxis != 2 or not w.has_celestial:
        ctypes = ", ".join(repr(c) for c in w.wcs.ctype) or "none"
        raise InputError(f"{what} has no celestial WCS (CTYPE: {ctypes}); expected e.g. RA---TAN, DEC--TAN.")
    w.pixel_shape = (shape[1], shape[0])
    return w


def linear_wcs(w: WCS) -> WCS:
    """A copy of ``w`` with only its linear part: no SIP, no lookup tables, no ``-SIP`` CTYPE.

    Parameters
    ----------
    w : astropy.wcs.WCS
        A chip's WCS, distortion included.

    Returns
    -------
    astropy.wcs.WCS
        CRPIX, CRVAL, CD (or PC and CDELT) and projection of ``w``; its
        ``pixel_shape`` is kept.
    """
    lin = w.deepcopy()
    lin.sip = None
    lin.cpdis1 = lin.cpdis2 = None
    lin.det2im1 = lin.det2im2 = None
    # With SIP gone, "-SIP" would announce a model that is not there.
    lin.wcs.ctype = [c[:-4] if c.upper().endswith("-SIP") else c for c in lin.wcs.ctype]
    lin.wcs.set()
    return lin


def corrected_wcs(w: WCS, ref: WCS, matrix, offset, *, name: str = "chip") -> WCS:
    """``w`` corrected by the affine map ``X -> matrix @ X + offset`` of reference pixels.

    Parameters
    ----------
    w : astropy.wcs.WCS
        A chip's WCS (distortion kept as it is).
    ref : astropy.wcs.WCS
        The reference frame.
    matrix : array_like, shape (2, 2)
    offset : array_like, shape (2,)
        The correction in 0-based reference pixels.
    name : str, optional
        For the log.

    Returns
    -------
    astropy.wcs.WCS
        A copy with CRVAL and CD (or PC) replaced.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    offset = np.asarray(offset, dtype=np.float64)

    def correct(lon, lat):
        x, y = world_to_pixel(ref, lon, lat)
        xy = matrix @ np.vstack([x, y]) + offset[:, None]
        return pixel_to_world(ref, xy[0], xy[1])

    lin = linear_wcs(w)
    crpix = np.asarray(lin.wcs.crpix, dtype=np.float64) - 1.0
    px, py = _fit_grid(w, crpix)
    lon, lat = correct(*pixel_to_world(lin, px, py))
    crval_lon, crval_lat = correct(*pixel_to_world(lin, crpix[:1], crpix[1:]))
    plane = _tangent_plane(lin, float(crval_lon[0]), float(crval_lat[0]))
    xi, eta = plane.wcs_world2pix(*_world_args(plane, lon, lat), 1)
    design = np.column_stack([px - crpix[0], py - crpix[1]])
    target = np.column_stack([xi, eta])
    cd_t = np.linalg.lstsq(design, target, rcond=None)[0]
    cd = cd_t.T
    residual = float(np.max(np.abs(design @ cd_t - target)))
    scale = math.sqrt(abs(np.linalg.det(cd)))
    if residual / scale > _FIT_TOL:
        log.warning("shiftfile: %s: the corrected WCS departs from the correction by %.3g px.",
                    name, residual / scale)  # fmt: skip
    out = w.deepcopy()
    crval = [0.0, 0.0]
    crval[out.wcs.lng], crval[out.wcs.lat] = float(crval_lon[0]), float(crval_lat[0])
    out.wcs.crval = crval
    if out.wcs.has_cd():
        out.wcs.cd = cd
    else:
        out.wcs.pc = cd / np.asarray(out.wcs.cdelt, dtype=np.float64)[:, None]
    out.wcs.set()
    out.pixel_shape = w.pixel_shape
    return out


def _fit_grid(w, crpix):
    """A 9 x 9 grid of 0-based pixel positions over the chip and a margin for its distortion."""
    nx, ny = w.pixel_shape if w.pixel_shape is not None else (2.0 * crpix[0] + 1.0, 2.0 * crpix[1] + 1.0)
    mx, my = max(16.0, 0.1 * nx), max(16.0, 0.1 * ny)
    gx, gy = np.meshgrid(np.linspace(-mx, nx - 1 + mx, 9), np.linspace(-my, ny - 1 + my, 9))
    return gx.ravel(), gy.ravel()


def _tangent_plane(lin, lon0, lat0) -> WCS:
    """A WCS whose 1-based pixel coordinates are the intermediate world coordinates (deg) about (lon0, lat0)."""
    t = WCS(naxis=2)
    t.wcs.ctype = list(lin.wcs.ctype)
    crval = [0.0, 0.0]
    crval[lin.wcs.lng], crval[lin.wcs.lat] = lon0, lat0
    t.wcs.crval = crval
    t.wcs.crpix = [0.0, 0.0]
    t.wcs.cd = np.eye(2)
    t.wcs.lonpole = lin.wcs.lonpole
    t.wcs.set()
    return t


def _world_args(w, lon, lat):
    # The world axes in the WCS's own order (longitude first or not).
    args = [None, None]
    args[w.wcs.lng], args[w.wcs.lat] = lon, lat
    return args


def pixel_to_world(w, x, y):
    """Longitudes and latitudes (deg, float64) of the 0-based pixel positions ``x``, ``y``."""
    world = w.pixel_to_world_values(x, y)
    return np.asarray(world[w.wcs.lng], dtype=np.float64), np.asarray(world[w.wcs.lat], dtype=np.float64)


def world_to_pixel(w, lon, lat):
    """0-based pixel positions (float64) of the longitudes and latitudes ``lon``, ``lat`` (deg)."""
    x, y = w.world_to_pixel_values(*_world_args(w, lon, lat))
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
