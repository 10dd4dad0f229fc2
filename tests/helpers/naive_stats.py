"""Slow, obviously correct twin of the clipped statistics, and a sky scene to measure them on."""

import math

import numpy as np

from gpudriz.pipeline.steps.stats import ClippedStats

#: Sky level and noise (e-) of :func:`sky_scene`.
SKY = 100.0
NOISE = 10.0

def naive_clipped_stats(values, mask=None, lower=None, upper=None, nclip=3, lsigma=3.0, usigma=3.0,
                        binwidth=0.1):
    """Slow, obviously correct twin of clipped_stats (host NumPy only)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    use = np.isfinite(v)
    if mask is not None:
        use &= np.asarray(mask, dtype=bool).ravel()
    if lower is not None:
        use &= v >= lower
    if upper is not None:
        use &= v <= upper
    v = v[use]
    if v.size == 0:
        return ClippedStats(math.nan, math.nan, math.nan, math.nan, 0)
    for _ in range(nclip):
        m, s = np.mean(v), np.std(v)
        inside = (v >= m - lsigma * s) & (v <= m + usigma * s)
        if inside.all() or not inside.any():
            break
        v = v[inside]
    mean, sigma, median = np.mean(v), np.std(v), np.median(v)
    if sigma == 0:
        return ClippedStats(mean, sigma, median, mean, v.size)
    width = binwidth * sigma
    nbins = int((v.max() - v.min()) // width) + 1
    counts, edges = np.histogram(v, bins=nbins, range=(v.min(), v.min() + nbins * width))
    k = int(np.argmax(counts))
    centres = 0.5 * (edges[:-1] + edges[1:])
    if 0 < k < nbins - 1:
        a, b, _ = np.polyfit(centres[k - 1:k + 2], counts[k - 1:k + 2].astype(float), 2)
        mode = -b / (2 * a)
    else:
        mode = centres[k]
    return ClippedStats(mean, sigma, median, mode, v.size)


def sky_scene(shape=(256, 256), *, sky=SKY, noise=NOISE, nstars=25, ncr=300, seed=1):
    """Gaussian noise on a flat sky, plus stars (Gaussian PSFs) and cosmic rays.

    Returns float32 data in electrons and the bool map of pixels the stars
    and cosmic rays raise by more than 0.1 noise sigma (the contaminated ones).
    """
    rng = np.random.default_rng(seed)
    ny, nx = shape
    clean = np.zeros(shape)
    y, x = np.mgrid[0:ny, 0:nx]
    for _ in range(nstars):
        x0, y0 = rng.uniform(5, nx - 5), rng.uniform(5, ny - 5)
        flux = 10 ** rng.uniform(2.5, 4.5)
        s = 1.2
        clean += flux / (2 * np.pi * s * s) * np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * s * s))
    cr_y = rng.integers(0, ny, ncr)
    cr_x = rng.integers(0, nx, ncr)
    clean[cr_y, cr_x] += rng.uniform(300, 5000, ncr)
    data = sky + clean + rng.normal(0.0, noise, shape)
    return data.astype(np.float32), clean > 0.1 * noise
