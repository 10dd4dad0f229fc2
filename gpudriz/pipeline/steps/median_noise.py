"""The noise of ``D - B`` in driz_cr: what the blotted median adds to it.

driz_cr compares each input chip ``D`` with the median blotted back to it,
``B``; the test needs the noise of ``D - B``:

    ``var(D - B) = var(D) + var(B) - 2 cov(D, B)``.

The median of ``m`` noisy images is itself noisy (``var(B) > 0``), and ``D``
is one of those images, so ``B`` follows ``D``'s own noise a little
(``cov(D, B) > 0``).  For white noise of variance ``s2`` in every input
(electrons, ``s2 = |B| + rn**2`` with the sky in ``B`` once):

* the combine statistic of ``m`` independent values (median after
  ``nlow``/``nhigh``, average, minmed's MED, ...) has variance
  ``f(m) s2`` (:func:`statistic_variance`: 0.449 for the median of 3, 0.36
  for four values with the highest dropped, ``pi / (2 m)`` for the median of
  many), and for normal noise its covariance with each input is exactly
  ``s2 / m`` (the statistic minus the mean is independent of the mean);
* drizzling onto the separate frame and blotting back is a linear smoothing
  ``K`` of each input, which scales the first term by ``v = sum K**2`` and
  the second by ``K0``, the weight of the pixel itself.  Both are measured
  for each chip by drizzling and blotting a patch of white noise through the
  chip's own pixmap, kernel, pixfrac and interpolant
  (:func:`measure_drizzle_blot_kernel`); :func:`drizzle_blot_kernel` gives
  them in closed form for the square kernel and a linear blot.

So ``var(D - B) = s2 (1 + v f(m) - 2 K0 / m)``: with four images, the median
dropping the highest, the square (or turbo) kernel at pixfrac 1 and equal
pixel sizes, ``1 + 0.284 x 0.357 - 2 x 0.444 / 4 = 0.88``.  The median's
noise is more than cancelled by its correlation with ``D``; AstroDrizzle,
which counts the sky twice, takes ``var(D - B)`` to be 1.5-2 times
``var(D)`` on typical ACS data.  :func:`median_term_table` gives the second
and third terms, which driz_cr adds to ``var(D)``.  Derivation and the check
against the scatter of ``D - B`` measured on the demo data are in
``docs/pipeline.md`` ("driz_cr noise").

Approximations: ``v f(m)`` is exact for a mean of values of equal variance;
the singles at one pixel of the separate frame have different variances
(the two pointings of a dither sit at different sub-pixel phases), which
makes the median noisier; and ``var(D)`` is not quite ``|B| + rn**2`` (a
flat field, a gain or read noise slightly off).  On the synthetic ACS data
the model alone predicts ``var(D - B)`` 2-23% low, depending on the chip.
So driz_cr measures, on each chip, the scale of the whole model from the
data (:func:`noise_scale`): the clipped variance of ``(D - B) / model`` over
the chip's sky, cosmic rays clipped away.  The model gives each pixel's noise relative
to the others (where fewer images cover, near sources); the chip's own
``D - B`` sets its level.
"""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist

import numpy as np

from gpudriz.backend.arrays import to_host
from gpudriz.blot import blot_image
from gpudriz.pipeline.steps.order_statistics import order_statistic_median_variance
from gpudriz.resample import Drizzle

__all__ = [
    "drizzle_blot_kernel",
    "measure_drizzle_blot_kernel",
    "median_term_table",
    "noise_scale",
    "statistic_variance",
    "statistic_variances",
]

#: Side of the patch of white noise that :func:`measure_drizzle_blot_kernel`
#: pushes through a chip's geometry, and the margin left out of the
#: statistics (drops near its edge see a partial neighbourhood).
PROBE_SIZE = 136
PROBE_MARGIN = 8

#: The median and minmed get their variance by quadrature
#: (:mod:`gpudriz.pipeline.steps.order_statistics`, ~1 ms a value) for stacks of
#: up to this many good values, the asymptotic order-statistic variance for
#: larger ones (0.5% above the exact value at 257, less beyond).
QUADRATURE_MAX = 256
#: minmax's trimmed mean is simulated (:data:`DRAWS` seeded draws) for stacks of up
#: to this many good values, and taken as the mean's variance for larger ones.
SIMULATED_MAX = 64
DRAWS = 40_000
_SEED = 20021  # fixed: the table is the same in every run


def _kept(m, nlow, nhigh):
    """numcombine's ``(nl, nh)`` for ``m`` good values (see ``fallback/combine.py``)."""
    nl, nh = nlow, nhigh
    while nl + nh >= m:
        nl, nh = max(nl - 1, 0), max(nh - 1, 0)
    return nl, nh


def _statistic(x, combine_type, nlow, nhigh, n):
    """The combine statistic of each row of the sorted sample ``x`` (draws, m)."""
    m = x.shape[1]
    if combine_type == "minmed":
        if m <= 2:
            return x.mean(axis=1)
        return np.median(x[:, : m - 1], axis=1)  # the single highest value dropped
    if combine_type == "minmax":
        nl, nh = (nlow * m) // n, (nhigh * m) // n
        if m - nl - nh < 1:
            return None
        return x[:, nl : m - nh].mean(axis=1)
    nl, nh = _kept(m, nlow, nhigh)
    kept = x[:, nl : m - nh]
    if combine_type == "median":
        return np.median(kept, axis=1)
    if combine_type == "average":
        return kept.mean(axis=1)
    return kept.sum(axis=1)  # sum


def _asymptotic(combine_type, m, nlow, nhigh, n):
    """Large-``m`` variance: an order statistic at quantile q has q(1-q) / (m phi(z_q)^2)."""
    if combine_type == "minmed":
        nl, nh = 0, 1
    elif combine_type == "minmax":
        nl, nh = (nlow * m) // n, (nhigh * m) // n
    else:
        nl, nh = _kept(m, nlow, nhigh)
    k = m - nl - nh
    if combine_type in ("average", "minmax"):
        return 1.0 / k  # trimming a few of many values hardly changes the mean's variance
    if combine_type == "sum":
        return float(k)
    q = (nl + 0.5 * k) / m
    z = NormalDist().inv_cdf(q)
    phi = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return q * (1.0 - q) / (m * phi * phi)


@lru_cache(maxsize=4096)
def statistic_variance(combine_type, m, nlow=0, nhigh=0, n=None):
    """Variance of the combine statistic of ``m`` independent N(0, 1) values.

    Parameters
    ----------
    combine_type : {"median", "average", "sum", "minmed", "minmax"}
        The median step's ``combine_type``.
    m : int
        Number of good values at the pixel (>= 1).
    nlow, nhigh : int
        ``combine_nlow`` / ``combine_nhigh`` (numcombine's rule for median,
        average and sum; scaled counts of ``n`` for minmax; minmed ignores
        them).
    n : int, optional
        Number of images (minmax scales its counts with ``m / n``); default
        ``m``.

    Returns
    -------
    float
        The variance in units of one value's variance; 0 where minmax keeps
        nothing (the pixel gets the fill value).
    """
    n = m if n is None else n
    if m < 1:
        return 0.0
    if combine_type in ("average", "sum"):
        nl, nh = _kept(m, nlow, nhigh)
        k = m - nl - nh  # the mean of k values, or their sum: exact (order does not matter)
        return 1.0 / k if combine_type == "average" else float(k)
    if combine_type == "minmed" and m <= QUADRATURE_MAX:  # the median of the lowest m - 1 (of both when m <= 2)
        return order_statistic_median_variance(m, 0, m - 1 if m > 2 else m)
    if combine_type == "median" and m <= QUADRATURE_MAX:
        nl, nh = _kept(m, nlow, nhigh)
        return order_statistic_median_variance(m, nl, m - nl - nh)
    if combine_type != "minmax" or m > SIMULATED_MAX:
        return _asymptotic(combine_type, m, nlow, nhigh, n)
    rng = np.random.default_rng(_SEED + m)
    x = np.sort(rng.standard_normal((DRAWS, m)), axis=1)
    stat = _statistic(x, combine_type, nlow, nhigh, n)
    return 0.0 if stat is None else float(stat.var())


def _kernel_1d(pixfrac, scale, phases=128):
    """1-D ``(mean sum K_k**2, mean K_0)`` of drizzling then linearly blotting a unit input.

    Input pixels are centred on integers, with drops of width ``pixfrac``;
    the output pixels have width ``scale`` (input pixels) and a sub-pixel
    phase, over which the means are taken.  Output pixel q's value is the
    overlap-weighted mean of the drops; the blot at input pixel 0 is the
    linear interpolation of the output values there; ``K_k`` is the weight of
    input pixel ``k`` in that blotted value.
    """
    reach = int(math.ceil(2.0 * scale + pixfrac)) + 2
    q = np.arange(-reach, reach + 1)
    k = np.arange(-2 * reach - 2, 2 * reach + 3)
    half = 0.5 * pixfrac
    v = k0 = 0.0
    for phase in (np.arange(phases) + 0.5) / phases:
        centre = (q + phase) * scale
        lo, hi = centre - 0.5 * scale, centre + 0.5 * scale
        overlap = np.minimum(hi[:, None], k[None, :] + half) - np.maximum(lo[:, None], k[None, :] - half)
        a = np.clip(overlap, 0.0, None)
        total = a.sum(axis=1)
        a = a / np.where(total > 0, total, 1.0)[:, None]
        c = np.clip(1.0 - np.abs(-phase - q), 0.0, None)  # input pixel 0 sits at q = -phase
        kern = c @ a
        v += float((kern * kern).sum())
        k0 += float(kern[k == 0][0])
    return v / phases, k0 / phases


@lru_cache(maxsize=256)
def drizzle_blot_kernel(kernel, pixfrac, scale):
    """``(v, K0)`` of drizzling white noise onto the separate frame and blotting it back.

    ``v`` is the variance of the blotted image over that of its input and
    ``K0`` the weight that each input pixel keeps in its own blotted value
    (see the module docstring).  Computed for the square and turbo kernels
    (drops of side ``pixfrac`` on output pixels of side ``scale``, both in
    input pixels, separable in x and y, averaged over sub-pixel phases);
    other kernels get the values of the square kernel at the same pixfrac.

    Parameters
    ----------
    kernel : str
        The separate drizzle's kernel (``driz_sep_kernel``).
    pixfrac : float
        Its pixfrac (``driz_sep_pixfrac``); a point-like 0.001 or less counts
        as 0.001.
    scale : float
        Output pixel size over the chip's undistorted pixel size.

    Returns
    -------
    (float, float)
    """
    del kernel  # the square kernel's geometry stands for every kernel
    v1, k1 = _kernel_1d(max(float(pixfrac), 1e-3), float(scale))
    return v1 * v1, k1 * k1


def measure_drizzle_blot_kernel(pixmap, *, kernel, pixfrac, pixel_scale_ratio, interp,
                                sinscl=1.0, backend=None):  # fmt: skip
    """``(v, K0)`` of one chip, measured by drizzling and blotting white noise through its geometry.

    A :data:`PROBE_SIZE` square of unit white noise at the centre of the chip
    is drizzled onto a small frame through that part of ``pixmap`` (kernel,
    pixfrac, scale as the separate drizzle), blotted back through the same
    pixmap (``interp`` as the blot step), and compared with itself away from
    the patch's edge: ``v`` is the variance of the blot, ``K0`` its
    covariance with the noise (both in units of the noise's variance).  The
    noise is seeded, so the result is the same in every run.  Where the
    patch cannot be used (a chip smaller than the margins, non-finite
    pixmap), the closed form :func:`drizzle_blot_kernel` is returned.

    Parameters
    ----------
    pixmap : array_like, shape (ny, nx, 2)
        The chip's pixmap into the separate frame (host or device).
    kernel, pixfrac, pixel_scale_ratio
        The separate drizzle's kernel, pixfrac and output over input pixel size.
    interp, sinscl
        The blot's interpolant.
    backend : str or Backend, optional
        Where to run the drizzle and the blot.

    Returns
    -------
    (float, float)
    """
    ny, nx = pixmap.shape[:2]
    h, w = min(PROBE_SIZE, ny), min(PROBE_SIZE, nx)
    if min(h, w) <= 4 * PROBE_MARGIN:
        return drizzle_blot_kernel(kernel, pixfrac, pixel_scale_ratio)
    y0, x0 = (ny - h) // 2, (nx - w) // 2
    patch = np.array(to_host(pixmap[y0 : y0 + h, x0 : x0 + w]), dtype=np.float64)
    if not np.isfinite(patch).all():
        return drizzle_blot_kernel(kernel, pixfrac, pixel_scale_ratio)
    origin = np.floor(patch.reshape(-1, 2).min(axis=0)) - 4.0
    patch -= origin
    out_nx, out_ny = (np.ceil(patch.reshape(-1, 2).max(axis=0)) + 5.0).astype(int)
    noise = np.random.default_rng(_SEED).standard_normal((h, w)).astype(np.float32)
    d = Drizzle(kernel=kernel, out_shape=(int(out_ny), int(out_nx)), fillval=0.0,
                disable_ctx=True, backend=backend)  # fmt: skip
    d.add_image(noise, exptime=1.0, pixmap=patch, pixfrac=pixfrac, in_units="cps",
                pixel_scale_ratio=pixel_scale_ratio)  # fmt: skip
    blotted = to_host(blot_image(d.out_img, patch, interp=interp, sinscl=sinscl, backend=backend))
    inner = (slice(PROBE_MARGIN, h - PROBE_MARGIN), slice(PROBE_MARGIN, w - PROBE_MARGIN))
    a = noise[inner].astype(np.float64)
    b = np.asarray(blotted, dtype=np.float64)[inner]
    var_a = float(np.mean(a * a))
    return float(np.mean(b * b)) / var_a, float(np.mean(a * b)) / var_a


def statistic_variances(combine_type, n, nlow, nhigh) -> np.ndarray:
    """``f(m)`` = :func:`statistic_variance` of ``m`` values of ``n`` images, for ``m = 0 .. n`` (float64).

    A fraction of a second (cached per process afterwards), but for minmax:
    about 2 s of simulation for ``n`` >= :data:`SIMULATED_MAX`.  The mosaic
    mode makes it once per run and sends it to every blot task.  For every
    ``combine_type`` but minmax, ``f(m)`` does not depend on ``n``: the
    vector for a larger ``n`` starts with this one.
    """
    f = np.zeros(n + 1, dtype=np.float64)
    for m in range(1, n + 1):
        f[m] = statistic_variance(combine_type, m, nlow, nhigh, n)
    return f


def median_term_table(combine_type, n, nlow, nhigh, v, k0, variances=None):
    """``table[m] = v f(m) - 2 K0 / m`` for ``m = 0 .. n`` (float32; 0 for ``m = 0``).

    Multiplied by the chip's ``var(D)``, the value for a pixel's number of
    good values ``m`` is what the blotted median adds to ``var(D - B)``
    (negative where its correlation with ``D`` outweighs its own noise).
    ``variances``: ``f`` already computed (:func:`statistic_variances` of the
    same arguments); computed here when None.
    """
    f = statistic_variances(combine_type, n, nlow, nhigh) if variances is None else np.asarray(variances)
    if f.shape != (n + 1,):
        raise ValueError(f"median_term_table: variances for {f.shape[0] - 1} images given, {n} needed.")
    m = np.arange(n + 1)
    table = np.zeros(n + 1, dtype=np.float64)
    table[1:] = v * f[1:] - 2.0 * k0 / m[1:]
    return table.astype(np.float32)


def _truncated_second_moment(clip):
    """``E[z**2 | |z| < clip]`` for a standard normal ``z``."""
    phi = math.exp(-0.5 * clip * clip) / math.sqrt(2.0 * math.pi)
    inside = 2.0 * NormalDist().cdf(clip) - 1.0
    return 1.0 - 2.0 * clip * phi / inside


#: The median of a chi-squared variable with one degree of freedom: the
#: starting point of :func:`noise_scale`'s clipping.
_CHI2_1_MEDIAN = 0.45493642311957283


def noise_scale(data, blot, variance, xp=np, *, clip=4.0, iterations=4, max_pixels=1 << 21):
    """Measured ``var(D - B) / variance`` of one chip: the level of driz_cr's noise model.

    The clipped second moment of ``(data - blot) / sqrt(variance)`` over the
    chip's sky: finite pixels whose blot is within 3 sigma of the chip's
    median blot (sources, whose residuals are not noise, are left out),
    corrected for the clipping of a Gaussian: cosmic rays and hot pixels lie
    far out and are clipped away; what remains is the noise.  Starts from the median of
    ``z**2`` (robust), then ``iterations`` passes keep ``|z| < clip``
    times the current scale.  At most ``max_pixels`` evenly strided pixels
    are used.

    Parameters
    ----------
    data, blot, variance : arrays of the same shape, on ``xp``
        ``D``, ``B`` (both with the sky) and the model variance of ``D - B``.
    xp : module
        The arrays' array module.

    Returns
    -------
    float
        ``c**2``, to multiply ``variance`` by; 1.0 where fewer than 100
        pixels are usable.
    """
    step = max(1, int(data.size // max_pixels))
    d = data.ravel()[::step]
    b = blot.ravel()[::step]
    v = variance.ravel()[::step]
    ok = xp.isfinite(d) & xp.isfinite(b) & xp.isfinite(v) & (v > 0)
    if int(ok.sum()) < 100:
        return 1.0
    level = xp.median(b[ok])
    ok &= xp.abs(b - level) < 3.0 * xp.sqrt(xp.maximum(v, 0.0))
    if int(ok.sum()) < 100:
        return 1.0
    diff = (d[ok] - b[ok]).astype(xp.float64)
    z2 = diff * diff / v[ok].astype(xp.float64)
    c2 = float(xp.median(z2)) / _CHI2_1_MEDIAN
    moment = _truncated_second_moment(clip)
    for _ in range(iterations):
        if not c2 > 0:
            return 1.0
        keep = z2 < clip * clip * c2
        c2 = float(z2[keep].mean()) / moment
    return c2 if c2 > 0 and math.isfinite(c2) else 1.0
