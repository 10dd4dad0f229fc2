"""Numba twin of ``kernels/stats.cu``: the pixel passes of the clipped statistics.

The static mask and the sky (MultiDrizzle manual section 1.4, steps 2 and 3)
need the sigma-clipped mean, sigma, median and histogram mode of a chip.
Clipping by repeated passes over the pixels costs a pass per iteration and a
sort for the median; here the pixels are read twice in all, and everything
else works on a histogram of a few hundred thousand bins
(:mod:`gpudriz.pipeline.steps.stats` does that part on the host):

1. :func:`sample_moments`: over the *sample* (finite values, allowed by the
   mask, inside ``[lower, upper]``), the count, the sums of ``v - ref`` and
   ``(v - ref)**2`` and the minimum and maximum, one partial per chunk of
   the flat array (``partials[c] = n, s1, s2, min, max``).  ``ref`` is a
   value near the mean (the caller's guess), so that the float64 sums do not
   cancel.
2. :func:`window_histogram`: over the values of a sample (the caller narrows
   ``[lower, upper]`` to the first clipping window, inside which every later
   clipped sample lies), per bin of ``width`` from ``lo`` the count and the
   sums of ``v - ref`` and ``(v - ref)**2``, one histogram per chunk.  Bin
   ``floor((v - lo) / width)`` clamped to the first and last bins, the rule
   of the mode's histogram in the NumPy definition.

Every comparison is made in float64 on ``float64(v)``, as the NumPy
definition of :func:`gpudriz.pipeline.steps.stats.clipped_stats` does.  The
CUDA twin accumulates one partial per thread (moments) and atomically into
one histogram, so the two agree to float64 rounding of the sums, and exactly
in the counts.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["sample_moments", "window_histogram", "MOMENT_FIELDS"]

#: min of a partial without values (and minus its max): the largest double, as the CUDA twin.
EMPTY_MIN = 1.7976931348623157e308

#: Columns of a moments partial: count, sum(v - ref), sum((v - ref)**2), min, max.
MOMENT_FIELDS = ("n", "s1", "s2", "min", "max")


@njit(cache=True, nogil=True, inline="always")
def _in_sample(v, i, mask, use_mask, lower, upper):
    # float64 comparisons, the NumPy definition's: a NaN fails both.
    if not math.isfinite(v):
        return False
    if use_mask and mask[i] == 0:
        return False
    return v >= lower and v <= upper


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def sample_moments(data, mask, use_mask, lower, upper, ref, partials):
    """Moments of the sample, one row of ``partials`` per chunk of ``data``.

    Parameters
    ----------
    data : float32 array, 1-D (a chip, raveled)
    mask : uint8 array, 1-D
        Non-zero where a value may be used; read only when ``use_mask``.
    use_mask : bool
    lower, upper : float
        Inclusive limits of the sample (``-inf``/``inf`` for none).
    ref : float
        Offset subtracted before summing.
    partials : float64 array (nchunks, 5), written
        Per chunk: count, sum(v - ref), sum((v - ref)**2), min, max
        (:data:`EMPTY_MIN` and its negative for a chunk without values).
    """
    n = data.size
    nch = partials.shape[0]
    for c in prange(nch):
        start = c * n // nch
        stop = (c + 1) * n // nch
        cnt = 0.0
        s1 = 0.0
        s2 = 0.0
        vmin = EMPTY_MIN
        vmax = -EMPTY_MIN
        for i in range(start, stop):
            v = np.float64(data[i])
            if not _in_sample(v, i, mask, use_mask, lower, upper):
                continue
            d = v - ref
            cnt += 1.0
            s1 += d
            s2 += d * d
            vmin = min(vmin, v)
            vmax = max(vmax, v)
        partials[c, 0] = cnt
        partials[c, 1] = s1
        partials[c, 2] = s2
        partials[c, 3] = vmin
        partials[c, 4] = vmax


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def window_histogram(data, mask, use_mask, lower, upper, lo, width, ref, counts, sums, sumsq):
    """Histogram of the sample's values in bins of ``width`` from ``lo``, one per chunk of ``data``.

    Parameters
    ----------
    data, mask, use_mask, lower, upper, ref
        As :func:`sample_moments`.
    lo, width : float
        Lower edge of the first bin and the bin width (``width > 0``); values
        below the first bin go in it, values above the last in the last.
    counts : int64 array (nchunks, nbins), written
    sums, sumsq : float64 arrays (nchunks, nbins), written
        Per chunk and bin: the count, sum(v - ref) and sum((v - ref)**2).
    """
    n = data.size
    nch, nbins = counts.shape
    for c in prange(nch):
        counts[c, :] = 0
        sums[c, :] = 0.0
        sumsq[c, :] = 0.0
        start = c * n // nch
        stop = (c + 1) * n // nch
        for i in range(start, stop):
            v = np.float64(data[i])
            if not _in_sample(v, i, mask, use_mask, lower, upper):
                continue
            b = int(math.floor((v - lo) / width))
            b = min(max(b, 0), nbins - 1)
            d = v - ref
            counts[c, b] += 1
            sums[c, b] += d
            sumsq[c, b] += d * d
