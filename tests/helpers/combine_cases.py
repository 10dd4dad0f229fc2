"""Stacks and case matrices shared by the combine tests (Numba twin and host-compiled CUDA)."""

import numpy as np
from gpudriz.fallback import combine as fc

SHAPE = (9, 11)  # (ny, nx)
NS = (1, 2, 3, 4, 5, fc.INSERTION_MAX + 1, 2 * fc.INSERTION_MAX + 3)
THRESHOLDS = ((None, None), (0.9, None), (None, 20.0), (0.9, 20.0))
# (2, 2) and (3, 4) leave fewer values than nlow + nhigh + 1 for small stacks.
NLOW_NHIGH = ((0, 0), (1, 0), (0, 1), (1, 2), (2, 2), (3, 4))
NSIGMAS = ((6.0, 3.0), (4.0, 1.0))
FILL = -7.5
SENTINEL = np.float32(-1.0e30)  # never produced: shows pixels left unwritten
LEFT_OUT = 3  # minmax: images counted in nimages beyond the stack (a mosaic tile's single images that miss it)
RTOL = 3e-7  # float32 rounding of the same float64 value, summed in another order


def make_stack(n, seed=0, shape=SHAPE):
    """Sky ~1 e-/s with scatter, cosmic-ray-like outliers, weights ~ exptime with holes.

    Planted: the pixel (0, 0) has zero weight in every image; NaN and inf data
    and a NaN weight in a few places.
    """
    rng = np.random.default_rng(seed)
    full = (n,) + shape
    sci = 1.0 + 0.2 * rng.standard_normal(full)
    hits = rng.random(full) < 0.2
    sci += hits * rng.uniform(0.3, 40.0, full)
    wht = rng.uniform(80.0, 120.0, full)
    wht[rng.random(full) < 0.1] *= 0.3  # below maskpt
    wht[rng.random(full) < 0.05] = 0.0
    wht[:, 0, 0] = 0.0
    sci[0, 2, 3] = np.nan
    sci[n - 1, 5, 6] = np.inf
    wht[n // 2, 4, 5] = np.nan
    return sci.astype(np.float32), wht.astype(np.float32)


def minmed_noise(n, seed=1):
    """Per-image exposure times (s), subtracted sky (e-) and read noise (e-)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(80.0, 120.0, n), rng.uniform(20.0, 60.0, n), rng.uniform(3.0, 6.0, n)


def weight_minimum(wht, mode):
    """``wht_min`` per image: 0 (drop zero weights only) or 0.7 x the mean positive weight."""
    if mode == "zero":
        return np.zeros(wht.shape[0], dtype=np.float32)
    out = []
    for w in wht:
        pos = w[np.isfinite(w) & (w > 0)]
        out.append(0.7 * pos.mean() if pos.size else 0.0)
    return np.asarray(out, dtype=np.float32)


def cases(combine_type):
    """Keyword sets of one combine type beyond thresholds and masks."""
    if combine_type in ("minmax", "average", "median", "sum"):
        return [dict(nlow=lo, nhigh=hi) for lo, hi in NLOW_NHIGH]
    if combine_type == "minmed":
        return [dict(nsigma=NSIGMAS[0], grow=g) for g in (0, 1, 2)] + [
            dict(nsigma=NSIGMAS[1], grow=1)
        ]
    return [dict()]


def matrix(combine_type, n):
    """Every case of one combine type for a stack of ``n`` images: ``(sci, wht, wht_min, kw)``.

    Both weight minima (zero, maskpt) x every pair of thresholds x :func:`cases`, with the
    per-image noise of minmed; minmax's cases again counting ``LEFT_OUT`` images that are not
    in the stack (``nimages``).
    """
    sci, wht = make_stack(n, seed=n)
    exptime, sky, rdnoise = minmed_noise(n)
    noise = dict(exptime=exptime, sky=sky, rdnoise=rdnoise) if combine_type == "minmed" else {}
    for mode in ("zero", "maskpt"):
        wht_min = weight_minimum(wht, mode)
        for lthresh, hthresh in THRESHOLDS:
            for kw in cases(combine_type):
                yield sci, wht, wht_min, dict(kw, lthresh=lthresh, hthresh=hthresh, **noise)
                if combine_type == "minmax":
                    yield sci, wht, wht_min, dict(kw, lthresh=lthresh, hthresh=hthresh, nimages=n + LEFT_OUT)
