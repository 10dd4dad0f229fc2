"""Sigma-clipped statistics of an image, from a few pixel passes of the backend and a histogram.

The static mask (MultiDrizzle manual section 1.4, step 2) and the sky
(step 3) both need the clipped mean, sigma, median and histogram mode of a
chip.  :func:`clipped_stats` computes them with two operations of the
backend (``kernels/stats.cu`` and its Numba twin ``fallback/stats.py``):
``sample_moments`` (count, sums, minimum and maximum of a sample, one pass)
and ``window_histogram`` (per-bin counts and sums of a sample, one pass).
The pixels never leave the backend; only the moments and histograms (a few
hundred kilobytes) reach the host, where the clipping iterations run:

1. the moments of the whole sample;
2. a histogram of :data:`HIST_BINS` bins of the values inside the first
   clipping window (every later clipped sample lies inside it); the first
   iteration's sample and its moments are exact;
3. the later iterations on the histogram, a bin belonging to a window when
   its centre does: their samples are exact to within one bin of the
   window's edges (a bin is ``(lsigma + usigma) sigma / HIST_BINS``, about
   1e-4 sigma at 4 + 4 sigma); the final sample is the value range of the
   kept bins, and its moments, minimum and maximum come from one more pass;
4. the median by ranks in the histogram, linear inside its bin, refined by
   one more pass over that bin when the bin is wider than
   :data:`MEDIAN_BIN_SIGMA` sigma;
5. the mode from one more pass: the histogram of the final sample in bins of
   ``binwidth * sigma`` from its minimum, exactly as defined below.

So four to six passes over the pixels, whatever ``nclip``, where a pass per
iteration and a sort for the median were needed before.  Without clipping,
or where the first iteration rejects nothing, every statistic but the
median is exact, and the median is within a bin of :data:`HIST_BINS` over
the sample's range (refined as above).

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

import numpy as np

from gpudriz.backend.selection import get_backend
from gpudriz.backend.validate import optional_limit, positive_number

__all__ = ["ClippedStats", "clipped_stats", "stats_from_passes", "MAX_BINS", "HIST_BINS", "MEDIAN_BIN_SIGMA"]

#: Most histogram bins the mode may use.  A sample of N values has its
#: extremes within sqrt(N) sigma of its mean, so a sensible binwidth needs at
#: most 2*sqrt(N)/binwidth + 1 bins (about 1e5 for a 4k x 4k chip at 0.1);
#: more means a binwidth too small to be meant.
MAX_BINS = 1 << 22
#: Bins of the clipping histogram.
HIST_BINS = 1 << 16
#: The median's bin is refined by one more pass when wider than this many sigma.
MEDIAN_BIN_SIGMA = 1e-3


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
    backend=None,
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
        ``Backend.xp``): NumPy runs the passes on the CPU backend, CuPy on
        the CUDA backend, unless ``backend`` says otherwise.
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
    backend : str or Backend, optional
        The backend whose passes run (its arrays must be of module ``xp``).

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
    if backend is None:
        backend = "cpu" if xp is np else "cuda"
    ops = get_backend(backend).ops

    data = xp.asarray(values)
    if data.dtype not in (xp.float32, xp.float64):
        data = data.astype(xp.float64)
    good = None
    if mask is not None:
        mask = xp.asarray(mask)
        if mask.shape != data.shape:
            raise ValueError(
                f"'mask' has shape {tuple(mask.shape)}; expected the shape of the values {tuple(data.shape)}."
            )
        good = xp.ascontiguousarray(mask.astype(bool)).view(xp.uint8)
    lo = -math.inf if lower is None else lower
    hi = math.inf if upper is None else upper
    return ClippedStats(*stats_from_passes(ops, xp.ascontiguousarray(data), good, lo, hi, int(nclip), lsigma,
                                           usigma, binwidth))


def _bin_moments(counts, sums, sumsq, ref):
    """Count, mean and population sigma of the bins given (float64 sums about ``ref``)."""
    n = int(counts.sum())
    if n == 0:
        return 0, math.nan, math.nan
    s1 = float(sums.sum()) / n
    var = float(sumsq.sum()) / n - s1 * s1
    return n, ref + s1, math.sqrt(var) if var > 0.0 else 0.0


def _rank_value(counts, sums, sumsq, ref, lo, width, rank):
    """Value of the ``rank``-th (0-based) element of a histogram, and whether it is exact.

    Where the values of its bin are all equal (a bin holding one value, or repeats of one value:
    their spread is nil), their mean is the value itself; otherwise the value is interpolated
    linearly inside the bin.  Returns ``(value, exact, bin, count before the bin)``.
    """
    cum = np.cumsum(counts)
    b = int(np.searchsorted(cum, rank, side="right"))
    before = int(cum[b - 1]) if b > 0 else 0
    inside = int(counts[b])
    d = float(sums[b]) / inside
    spread = float(sumsq[b]) / inside - d * d
    if spread <= (1e-6 * width) ** 2:
        return ref + d, True, b, before
    return lo + (b + (rank - before + 0.5) / inside) * width, False, b, before


def _median(ops, data, mask, sel_lo, sel_hi, hist, ref, lo, width, sigma):
    """Median of the histogram's sample (``hist`` = counts, sums, sumsq from ``lo``), refined when needed."""
    counts, sums, sumsq = hist
    n = int(counts.sum())
    ranks = (n - 1) // 2, n // 2
    values = []
    for r in dict.fromkeys(ranks):
        v, exact, b, before = _rank_value(counts, sums, sumsq, ref, lo, width, r)
        if not exact and sigma > 0.0 and width > MEDIAN_BIN_SIGMA * sigma:
            # One more pass over the median's bin, in as many bins again.
            b_lo = max(lo + b * width, sel_lo)
            b_hi = min(lo + (b + 1) * width, sel_hi)
            fine_w = (b_hi - b_lo) / HIST_BINS
            if fine_w > 0.0:
                centre = 0.5 * (b_lo + b_hi)
                sub = ops.window_histogram(data, mask, b_lo, b_hi, b_lo, fine_w, HIST_BINS, centre)
                if int(sub[0].sum()) > r - before:
                    v, _, _, _ = _rank_value(*sub, centre, b_lo, fine_w, r - before)
        values.append(v)
    return values[0] if len(values) == 1 else 0.5 * (values[0] + values[1])


def _mode(ops, data, mask, sel_lo, sel_hi, vmin, vmax, width, ref):
    """Parabola-refined peak of the sample's histogram in bins of ``width`` from ``vmin``."""
    span = (vmax - vmin) / width
    if not span < MAX_BINS:
        raise ValueError(
            f"the histogram bin width {width:g} (bin width in sigma times sigma) is too small: "
            f"more than {MAX_BINS} bins would be needed to cover the sample's range {vmax - vmin:g}."
        )
    nbins = int(math.floor(span)) + 1
    counts, _, _ = ops.window_histogram(data, mask, sel_lo, sel_hi, vmin, width, nbins, ref)
    k = int(np.argmax(counts))
    if 0 < k < nbins - 1:
        left, peak, right = (float(c) for c in counts[k - 1:k + 2])
        curvature = left - 2.0 * peak + right
        shift = 0.5 * (left - right) / curvature if curvature != 0 else 0.0
    else:
        shift = 0.0
    return vmin + (k + 0.5 + shift) * width


def _histogram(ops, data, mask, sel_lo, sel_hi, lo, hi, ref):
    """:data:`HIST_BINS`-bin histogram of the sample in ``[sel_lo, sel_hi]`` over ``[lo, hi]``."""
    width = (hi - lo) / HIST_BINS if hi > lo else 1.0
    counts, sums, sumsq = ops.window_histogram(data, mask, sel_lo, sel_hi, lo, width, HIST_BINS, ref)
    return counts, sums, sumsq, width


def stats_from_passes(ops, data, mask, lower, upper, nclip, lsigma, usigma, binwidth):
    """Clipped ``(mean, sigma, median, mode, npix)`` of ``data`` through the backend's passes.

    Parameters
    ----------
    ops : backend operations
        With ``sample_moments(data, mask, lower, upper, ref)`` returning ``(n, s1, s2, min,
        max)`` and ``window_histogram(data, mask, lower, upper, lo, width, nbins, ref)``
        returning host arrays ``(counts, sums, sumsq)``.
    data : float32 or float64 array of the backend, C-contiguous
    mask : uint8 array of the backend or None
        Non-zero where a value may be used.
    lower, upper : float
        Inclusive limits of the sample (``-inf``/``inf`` for none).
    nclip : int
    lsigma, usigma, binwidth : float
        Checked by the caller (see :func:`gpudriz.pipeline.steps.stats.clipped_stats`).

    Returns
    -------
    tuple
        ``(mean, sigma, median, mode, npix)`` as Python numbers.
    """
    n, s1, s2, vmin, vmax = ops.sample_moments(data, mask, lower, upper, 0.0)
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan, 0
    mean, sigma = _mean_sigma(n, s1, s2, 0.0, vmin, vmax)
    if sigma == 0.0:
        # A constant sample: every statistic is its value (sigma = 0 gives mode = mean).
        return mean, 0.0, mean, mean, n
    hist_ref = mean  # the histograms' sums are about the whole sample's mean

    # Pass 2: the histogram of the first clipping window (of the whole sample without clipping).
    sel_lo, sel_hi = lower, upper
    if nclip > 0:
        sel_lo, sel_hi = max(lower, mean - lsigma * sigma), min(upper, mean + usigma * sigma)
    lo, hi = max(sel_lo, vmin), min(sel_hi, vmax)
    counts, sums, sumsq, width = _histogram(ops, data, mask, sel_lo, sel_hi, lo, hi, hist_ref)
    n1 = int(counts.sum())
    if nclip == 0 or n1 in (0, n):
        # No clipping, or the first iteration rejects nothing (or everything, which stops
        # clipping too): the whole sample, whose moments pass 1 gave exactly.
        if n1 != n:
            sel_lo, sel_hi, lo, hi = lower, upper, vmin, vmax
            counts, sums, sumsq, width = _histogram(ops, data, mask, lower, upper, lo, hi, hist_ref)
        npix, smin, smax = n, vmin, vmax
    else:
        # Iterations 2..nclip on the histogram: a bin is inside a window when its centre is.
        npix, c_mean, c_sigma = _bin_moments(counts, sums, sumsq, hist_ref)
        centres = lo + (np.arange(HIST_BINS) + 0.5) * width
        keep = counts > 0
        narrowed = False
        for _ in range(int(nclip) - 1):
            if c_sigma == 0.0:
                break
            inside = keep & (centres >= c_mean - lsigma * c_sigma) & (centres <= c_mean + usigma * c_sigma)
            m = int(counts[inside].sum())
            if m in (0, npix):
                break
            keep, narrowed = inside, True
            npix, c_mean, c_sigma = _bin_moments(counts[keep], sums[keep], sumsq[keep], hist_ref)
        if narrowed:
            # The final sample is the value range of the kept bins; without a later rejection it
            # stays the first window, exactly.
            used = np.flatnonzero(keep)
            sel_lo = max(sel_lo, lo + used[0] * width)
            sel_hi = min(sel_hi, lo + (used[-1] + 1) * width)
            counts = np.where(keep, counts, 0)
        # Pass 3: the final sample's exact moments, minimum and maximum.
        npix, s1, s2, smin, smax = ops.sample_moments(data, mask, sel_lo, sel_hi, c_mean)
        mean, sigma = _mean_sigma(npix, s1, s2, c_mean, smin, smax)
        if sigma == 0.0:
            return mean, 0.0, mean, mean, npix
    median = _median(ops, data, mask, sel_lo, sel_hi, (counts, sums, sumsq), hist_ref, lo, width, sigma)
    mode = _mode(ops, data, mask, sel_lo, sel_hi, smin, smax, binwidth * sigma, mean)
    return mean, sigma, median, mode, npix


def _mean_sigma(n, s1, s2, ref, vmin, vmax):
    """Mean and population sigma from sums about ``ref``; sigma is 0 for a constant sample."""
    if not vmax > vmin:
        return vmin, 0.0
    d = s1 / n
    var = s2 / n - d * d
    return ref + d, (math.sqrt(var) if var > 0.0 else 0.0)
