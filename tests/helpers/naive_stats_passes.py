"""Slow, obviously correct twins of the clipped-statistics pixel passes (``fallback/stats.py``)."""

import math

import numpy as np


def sample(data, mask, lower, upper):
    """The sample's values in float64: finite, allowed by the mask, inside [lower, upper]."""
    v = np.asarray(data, dtype=np.float64).ravel()
    use = np.isfinite(v) & (v >= lower) & (v <= upper)
    if mask is not None:
        use &= np.asarray(mask).ravel() != 0
    return v[use]


def sample_moments(data, mask, lower, upper, ref):
    """``(n, sum(v - ref), sum((v - ref)**2), min, max)``; NaN min/max for an empty sample."""
    v = sample(data, mask, lower, upper)
    if v.size == 0:
        return 0, 0.0, 0.0, math.nan, math.nan
    d = v - ref
    return v.size, float(d.sum()), float((d * d).sum()), float(v.min()), float(v.max())


def window_histogram(data, mask, lower, upper, lo, width, nbins, ref):
    """Per-bin count, sum(v - ref), sum((v - ref)**2), bin ``floor((v - lo) / width)`` clamped."""
    v = sample(data, mask, lower, upper)
    b = np.clip(np.floor((v - lo) / width), 0, nbins - 1).astype(np.int64)
    d = v - ref
    counts = np.bincount(b, minlength=nbins)
    sums = np.bincount(b, weights=d, minlength=nbins)
    sumsq = np.bincount(b, weights=d * d, minlength=nbins)
    return counts, sums, sumsq
