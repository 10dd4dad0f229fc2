"""Numba twin of ``kernels/combine.cu``: the per-pixel combine of the median step.

MultiDrizzle manual section 1.4, step 5 (parameters ``combine_type``,
``combine_nsigma``, ``combine_nlow``/``combine_nhigh``,
``combine_lthresh``/``combine_hthresh``, ``combine_grow``).  Every output
pixel of a row section combines the values of the ``n`` single-drizzled
images (e-/s) at that pixel.

Which values take part ("good" values): image ``k``'s value at a pixel is
used when its data and weight are finite, its weight is above
``wht_min[k]`` (``wht > wht_min``: the caller passes
``maskpt * mean(wht_k > 0)`` for median_newmasks, or 0 to drop only zero
weights) and it lies inside the thresholds (values below ``lthresh`` or above
``hthresh`` are rejected, a value equal to a threshold is kept).  Thresholds
apply to every combine type, minmed included.  A pixel with no good value
gets ``fill``.

Combine types (codes shared with the CUDA twin, `COMBINE_CODES`):

* ``average`` (0): mean of the kept values (unweighted, as numcombine);
* ``median`` (1): median of the kept values; for an even count the mean of
  the middle two;
* ``sum`` (2): sum of the kept values;
* ``minmed`` (3): see below (``nlow``/``nhigh`` are not used);
* ``minmax`` (4): mean of the good values after dropping the ``nl`` lowest
  and ``nh`` highest, with IRAF imcombine's scaled counts: ``nlow``/``nhigh``
  count rejections among the ``n`` images and scale with the number ``m`` of
  good values when masks or thresholds removed some, ``nl = floor(nlow m /
  n)``, ``nh = floor(nhigh m / n)``.  When fewer than one value would be left
  (only possible with ``nlow + nhigh >= n``) the pixel gets ``fill``.  ``n``
  is the stack's depth unless the caller counts images left out of it
  (``nimages``: they have no good value here, as padding planes of zero
  weight would not).

Kept values of average, median and sum (MultiDrizzle's and AstroDrizzle's
``numcombine``): of the ``m`` good values of a pixel, sorted, the ``nlow``
lowest and the ``nhigh`` highest are dropped, as absolute counts.  Where that
would leave nothing (``nlow + nhigh >= m``, e.g. in a chip gap covered by
fewer images), both counts are lowered by one at a time (each while still
positive) until at least one value is left, as numcombine's median does; so
one good value is always used as it is.  (numcombine's average returns 0 or
an unrelated value there instead; gpudriz applies the median's rule to all
three.)  With ``nlow = nhigh = 0`` nothing is sorted for average and sum.
This is what makes the manual's default ``median`` with ``nhigh = 1`` work:
with four images, dropping the highest value before the median keeps a pixel
hit by a cosmic ray in two of them clean, where the plain median of four
(the mean of the middle two) would keep half of the hit.

Good-value counts: with a ``count`` array, each pixel's number of good values
``m`` (0 where it has none) is written there, for every type; the pipeline
derives the noise of the median from it (:mod:`gpudriz.pipeline.steps.median_noise`).

minmed (AstroDrizzle's ``minmed``, in electrons through the weights, which
are ~ exposure time x coverage): over the ``m`` good values, MED is their
value for ``m = 1``, their mean for ``m = 2``, and for ``m >= 3`` the median
after dropping the single highest value; MIN is the smallest.  With
``W = sum w_k``, ``B = sum w_k (sky_k / t_k)`` and ``R2 = sum rdnoise_k**2``,
all three over the good values only (AstroDrizzle sums W and B over every
image, masked ones included: a masked value is not part of the median, so
neither is its exposure), ``sigma = sqrt(max(MED W + B + R2, 0))`` electrons.
MIN replaces MED where ``MIN W < MED W - nsigma1 sigma`` (flag bit
`MIN_N1`).  With ``grow = g > 0``, a pixel whose ``(2g+1) x (2g+1)`` box
(itself included) holds an ``MIN_N1`` pixel takes MIN where
``MIN W < MED W - nsigma2 sigma`` (flag bit `MIN_N2`) and MED otherwise;
every other pixel takes MED.  So with ``g > 0`` the n1 test only seeds the
growth, and the value of every pixel is decided by the n2 test, as in
AstroDrizzle.

Selection: the good values of a pixel are copied into its column of a scratch
stack the size of the input, ``scratch[:, j, i]`` (on the GPU, each thread
walks down its own column with stride ``ny*nx``, so neighbouring threads
touch neighbouring addresses), and sorted there: insertion sort up to
`INSERTION_MAX` values, heapsort (``O(m log m)``, in place, no recursion)
above, so there is no limit on ``n`` and hundreds of images stay cheap.

Arithmetic: sums, means and the minmed test in float64, results rounded to
float32; thresholds compared in float32.  The CUDA twin casts identically.
"""

import math

import numpy as np
from numba import njit, prange

__all__ = [
    "COMBINE_CODES",
    "INSERTION_MAX",
    "MIN_N1",
    "MIN_N2",
    "HAS_DATA",
    "combine",
    "combine_pixels",
    "counted_images",
    "combine_grow",
    "kept_counts",
    "sort_column",
]

# Combine-type codes shared with kernels/combine.cu.
AVERAGE = 0
MEDIAN = 1
SUM = 2
MINMED = 3
MINMAX = 4

COMBINE_CODES = {
    "average": AVERAGE,
    "median": MEDIAN,
    "sum": SUM,
    "minmed": MINMED,
    "minmax": MINMAX,
}

#: Columns of at most this many values are insertion-sorted (fastest for the
#: usual handful of exposures); longer ones are heap-sorted.
INSERTION_MAX = 16

#: minmed flag bits (``flags`` array): MIN passes the nsigma1 test, MIN
#: passes the nsigma2 test, the pixel has at least one good value.
MIN_N1 = 1
MIN_N2 = 2
HAS_DATA = 4


# --------------------------------------------------------------------------
# Helpers (device functions in the CUDA twin)
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy")
def is_good(s, w, wmin, use_lthresh, lthresh, use_hthresh, hthresh):
    """True if a value ``s`` of weight ``w`` takes part in the combine.

    ``lthresh``/``hthresh`` are float32, so the comparisons are float32 as in
    the CUDA twin.  A NaN ``wmin`` rejects everything (the test is ``w > wmin``).
    """
    if not (math.isfinite(s) and math.isfinite(w)):
        return False
    if not w > wmin:
        return False
    if use_lthresh != 0 and s < lthresh:
        return False
    if use_hthresh != 0 and s > hthresh:
        return False
    return True


@njit(cache=True, nogil=True, error_model="numpy")
def _sift_down(buf, base, stride, root, end):
    """Restore the max-heap property below ``root`` in ``buf[base + k*stride]``, ``k < end``."""
    while True:
        child = 2 * root + 1
        if child >= end:
            return
        if child + 1 < end and buf[base + (child + 1) * stride] > buf[base + child * stride]:
            child += 1
        r = base + root * stride
        c = base + child * stride
        if buf[r] < buf[c]:
            t = buf[r]
            buf[r] = buf[c]
            buf[c] = t
            root = child
        else:
            return


@njit(cache=True, nogil=True, error_model="numpy")
def sort_column(buf, base, stride, m):
    """Sort ``buf[base + k*stride]``, ``k = 0 .. m-1``, ascending, in place.

    The values are finite (non-finite ones never reach the scratch column),
    so ``<`` is a total order up to the sign of zero.
    """
    if m <= INSERTION_MAX:
        for a in range(1, m):
            v = buf[base + a * stride]
            b = a - 1
            while b >= 0 and buf[base + b * stride] > v:
                buf[base + (b + 1) * stride] = buf[base + b * stride]
                b -= 1
            buf[base + (b + 1) * stride] = v
        return
    for start in range(m // 2 - 1, -1, -1):
        _sift_down(buf, base, stride, start, m)
    for end in range(m - 1, 0, -1):
        t = buf[base]
        buf[base] = buf[base + end * stride]
        buf[base + end * stride] = t
        _sift_down(buf, base, stride, 0, end)


@njit(cache=True, nogil=True, error_model="numpy")
def sorted_median(buf, base, stride, m):
    """Median (float64) of the sorted ``buf[base + k*stride]``, ``k < m``.

    The mean of the middle two for an even ``m``.
    """
    h = m // 2
    if m % 2 == 1:
        return np.float64(buf[base + h * stride])
    return 0.5 * (np.float64(buf[base + (h - 1) * stride]) + np.float64(buf[base + h * stride]))


@njit(cache=True, nogil=True, error_model="numpy")
def kept_counts(m, nlow, nhigh):
    """``(nl, nh)``: how many of ``m >= 1`` sorted good values average/median/sum drop.

    ``nlow``/``nhigh`` as they are, lowered together one at a time (each while
    positive) until ``nl + nh < m`` (numcombine's rule), so that at least one
    value is kept.
    """
    nl = nlow
    nh = nhigh
    while nl + nh >= m:
        if nh > 0:
            nh -= 1
        if nl > 0:
            nl -= 1
    return nl, nh


# --------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def combine_pixels(sci, wht, wht_min, code, nlow, nhigh, nimages, use_lthresh, lthresh, use_hthresh,
                   hthresh, exptime, sky, rdnoise, nsigma1, nsigma2, fill, scratch, out, med,
                   mn, flags, count):  # fmt: skip
    """Combine the stack ``sci`` (n, ny, nx) pixel by pixel into ``out`` (ny, nx), rows in parallel.

    ``code`` is a `COMBINE_CODES` value; see the module docstring for the
    good values and each type.  ``nimages`` (>= n) is the number of images
    minmax's ``nlow``/``nhigh`` count among.  ``scratch`` (n, ny, nx) float32 holds each
    pixel's good values for sorting (unused, may be empty, for average and
    sum without ``nlow``/``nhigh``).  For minmed, ``exptime``, ``sky``, ``rdnoise`` are (n,) float64,
    and ``med``, ``mn`` (float32) and ``flags`` (uint8, bits `MIN_N1`,
    `MIN_N2`, `HAS_DATA`) of shape (ny, nx) receive MED, MIN and the tests
    for `combine_grow`; ``out`` gets the nsigma1 choice.  For other types
    those five may be empty.  Pixels without good values get ``fill`` (and
    for minmed ``med = mn = fill``, ``flags = 0``).  ``count`` (ny, nx)
    int32 receives each pixel's number of good values, or is empty.
    """
    n, ny, nx = sci.shape
    npix = ny * nx
    buf = scratch.reshape(scratch.size)
    fill32 = np.float32(fill)
    lt = np.float32(lthresh)
    ht = np.float32(hthresh)
    drops = (nlow > 0 or nhigh > 0) and code != MINMED and code != MINMAX
    store = (code != AVERAGE and code != SUM) or drops
    counted = count.size != 0
    for j in prange(ny):
        for i in range(nx):
            p = j * nx + i
            m = 0
            total = 0.0
            wsum = 0.0
            bsum = 0.0
            r2 = 0.0
            for k in range(n):
                s = sci[k, j, i]
                w = wht[k, j, i]
                if not is_good(s, w, wht_min[k], use_lthresh, lt, use_hthresh, ht):
                    continue
                total += s
                if store:
                    buf[m * npix + p] = s
                if code == MINMED:
                    wsum += w
                    bsum += w * (sky[k] / exptime[k])
                    r2 += rdnoise[k] * rdnoise[k]
                m += 1
            if counted:
                count[j, i] = m
            if m == 0:
                out[j, i] = fill32
                if code == MINMED:
                    med[j, i] = fill32
                    mn[j, i] = fill32
                    flags[j, i] = 0
                continue
            if (code == AVERAGE or code == SUM) and not drops:
                out[j, i] = np.float32(total / m) if code == AVERAGE else np.float32(total)
            elif code == AVERAGE or code == SUM:
                sort_column(buf, p, npix, m)
                nl, nh = kept_counts(m, nlow, nhigh)
                kept = 0.0
                for k in range(nl, m - nh):
                    kept += buf[k * npix + p]
                out[j, i] = np.float32(kept / (m - nl - nh)) if code == AVERAGE else np.float32(kept)
            elif code == MEDIAN:
                sort_column(buf, p, npix, m)
                nl, nh = kept_counts(m, nlow, nhigh)
                out[j, i] = np.float32(sorted_median(buf, p + nl * npix, npix, m - nl - nh))
            elif code == MINMAX:
                nl = (nlow * m) // nimages
                nh = (nhigh * m) // nimages
                if m - nl - nh < 1:
                    out[j, i] = fill32
                    continue
                sort_column(buf, p, npix, m)
                kept = 0.0
                for k in range(nl, m - nh):
                    kept += buf[k * npix + p]
                out[j, i] = np.float32(kept / (m - nl - nh))
            else:  # MINMED
                sort_column(buf, p, npix, m)
                lo = buf[p]
                if m == 1:
                    mid = lo
                elif m == 2:
                    mid = np.float32(0.5 * (np.float64(lo) + np.float64(buf[npix + p])))
                else:
                    mid = np.float32(sorted_median(buf, p, npix, m - 1))
                med_e = mid * wsum
                min_e = lo * wsum
                var = med_e + bsum + r2
                if not var > 0.0:  # negative (or NaN from overflowing sums): no noise
                    var = 0.0
                sigma = math.sqrt(var)
                f = HAS_DATA
                if min_e < med_e - nsigma1 * sigma:
                    f |= MIN_N1
                if min_e < med_e - nsigma2 * sigma:
                    f |= MIN_N2
                med[j, i] = mid
                mn[j, i] = lo
                flags[j, i] = f
                out[j, i] = lo if (f & MIN_N1) != 0 else mid


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def combine_grow(flags, med, mn, grow, fill, out):
    """minmed growth: rewrite ``out`` (ny, nx) from `combine_pixels`' ``flags``, ``med`` and ``mn``.

    A pixel whose ``(2 grow + 1)**2`` box holds a `MIN_N1` pixel takes MIN
    where it passes the nsigma2 test (`MIN_N2`), MED elsewhere; pixels without
    good values get ``fill``.  The box is clipped to the section: a caller
    working in row sections passes ``grow`` extra rows above and below
    (where the image has them) and keeps only the inner rows.  Rows in
    parallel; ``flags`` is only read, so there are no races.
    """
    ny, nx = flags.shape
    fill32 = np.float32(fill)
    for j in prange(ny):
        j0 = max(j - grow, 0)
        j1 = min(j + grow, ny - 1)
        for i in range(nx):
            f = flags[j, i]
            if (f & HAS_DATA) == 0:
                out[j, i] = fill32
                continue
            i0 = max(i - grow, 0)
            i1 = min(i + grow, nx - 1)
            seeded = False
            for jj in range(j0, j1 + 1):
                for ii in range(i0, i1 + 1):
                    if (flags[jj, ii] & MIN_N1) != 0:
                        seeded = True
                        break
                if seeded:
                    break
            out[j, i] = mn[j, i] if seeded and (f & MIN_N2) != 0 else med[j, i]


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------


def minmed_vectors(n, exptime, sky, rdnoise):
    """Per-image float64 ``(exptime, sky, rdnoise)`` for minmed; a missing sky or read noise is 0.

    Parameters
    ----------
    n : int
        Number of images.
    exptime, sky, rdnoise : array_like of shape (n,) or None
        Exposure times (s), subtracted sky (e-) and read noise (e-).

    Raises
    ------
    ValueError
        If ``sky`` is given without ``exptime`` (the sky term needs both).
    """
    if sky is not None and exptime is None:
        raise ValueError(
            "exptime is required by minmed when sky is given (the sky term is sky / exptime)."
        )
    zeros = np.zeros(n, dtype=np.float64)
    sky = zeros if sky is None else np.ascontiguousarray(sky, dtype=np.float64)
    # Without a sky the sky term is 0 whatever the exposure times are.
    exptime = np.ones(n) if exptime is None else np.ascontiguousarray(exptime, dtype=np.float64)
    rdnoise = zeros if rdnoise is None else np.ascontiguousarray(rdnoise, dtype=np.float64)
    return exptime, sky, rdnoise


def needs_scratch(code, nlow, nhigh):
    """True if combine type ``code`` sorts, so needs the (n, ny, nx) scratch stack."""
    if code in (AVERAGE, SUM):
        return int(nlow) > 0 or int(nhigh) > 0
    return True


def counted_images(n, nimages):
    """The number of images minmax's rejections count among: ``nimages``, or ``n`` (the stack's depth) when None.

    Raises
    ------
    ValueError
        ``nimages`` is fewer than ``n``: images in the stack cannot be left uncounted.
    """
    if nimages is None:
        return int(n)
    if int(nimages) < n:
        raise ValueError(f"nimages ({nimages}) must be at least the {n} images in the stack.")
    return int(nimages)


def combine_code(combine_type):
    """The `COMBINE_CODES` value of ``combine_type``, with a one-line error for an unknown name."""
    try:
        return COMBINE_CODES[combine_type]
    except (KeyError, TypeError):
        raise ValueError(
            f"combine_type must be one of {', '.join(map(repr, COMBINE_CODES))}, "
            f"got {combine_type!r}."
        ) from None


def combine(sci, wht, wht_min, out, combine_type, *, nlow=0, nhigh=0, lthresh=None,
            hthresh=None, exptime=None, sky=None, rdnoise=None, nsigma=(6.0, 3.0), grow=0,
            fill=0.0, count=None, nimages=None):  # fmt: skip
    """Combine a row section of single-drizzled images into ``out`` (CPU backend).

    Arguments are validated by the caller (shapes, dtypes, ranges).
    MultiDrizzle manual section 1.4, step 5; the rules are in this module's
    docstring.

    Parameters
    ----------
    sci : ndarray of float32, shape (n, ny, nx), C-contiguous
        The images (e-/s).
    wht : ndarray of float32, shape (n, ny, nx), C-contiguous
        Their weights.
    wht_min : ndarray of float32, shape (n,)
        Image ``k``'s value is used only where ``wht > wht_min[k]``.
    out : ndarray of float32, shape (ny, nx)
        Written in place.
    combine_type : {"average", "median", "sum", "minmed", "minmax"}
        The combine.
    nlow, nhigh : int
        Numbers of lowest / highest good values dropped: absolute counts for
        average, median and sum (lowered where fewer values are good), counts
        of ``n`` scaled to the good values for minmax; minmed ignores them.
    lthresh, hthresh : float or None
        Values below / above are rejected; None for no threshold.
    exptime, sky, rdnoise : array_like of shape (n,) or None
        minmed: exposure time (s), the sky subtracted from each image (e-),
        read noise (e-).  Missing sky or read noise counts as 0.
    nsigma : (float, float)
        minmed: the MIN-versus-MED thresholds of the first test and of the
        growth retest.
    grow : int
        minmed: growth radius in pixels (``(2 grow + 1)**2`` box); with row
        sections the caller passes ``grow`` halo rows and keeps the inner rows.
    fill : float
        Value of pixels without a good value.
    count : ndarray of int32, shape (ny, nx), optional
        Written in place: each pixel's number of good values.
    nimages : int, optional
        minmax: the number of images ``nlow`` and ``nhigh`` count among, at
        least ``n``; ``n`` when None.  More stands for images left out of the
        stack because they have no good value in it (a mosaic's median tile
        stacks only the single images that reach it).

    Returns
    -------
    out : ndarray of float32

    Raises
    ------
    ValueError
        ``nimages`` is fewer than the images in the stack.
    """
    code = combine_code(combine_type)
    n, ny, nx = sci.shape
    nimages = counted_images(n, nimages)
    wht_min = np.ascontiguousarray(wht_min, dtype=np.float32)
    # Empty placeholders keep one compiled specialisation for every type.
    scratch = np.empty((0, 0, 0), dtype=np.float32)
    if needs_scratch(code, nlow, nhigh):
        scratch = np.empty((n, ny, nx), dtype=np.float32)
    med = mn = np.empty((0, 0), dtype=np.float32)
    flags = np.empty((0, 0), dtype=np.uint8)
    count_arr = np.empty((0, 0), dtype=np.int32) if count is None else count
    vec = np.zeros(0, dtype=np.float64)
    exp_v = sky_v = rn_v = vec
    if code == MINMED:
        exp_v, sky_v, rn_v = minmed_vectors(n, exptime, sky, rdnoise)
        med = np.empty((ny, nx), dtype=np.float32)
        mn = np.empty((ny, nx), dtype=np.float32)
        flags = np.empty((ny, nx), dtype=np.uint8)
    use_lt = 0 if lthresh is None else 1
    use_ht = 0 if hthresh is None else 1
    combine_pixels(
        sci, wht, wht_min, code, int(nlow), int(nhigh), nimages,
        use_lt, float(0.0 if lthresh is None else lthresh),
        use_ht, float(0.0 if hthresh is None else hthresh),
        exp_v, sky_v, rn_v, float(nsigma[0]), float(nsigma[1]), float(fill),
        scratch, out, med, mn, flags, count_arr,
    )  # fmt: skip
    if code == MINMED and int(grow) > 0:
        combine_grow(flags, med, mn, int(grow), float(fill), out)
    return out
