"""Chips and parameter pairs shared by the driz_cr tests (Numba twin and host-compiled CUDA)."""

import numpy as np

SHAPE = (14, 17)  # (ny, nx)
#: (snr, scale): the manual's defaults, tighter ones, a pure noise test, and a
#: second pass stricter than the first (so bad1 is not a subset of bad2).
PAIRS = [
    ((3.0, 2.5), (1.2, 0.7)),
    ((2.0, 1.0), (0.5, 0.3)),
    ((3.5, 3.0), (0.0, 0.0)),
    ((1.0, 4.0), (0.2, 1.5)),
]
PAIR_IDS = ["default", "tight", "noise-only", "second-stricter"]
SENTINEL = 7  # never written by the kernels (they write 0 or 1)


def star(shape, x0, y0, flux, sigma=1.3):
    y, x = np.indices(shape, dtype=np.float64)
    return flux * np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma**2))


def make_chip(seed=0, shape=SHAPE):
    """``(data, blot, rdnoise)`` in electrons: sky + star, noise, cosmic rays, NaNs.

    Planted: cosmic rays at two corners, on an edge and a 2-pixel one inside;
    NaN data at one of them, NaN blot pixels inside and on an edge; two
    amplifiers (left/right halves) with different read noise.
    """
    rng = np.random.default_rng(seed)
    ny, nx = shape
    blot = 200.0 + star(shape, 8.3, 6.6, 5000.0) + 3.0 * rng.standard_normal(shape)
    data = blot + rng.normal(0.0, 1.0, shape) * np.sqrt(blot + 25.0)
    for j, i, amp in ((0, 0, 400.0), (ny - 1, nx - 1, 300.0), (5, 0, 250.0), (10, 3, 500.0),
                      (10, 4, 120.0), (3, 12, 90.0), (2, 2, 1000.0)):  # fmt: skip
        data[j, i] += amp
    data[2, 2] = np.nan  # a cosmic ray under a NaN: not tested
    blot[11, 12] = np.nan
    blot[0, 7] = np.nan
    rdnoise = np.where(np.arange(nx) < nx // 2, 5.0, 3.5) * np.ones(shape)
    return tuple(np.ascontiguousarray(a, dtype=np.float32) for a in (data, blot, rdnoise))


def median_variance(blot, factor=0.4):
    """A variance of the blot ~ ``factor`` x its photon + read noise, with one NaN."""
    var = factor * (np.abs(np.nan_to_num(blot)) + 25.0)
    var[4, 9] = np.nan  # not flagged there: its noise is unknown
    return np.ascontiguousarray(var, dtype=np.float32)


def good_mask(shape=SHAPE, seed=3):
    good = (np.random.default_rng(seed).random(shape) > 0.1).astype(np.uint8)
    good[10, 4] = 0  # next to the 2-pixel cosmic ray
    return good


STEP_PIXELS = [(0, 0), (0, 6), (5, 0), (13, 16), (13, 9), (7, 16), (6, 8)]


def step_chip(q, shape=SHAPE):
    """A flat blot with one pixel ``q`` raised by 200, and data 151 above the blot everywhere.

    With rn = 0 the noise is 10 (17.3 at ``q``), so a pixel passes the first
    test (1.2 deriv + 3 noise < 151) exactly when its derivative is 0, i.e.
    unless it is ``q`` or one of ``q``'s 4-neighbours inside the image.
    """
    blot = np.full(shape, 100.0, np.float32)
    blot[q] = 300.0
    return blot + np.float32(151.0), blot, np.zeros(shape, np.float32)
