"""What the two drizzle drivers compute on the host, in one place so they cannot drift.

The Numba driver (:func:`gpudriz.backend.cpu.drizzle_add`) and the CUDA
driver (:func:`gpudriz.backend.cuda.drizzle.drizzle_add`) launch different
kernels on the same inputs; everything they decide before a launch is here:

- the scalar parameters, rounded to float32 as cdrizzle keeps them
  (:func:`drizzle_params`), with the kernel's reach and its Lanczos table;
- the non-finite rules: a pixmap node with a NaN or infinite coordinate is
  unmapped (the kernels skip NaN nodes; :func:`finite_pixmap` makes infinite
  ones NaN), so only the drops whose corners or centre need it are skipped; a pixel with a non-finite
  variance contributes nothing (:func:`fold_nonfinite_variance`);
- the output box of a band of input rows, from statistics of its pixmap
  nodes that each driver reduces its own way (:func:`footprint_box`).

Works on NumPy and CuPy arrays alike (``xp``); nothing here imports CuPy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gpudriz.fallback.drizzle import (
    FWHM_SIGMA,
    GAUSSIAN_NSIG,
    KERNEL_CODES,
    lanczos_lut,
)

__all__ = [
    "DrizzleParams",
    "drizzle_params",
    "finite_pixmap",
    "fold_nonfinite_variance",
    "may_have_negative_weights",
    "footprint_box",
    "reduce_moments",
]


@dataclass(frozen=True)
class DrizzleParams:
    """The kernels' scalar parameters, as both drivers pass them.

    Attributes
    ----------
    kcode : int
        Kernel code (:data:`gpudriz.fallback.drizzle.KERNEL_CODES`).
    pf, s, iscale, iscale2, wht_scale : float
        pixfrac, pixel-scale ratio, data scale, its square and the weight
        scale, each a float32 value (cdrizzle's precision, for identical windows).
    h, reach : float
        Half-size of a square drop (its corners are bilinear in the nodes)
        and the half-width of a centred kernel's window, in output pixels.
    lut : ndarray of float64
        Lanczos table of the kernel's order; one zero for the other kernels.
    """

    kcode: int
    pf: float
    s: float
    iscale: float
    iscale2: float
    wht_scale: float
    h: float
    reach: float
    lut: np.ndarray


def _reach(kernel, pf, s):
    """``(h, reach)`` of a kernel: how far its writes extend beyond the mapped nodes."""
    if kernel == "square":
        return 0.5 * pf, 0.0
    if kernel == "point":
        return 0.0, 0.5
    if kernel in ("lanczos2", "lanczos3"):
        return 0.0, (2.0 if kernel == "lanczos2" else 3.0) / s
    if kernel == "gaussian":
        return 0.0, max(GAUSSIAN_NSIG * pf / FWHM_SIGMA / s, 1.2 / s)
    return 0.0, pf / s / 2.0  # turbo, tophat


def drizzle_params(kernel, pixfrac, pscale_ratio, iscale, wht_scale):
    """The :class:`DrizzleParams` of one ``drizzle_add`` call.

    Parameters
    ----------
    kernel : str
        One of :data:`gpudriz.fallback.drizzle.KERNEL_NAMES`.
    pixfrac, pscale_ratio, iscale, wht_scale : float
        As given to ``drizzle_add``.
    """
    pf = float(np.float32(pixfrac))
    s = float(np.float32(pscale_ratio))
    iscale32 = np.float32(iscale)
    h, reach = _reach(kernel, pf, s)
    if kernel in ("lanczos2", "lanczos3"):
        lut = lanczos_lut(2 if kernel == "lanczos2" else 3)
    else:
        lut = np.zeros(1, dtype=np.float64)
    return DrizzleParams(
        kcode=KERNEL_CODES[kernel],
        pf=pf,
        s=s,
        iscale=float(iscale32),
        iscale2=float(iscale32 * iscale32),
        wht_scale=float(np.float32(wht_scale)),
        h=h,
        reach=reach,
        lut=lut,
    )


def finite_pixmap(pixmap, xp):
    """The pixmap with every node that has an infinite coordinate set to (NaN, NaN).

    The kernels treat a node with a NaN in either coordinate as unmapped
    (they test nodes, corners and centres for NaN); an infinite node would
    pass that test and spread inf/NaN through the overlaps, and would make a
    band's footprint infinite.  As NaN it is simply unmapped.  Returns
    ``pixmap`` itself (no copy) when no coordinate is infinite.
    """
    inf = xp.isinf(pixmap)
    if not bool(inf.any()):
        return pixmap
    bad = inf.any(axis=2)
    return xp.ascontiguousarray(xp.where(bad[..., None], xp.nan, pixmap), dtype=xp.float64)


def fold_nonfinite_variance(weights, data2, xp):
    """Weights with NaN where any ``data2`` plane is NaN/inf (the pixel then contributes nothing).

    The kernels check one value per pixel, not ``n2``.  Returns ``weights``
    itself when there is nothing to fold.
    """
    if data2 is None or data2.shape[0] == 0 or bool(xp.isfinite(data2).all()):
        return weights
    folded = xp.where(xp.isfinite(data2).all(axis=0), weights, xp.float32(xp.nan))
    return xp.ascontiguousarray(folded, dtype=xp.float32)


def may_have_negative_weights(params, weights, xp):
    """Whether a contribution's weight can be negative (Lanczos lobes or negative weights).

    Then context needs its own "some weight > 0" flag per output pixel.
    """
    lanczos = params.kcode in (KERNEL_CODES["lanczos2"], KERNEL_CODES["lanczos3"])
    return lanczos or bool((weights < 0).any())


def footprint_box(xlo, xhi, ylo, yhi, step, params, out_nx, out_ny):
    """Output box ``(ii0, ii1, jj0, jj1)`` holding every write of a band of input rows.

    Parameters
    ----------
    xlo, xhi, ylo, yhi : float
        Range of the band's mapped nodes (its rows, the row on each side and
        the column on each side of the input box), over nodes that are not NaN
        (after :func:`finite_pixmap` every other node is finite).
        ``xlo > xhi`` when there is none.
    step : float
        Largest ``|dx| + |dy|`` between two neighbouring such nodes.
    params : DrizzleParams
    out_nx, out_ny : int
        Output size.

    Returns
    -------
    tuple of int or None
        None when the band can write nothing.

    Notes
    -----
    Square corners are bilinear in the nodes, within ``h`` of a node cell,
    so they lie at most ``(2h + 2h^2) * step`` outside the nodes' range;
    centred kernels reach their window's half-width.  The kernels clip every
    window to this box, so a write never leaves its band's buffer.
    """
    if not xlo <= xhi or not math.isfinite(step):
        return None
    m = (2.0 * params.h + 2.0 * params.h * params.h) * step + params.reach + 1.0
    ii0 = max(int(math.floor(xlo - m)), 0)
    ii1 = min(int(math.ceil(xhi + m)), out_nx - 1)
    jj0 = max(int(math.floor(ylo - m)), 0)
    jj1 = min(int(math.ceil(yhi + m)), out_ny - 1)
    if ii0 > ii1 or jj0 > jj1:
        return None
    return ii0, ii1, jj0, jj1


def reduce_moments(partials):
    """``(n, s1, s2, min, max)`` of the clipped-statistics sample from per-chunk partials.

    Parameters
    ----------
    partials : ndarray (k, 5) of float64, NumPy or CuPy
        Rows of count, sum(v - ref), sum((v - ref)**2), min, max, as the moments passes write
        them (:func:`gpudriz.fallback.stats.sample_moments`, ``kernels/stats.cu``); the
        min/max of a row without values are ignored.
    """
    n = float(partials[:, 0].sum())
    if n == 0:
        return 0, 0.0, 0.0, math.nan, math.nan
    some = partials[partials[:, 0] > 0]
    sums = partials[:, 1:3].sum(axis=0)
    return (int(n), float(sums[0]), float(sums[1]), float(some[:, 3].min()), float(some[:, 4].max()))

