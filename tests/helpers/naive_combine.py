"""Slow, obviously correct twin of the median step's combine (test oracle).

One pixel at a time: the good values go into a Python list, and the list is
combined with ``np.mean``, ``np.median``, ``sum`` or ``sorted`` slices, in
float64.  Written from the formulas (``algorithms.md``, "Median"; the rules
in ``fallback/combine.py``'s docstring), not from the kernels: no scratch
stack, no sorting network, no flag bits.
"""

import math

import numpy as np


def good_values(sci, wht, wht_min, lthresh, hthresh, j, i):
    """``[(image index, value, weight), ...]`` of the values that take part at pixel (j, i)."""
    out = []
    for k in range(sci.shape[0]):
        s = sci[k, j, i]
        w = wht[k, j, i]
        if not (np.isfinite(s) and np.isfinite(w)):
            continue
        if not w > wht_min[k]:
            continue
        if lthresh is not None and s < np.float32(lthresh):
            continue
        if hthresh is not None and s > np.float32(hthresh):
            continue
        out.append((k, float(s), float(w)))
    return out


def numcombine_kept(values, nlow, nhigh):
    """The sorted good values that average/median/sum use (numcombine's nlow/nhigh).

    The nlow lowest and nhigh highest are dropped; while that would leave
    nothing, both counts go down by one (each while positive).
    """
    nl, nh = nlow, nhigh
    while nl + nh >= len(values):
        nl, nh = max(nl - 1, 0), max(nh - 1, 0)
    return sorted(values)[nl : len(values) - nh]


def minmax_value(values, n, nlow, nhigh):
    """Mean after dropping the nl lowest / nh highest, counts scaled to the good values (IRAF).

    None when nothing is left.
    """
    m = len(values)
    nl = int(math.floor(nlow * m / n))
    nh = int(math.floor(nhigh * m / n))
    kept = sorted(values)[nl : m - nh]
    if not kept:
        return None
    return float(np.mean(kept))


def minmed_terms(good, exptime, sky, rdnoise):
    """``(MED, MIN, W, B, R2)`` of one pixel's good values; MED and MIN as float32 numbers."""
    values = [v for _, v, _ in good]
    m = len(values)
    if m == 1:
        med = values[0]
    elif m == 2:
        med = (values[0] + values[1]) / 2.0
    else:
        med = float(np.median(sorted(values)[:-1]))  # the single highest dropped
    w_tot = math.fsum(w for _, _, w in good)
    b_tot = math.fsum(w * sky[k] / exptime[k] for k, _, w in good)
    r2_tot = math.fsum(rdnoise[k] ** 2 for k, _, _ in good)
    return float(np.float32(med)), min(values), w_tot, b_tot, r2_tot


def minmed_tests(med, mn, w_tot, b_tot, r2_tot, nsigma):
    """``(take MIN at nsigma[0], take MIN at nsigma[1])`` of one pixel."""
    sigma = math.sqrt(max(med * w_tot + b_tot + r2_tot, 0.0))
    return tuple(mn * w_tot < med * w_tot - ns * sigma for ns in nsigma)


def combine(sci, wht, wht_min, combine_type, nlow=0, nhigh=0, lthresh=None, hthresh=None,
            exptime=None, sky=None, rdnoise=None, nsigma=(6.0, 3.0), grow=0, fill=0.0, nimages=None):  # fmt: skip
    """The combined image (float32) and, for minmed, ``(med, mn, test1, test2)`` (else None).

    ``test1`` / ``test2`` are boolean images of the nsigma tests (False where
    a pixel has no good value); ``med`` / ``mn`` hold ``fill`` there.
    """
    return combine_with_counts(sci, wht, wht_min, combine_type, nlow, nhigh, lthresh, hthresh,
                               exptime, sky, rdnoise, nsigma, grow, fill, nimages)[:2]  # fmt: skip


def combine_with_counts(sci, wht, wht_min, combine_type, nlow=0, nhigh=0, lthresh=None,
                        hthresh=None, exptime=None, sky=None, rdnoise=None, nsigma=(6.0, 3.0),
                        grow=0, fill=0.0, nimages=None):  # fmt: skip
    """As :func:`combine`, plus the (ny, nx) int32 image of each pixel's number of good values.

    ``nimages``: minmax's count of images (the stack's depth when None).
    """
    n, ny, nx = sci.shape
    exptime = np.ones(n) if exptime is None else np.asarray(exptime, dtype=np.float64)
    sky = np.zeros(n) if sky is None else np.asarray(sky, dtype=np.float64)
    rdnoise = np.zeros(n) if rdnoise is None else np.asarray(rdnoise, dtype=np.float64)
    out = np.full((ny, nx), fill, dtype=np.float64)
    med = np.full((ny, nx), fill, dtype=np.float64)
    mn = np.full((ny, nx), fill, dtype=np.float64)
    test1 = np.zeros((ny, nx), dtype=bool)
    test2 = np.zeros((ny, nx), dtype=bool)
    has = np.zeros((ny, nx), dtype=bool)
    counts = np.zeros((ny, nx), dtype=np.int32)
    for j in range(ny):
        for i in range(nx):
            good = good_values(sci, wht, wht_min, lthresh, hthresh, j, i)
            counts[j, i] = len(good)
            if not good:
                continue
            has[j, i] = True
            values = [v for _, v, _ in good]
            if combine_type == "average":
                out[j, i] = np.mean(numcombine_kept(values, nlow, nhigh))
            elif combine_type == "sum":
                out[j, i] = math.fsum(numcombine_kept(values, nlow, nhigh))
            elif combine_type == "median":
                out[j, i] = np.median(numcombine_kept(values, nlow, nhigh))
            elif combine_type == "minmax":
                v = minmax_value(values, n if nimages is None else nimages, nlow, nhigh)
                out[j, i] = fill if v is None else v
            elif combine_type == "minmed":
                md, lo, w_tot, b_tot, r2_tot = minmed_terms(good, exptime, sky, rdnoise)
                med[j, i], mn[j, i] = md, lo
                test1[j, i], test2[j, i] = minmed_tests(md, lo, w_tot, b_tot, r2_tot, nsigma)
            else:
                raise ValueError(f"unknown combine_type {combine_type!r}")
    if combine_type != "minmed":
        return out.astype(np.float32), None, counts
    for j in range(ny):
        for i in range(nx):
            if not has[j, i]:
                continue
            if grow == 0:
                take_min = test1[j, i]
            else:
                box = test1[max(j - grow, 0) : j + grow + 1, max(i - grow, 0) : i + grow + 1]
                take_min = bool(box.any()) and test2[j, i]
            out[j, i] = mn[j, i] if take_min else med[j, i]
    return out.astype(np.float32), (med, mn, test1, test2), counts
