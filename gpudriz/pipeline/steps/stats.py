"""Sigma-clipped statistics of an image on the backend's array module.

The static mask (MultiDrizzle manual section 1.4, step 2) and the sky
(step 3) both need the clipped mean, sigma, median and histogram mode of a
chip.  These are reductions, not per-pixel kernels, so they are written with
array-module calls only and run unchanged on NumPy (``xp = numpy``) and on
the device (``xp = cupy``): the pixels never leave the array module; only
the scalars of the result and a few loop-control counts reach the host.

Array-module functions used, each checked to exist with NumPy's semantics
in CuPy (docs.cupy.dev reference): ``asarray``, ``isfinite``,
``count_nonzero`` (CuPy returns a 0-d array, hence the ``int(...)``),
``sum`` (``dtype=float64``), ``sqrt``, ``median``, ``floor``, ``minimum``,
``bincount`` (``minlength``), ``argmax``, ``arange``, ``clip``, ``take``,
``where``, and boolean-mask indexing.

Definitions (algorithms.md, "Static mask" and "Sky"):

- The sample is every finite value that the mask allows and that lies in
  ``[lower, upper]`` (both inclusive), in float64.
- Each of at most ``nclip`` iterations keeps the values of the current
  sample within ``[mean - lsigma*sigma, mean + usigma*sigma]`` of the
  current sample; it stops early when an iteration rejects nothing.  An
  iteration that would reject every value is not applied (clipping stops).
- ``sigma`` is the population standard deviation (divisor N), summed in
  float64 in two passes (mean first) so that a constant sample gives exactly
  ``sigma = 0``.
- ``median`` is the median of the final sample (mean of the two middle
  values for an even count).
- ``mode``: histogram of the final sample with bins of width
  ``binwidth * sigma`` starting at its minimum; the peak bin (the first of
  equal peaks) is refined by the vertex of the parabola through its count
  and its two neighbours' counts.  A peak in the first or last bin gives
  the centre of the peak bin.
- Edge cases: an empty sample gives NaN for every statistic and
  ``npix = 0``; ``sigma = 0`` gives ``mode = mean``.
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

from gpudriz.backend.validate import optional_limit, positive_number

__all__ = ["ClippedStats", "clipped_stats", "MAX_BINS"]

#: Most histogram bins the mode may use.  A sample of N values has its
#: extremes within sqrt(N) sigma of its mean, so a sensible binwidth needs at
#: most 2*sqrt(N)/binwidth + 1 bins (about 1e5 for a 4k x 4k chip at 0.1);
#: more means a binwidth too small to be meant.
MAX_BINS = 1 << 22


class ClippedStats(NamedTuple):
    """Statistics of a sigma-clipped sample (see :func:`clipped_stats`).

    Attributes
    ----------
    mean, sigma, median, mode : float
        Of the clipped sample; NaN when it is empty.
    npix : int
        Number of values in the clipped sample.
    """

    mean: float
    sigma: float
    median: float
    mode: float
    npix: int


def _mean_sigma(v, xp):
    """Mean and population sigma of a non-empty float64 sample, as 0-d arrays."""
    n = v.size
    mean = xp.sum(v, dtype=xp.float64) / n
    d = v - mean
    sigma = xp.sqrt(xp.sum(d * d, dtype=xp.float64) / n)
    return mean, sigma


def _histogram_mode(v, vmin: float, vmax: float, width: float, xp):
    """Parabola-refined peak of the histogram of ``v`` in bins of ``width`` from ``vmin``.

    Returns a 0-d array.  Bin indices come from ``floor((v - vmin) / width)``
    and ``bincount`` rather than ``xp.histogram``, so that NumPy and CuPy
    put a value on a bin edge in the same bin.
    """
    span = (vmax - vmin) / width
    if not span < MAX_BINS:
        raise ValueError(
            f"the histogram bin width {width:g} (bin width in sigma times sigma) is too small: "
            f"more than {MAX_BINS} bins would be needed to cover the sample's range {vmax - vmin:g}."
        )
    nbins = int(math.floor(span)) + 1
    idx = xp.minimum(xp.floor((v - vmin) / width), nbins - 1).astype(xp.int64)
    counts = xp.bincount(idx, minlength=nbins)
    k = xp.argmax(counts)
    around = xp.take(counts, xp.clip(k + xp.arange(-1, 2), 0, nbins - 1)).astype(xp.float64)
    left, peak, right = around[0], around[1], around[2]
    curvature = left - 2.0 * peak + right
    # argmax returns the first of equal peaks, so an interior peak is above
    # its left neighbour and the curvature is negative; the test guards the
    # division only.  The peak count is >= both neighbours, so the vertex
    # lies within half a bin of the peak bin's centre.
    usable = (k > 0) & (k < nbins - 1) & (curvature != 0)
    shift = xp.where(usable, 0.5 * (left - right) / xp.where(usable, curvature, 1.0), 0.0)
    return vmin + (k + 0.5 + shift) * width


def clipped_stats(
    values,
    *,
    xp,
    mask=None,
    lower=None,
    upper=None,
    nclip=3,
    lsigma=3.0,
    usigma=3.0,
    binwidth=0.1,
) -> ClippedStats:
    """Sigma-clipped mean, sigma, median and histogram mode of an array.

    The clipped statistics of the static mask and sky steps of the
    MultiDrizzle manual (section 1.4, steps 2 and 3); the exact definitions
    are in this module's docstring.

    Parameters
    ----------
    values : array of ``xp``
        The data, any shape and real dtype; NaN and infinite values are
        left out.
    xp : module
        The array module of ``values`` (``numpy`` or ``cupy``; a backend's
        ``Backend.xp``).
    mask : bool array of ``xp``, optional
        Same shape as ``values``; True where a value may be used (the
        gpudriz convention: True = good).  None uses every value.
    lower, upper : float, optional
        Values below ``lower`` or above ``upper`` are left out (in the units
        of ``values``); None means no limit.
    nclip : int
        Most clipping iterations (0: no clipping).
    lsigma, usigma : float
        Clipping limits below and above the mean, in sigma.
    binwidth : float
        Histogram bin width of the mode, in sigma.

    Returns
    -------
    ClippedStats
        Python floats (and the int ``npix``) on the host.

    Raises
    ------
    ValueError
        If a parameter is out of range, ``mask`` has another shape than
        ``values``, ``lower > upper``, or ``binwidth`` would need more than
        :data:`MAX_BINS` histogram bins.
    """
    if isinstance(nclip, bool) or not isinstance(nclip, numbers.Integral) or nclip < 0:
        raise ValueError(f"'nclip' must be a non-negative integer; got {nclip!r}.")
    lsigma = positive_number(lsigma, "lsigma")
    usigma = positive_number(usigma, "usigma")
    binwidth = positive_number(binwidth, "binwidth")
    lower = optional_limit(lower, "lower")
    upper = optional_limit(upper, "upper")
    if lower is not None and upper is not None and lower > upper:
        raise ValueError(f"'lower' ({lower:g}) must not be above 'upper' ({upper:g}).")

    data = xp.asarray(values, dtype=xp.float64)
    keep = xp.isfinite(data)
    if mask is not None:
        mask = xp.asarray(mask)
        if mask.shape != data.shape:
            raise ValueError(
                f"'mask' has shape {tuple(mask.shape)}; expected the shape of the values {tuple(data.shape)}."
            )
        keep &= mask.astype(bool)
    if lower is not None:
        keep &= data >= lower
    if upper is not None:
        keep &= data <= upper
    v = data[keep]
    if v.size == 0:
        nan = float("nan")
        return ClippedStats(nan, nan, nan, nan, 0)

    mean, sigma = _mean_sigma(v, xp)
    for _ in range(int(nclip)):
        inside = (v >= mean - lsigma * sigma) & (v <= mean + usigma * sigma)
        n = int(xp.count_nonzero(inside))
        if n == v.size or n == 0:
            break
        v = v[inside]
        mean, sigma = _mean_sigma(v, xp)

    mean_f = float(mean)
    sigma_f = float(sigma)
    median_f = float(xp.median(v))
    if sigma_f > 0.0:
        mode_f = float(_histogram_mode(v, float(v.min()), float(v.max()), binwidth * sigma_f, xp))
    else:
        mode_f = mean_f
    return ClippedStats(mean_f, sigma_f, median_f, mode_f, int(v.size))
