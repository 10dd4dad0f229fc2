"""Blot: resample an image onto a distorted grid by interpolation.

The public :func:`blot_image` validates its arguments and hands the work to
the backend's ``blot`` operation (:mod:`gpudriz.fallback.blot` on the CPU,
the ``blot_kernel`` of ``kernels/blot.cu`` on the GPU).
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from gpudriz.backend import get_backend
from gpudriz.backend.arrays import copy_into, is_device_array, to_device, to_host, to_xp
from gpudriz.backend.validate import real_array, real_number

__all__ = ["blot_image", "INTERPOLANTS"]

INTERPOLANTS = ("nearest", "linear", "poly3", "poly5", "sinc", "lanczos3", "lanczos5")

# drizzle 3.x still accepts these names with a DeprecationWarning; so do we.
_DEPRECATED_INTERP = {"lan3": "lanczos3", "lan5": "lanczos5"}


def _check_interp(interp):
    """Return the canonical interpolant name for ``interp``."""
    if not isinstance(interp, str):
        raise TypeError(f"interp must be a string, got {type(interp).__name__}.")
    name = interp.strip().lower()
    if name in _DEPRECATED_INTERP:
        new = _DEPRECATED_INTERP[name]
        warnings.warn(
            f"interp {interp!r} is deprecated and will be removed in a future release; "
            f"use {new!r} instead.",
            DeprecationWarning,
            stacklevel=3,
        )
        return new
    if name not in INTERPOLANTS:
        raise ValueError(
            f"interp must be one of {', '.join(map(repr, INTERPOLANTS))}, got {interp!r}."
        )
    return name


def _check_fillval(fillval):
    """``fillval`` as a float, or an error unless it is finite or NaN."""
    if isinstance(fillval, bool) or not isinstance(fillval, numbers.Real):
        raise TypeError(f"fillval must be a real number or NaN, got {type(fillval).__name__}.")
    fillval = float(fillval)
    if math.isinf(fillval):
        raise ValueError(f"fillval must be a finite number or NaN, got {fillval!r}.")
    return fillval


def _check_out_img(out_img, shape):
    """Validate a user-supplied output array of ``shape``."""
    is_array = isinstance(out_img, np.ndarray) or is_device_array(out_img)
    if not is_array or out_img.dtype != np.float32:
        got = out_img.dtype if is_array else type(out_img).__name__
        raise TypeError(f"out_img must be a NumPy or CuPy array of dtype float32, got {got}.")
    if out_img.shape != shape:
        # Led by drizzle 3.x's words for the same check.
        raise ValueError(
            "'output_image' shape is not consistent with 'pixmap' shape: out_img must have "
            f"the shape {shape} of pixmap.shape[:2], got {out_img.shape}."
        )
    if not out_img.flags.writeable:
        raise ValueError("out_img must be writeable.")


def blot_image(
    data,
    pixmap,
    out_img=None,
    fillval=0.0,
    iscale=1.0,
    interp="poly5",
    sinscl=1.0,
    backend=None,
):
    """Resample ``data`` at the positions given by ``pixmap`` ("blot").

    Blotting is the inverse of drizzling: the combined (median) image is
    interpolated back onto the distorted grid of each input exposure so that
    it can be compared with that exposure to find cosmic rays (Fruchter &
    Hook 2002, PASP 114, 144; MultiDrizzle manual, section 6 "Blotting Median
    Image").  Unlike drizzle this is an interpolation: it does not conserve
    flux.

    Parameters
    ----------
    data : array_like, shape (ny_in, nx_in)
        Image to interpolate, real numbers (used as float32).  Not modified.
        NaN/inf values are allowed: an output pixel is non-finite when its
        interpolant reads a non-finite pixel anywhere in its window (mirror
        pixels used for edge reflection and taps of zero weight included;
        ``nearest`` reads one pixel, ``linear`` up to 4, ``poly3`` 16,
        ``poly5`` 36).
    pixmap : array_like, shape (ny, nx, 2)
        For each output pixel, the ``(x, y)`` position in ``data``'s 0-based
        pixel frame (pixel centres at integers), as in ``drizzle``.
    out_img : ndarray of float32, shape (ny, nx), optional
        Output array (NumPy or CuPy), written in place and returned.  A new
        float32 array is allocated when None: a CuPy array if ``data`` is
        one, else a NumPy array (whatever the backend computes on).
    fillval : float, optional
        Value of output pixels whose position lies outside the image
        (``x < 0``, ``x >= nx_in``, likewise in y) or is NaN/inf.  A finite
        number or NaN.
    iscale : float, optional
        Positive factor multiplying every interpolated value (e.g. exposure
        time divided by the pixel-area ratio).
    interp : str, optional
        Interpolant:

        - ``"nearest"``: nearest pixel (index clamped to the image);
        - ``"linear"``: bilinear (1-D along the last row/column, as cdrizzle);
        - ``"poly3"``, ``"poly5"`` (default): IRAF interior polynomials on
          4x4 / 6x6 windows, values beyond the edges reflected through the
          edge pixel (``f(-k) = 2 f(0) - f(k)``), so a constant image is
          reproduced;
        - ``"sinc"``: normalised sinc of scale ``sinscl`` pixels tapered by a
          Lanczos window of half-width ``3 * sinscl`` (see
          :func:`gpudriz.fallback.blot.blot_sinc`), reflected edges;
        - ``"lanczos3"``, ``"lanczos5"``: cdrizzle's look-up-table Lanczos
          (not normalised, window clipped at the edges).

        ``"lan3"`` and ``"lan5"`` are deprecated aliases of the Lanczos names.
    sinscl : float, optional
        Scale (in input pixels) of the sinc kernel, MultiDrizzle's
        ``blot_sinscl``; used only by ``"sinc"``.  Values below 1 make the
        kernel narrower than a pixel and the interpolation ill-conditioned.
    backend : {"auto", "cpu", "cuda"}, Backend or None, optional
        Engine to use; see :func:`gpudriz.get_backend`.

    Returns
    -------
    out_img : ndarray of float32, shape (ny, nx)
        The blotted image (``out_img`` itself when given): NumPy in, NumPy
        out; CuPy in, CuPy out.

    Raises
    ------
    TypeError
        If an argument has the wrong type (complex or non-numeric ``data``,
        ``out_img`` not float32, ...).
    ValueError
        If a shape or value is not acceptable (unknown ``interp``,
        non-positive ``iscale``, ...); the message names the parameter.

    Notes
    -----
    Differences from ``drizzle.resample.blot_image`` (3.0): positions are not
    rounded to float32; a NaN pixmap entry fills that pixel instead of
    raising; nearest does not read past the last row/column; poly3/poly5
    reflect correctly at every edge; ``"sinc"`` exists.  Away from the edges
    the results agree to float32 rounding.
    """
    interp = _check_interp(interp)
    data = real_array(data, "data", ndim=2)
    pixmap = real_array(pixmap, "pixmap")
    if pixmap.ndim != 3 or pixmap.shape[2] != 2:
        raise ValueError(f"pixmap must have shape (ny, nx, 2), got {pixmap.shape}.")
    out_shape = pixmap.shape[:2]
    if out_img is not None:
        _check_out_img(out_img, out_shape)
    fillval = _check_fillval(fillval)
    iscale = real_number(iscale, "iscale", positive=True)
    sinscl = real_number(sinscl, "sinscl", positive=True)

    be = get_backend(backend)
    xp = be.xp
    device_io = is_device_array(data) if out_img is None else is_device_array(out_img)
    # Copies are made only when needed: the inputs are never written to.
    data32 = to_xp(data, xp, np.float32)
    pixmap64 = to_xp(pixmap, xp, np.float64)
    # Compute straight into the caller's array when it is on the backend and
    # contiguous; else into a new array, copied to out_img at the end.
    usable = (
        out_img is not None
        and (is_device_array(out_img) == (xp is not np))
        and out_img.flags.c_contiguous
    )
    if not usable:
        be.ops.check_memory(out_shape[0] * out_shape[1] * 4, f"the {out_shape} blot output")
    out = out_img if usable else xp.empty(out_shape, dtype=np.float32)
    # The kernel reads data/pixmap while writing out: never let them alias.
    if xp.may_share_memory(out, data32):
        data32 = data32.copy()
    if xp.may_share_memory(out, pixmap64):
        pixmap64 = pixmap64.copy()
    be.ops.blot(data32, pixmap64, out, interp, fillval, iscale, sinscl)
    if out_img is None:
        return to_device(out) if device_io else to_host(out)
    if out is not out_img:
        copy_into(out_img, out)
    return out_img
