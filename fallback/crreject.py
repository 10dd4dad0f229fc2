"""Numba twin of ``kernels/crreject.cu``: cosmic-ray detection against the blotted median.

MultiDrizzle manual section 1.4, step 7 (``driz_cr_snr``, ``driz_cr_scale``;
``driz_cr_grow`` is AstroDrizzle's).  Per input chip, with ``D`` the input
(sky still in), ``B`` the median blotted back to it (same units, sky added
back), ``rn`` the read noise of each pixel's amplifier and ``g`` the gain:

* ``deriv``: the largest ``|B - B(neighbour)|`` over the 4 neighbours
  (x +- 1, y +- 1) that exist (at the image edge) and are finite;
* ``noise``, the noise of ``D - B``: ``sqrt((g |B| + rn**2) / g**2 +
  median_var)``.  The first term is the variance of ``D`` predicted from
  ``B`` (``B`` already holds the sky, which is therefore counted once);
  ``median_var`` (data units squared) is what the blotted median adds:
  ``var(B) - 2 cov(D, B)``, its own noise less its correlation with ``D``,
  which is one of the images it was made from (:mod:`gpudriz.pipeline.steps.median_noise`,
  ``docs/pipeline.md``).  It may be negative.  Without ``median_var`` the
  noise is ``sqrt(g |B| + rn**2) / g``.  AstroDrizzle adds the sky a second
  time instead;
* ``bad1 = |D - B| > scale1 deriv + snr1 noise``, ``bad2`` likewise with
  ``scale2``, ``snr2``;
* a pixel is a cosmic ray where it is ``bad2`` and some pixel of its 3 x 3
  neighbourhood (itself included, clipped at the edges) is ``bad1``.  With
  the usual ``snr2 <= snr1`` and ``scale2 <= scale1`` every ``bad1`` pixel is
  also ``bad2``: the first pass finds the cores, the second extends them to
  their neighbours;
* growth: every pixel within a ``(2 grow + 1) x (2 grow + 1)`` box of a
  cosmic ray is flagged too (symmetric; AstroDrizzle's ``grow x grow`` box
  is off-centre for even sizes).

The test is invariant under a change of units: data in DN with gain ``g``
(``rn`` in electrons) flag exactly the pixels that the same data in electrons
flag with gain 1, since ``|D - B|``, ``deriv`` and ``noise`` all scale by
``g``.  Pass ``gain = 1`` for data in electrons.

Pixels that are not tested:

* where ``D`` or ``B`` is NaN or infinite (there is nothing to compare):
  neither ``bad1`` nor ``bad2``, so never a cosmic ray by the test, though
  the growth may cover them like any neighbour of a cosmic ray; a NaN or
  infinite blot neighbour is left out of the derivative (not propagated);
* where the optional ``good`` mask is 0 (e.g. pixels already bad in DQ):
  not tested either, and never flagged, growth included.  A hot pixel must
  neither be flagged as a cosmic ray nor seed the second-pass flags of its
  neighbours, and its DQ already excludes it from the final drizzle.

A NaN read noise or ``median_var``, or a total variance below 0, makes the
noise NaN: that pixel is not flagged either.

Arithmetic in float64 from the float32 images; both twins cast identically.
"""

import math

import numpy as np
from numba import njit, prange

__all__ = ["BAD1", "BAD2", "driz_cr", "crr_flags", "crr_combine", "crr_grow", "pixel_flags"]

#: Bits of the per-pixel test flags: the first and the second pass.
BAD1 = 1
BAD2 = 2


@njit(cache=True, nogil=True, error_model="numpy")
def pixel_flags(data, blot, rdnoise, median_var, j, i, gain, snr1, snr2, scale1, scale2):
    """`BAD1` / `BAD2` bits of pixel ``(j, i)`` (0 where ``D`` or ``B`` is not finite)."""
    ny, nx = blot.shape
    d = data[j, i]
    b = blot[j, i]
    if not (math.isfinite(d) and math.isfinite(b)):
        return 0
    bd = np.float64(b)
    deriv = 0.0
    # Neighbours in the order left, right, below, above; max is order-free.
    if i > 0 and math.isfinite(blot[j, i - 1]):
        deriv = max(deriv, abs(bd - np.float64(blot[j, i - 1])))
    if i < nx - 1 and math.isfinite(blot[j, i + 1]):
        deriv = max(deriv, abs(bd - np.float64(blot[j, i + 1])))
    if j > 0 and math.isfinite(blot[j - 1, i]):
        deriv = max(deriv, abs(bd - np.float64(blot[j - 1, i])))
    if j < ny - 1 and math.isfinite(blot[j + 1, i]):
        deriv = max(deriv, abs(bd - np.float64(blot[j + 1, i])))
    r = np.float64(rdnoise[j, i])
    if median_var.size == 0:
        noise = math.sqrt(gain * abs(bd) + r * r) / gain
    else:
        noise = math.sqrt((gain * abs(bd) + r * r) / (gain * gain) + np.float64(median_var[j, i]))
    diff = abs(np.float64(d) - bd)
    f = 0
    if diff > scale1 * deriv + snr1 * noise:
        f |= BAD1
    if diff > scale2 * deriv + snr2 * noise:
        f |= BAD2
    return f


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def crr_flags(data, blot, rdnoise, median_var, good, gain, snr1, snr2, scale1, scale2, flags):
    """Both passes' tests per pixel into ``flags`` (ny, nx) uint8, bits `BAD1` and `BAD2`.

    ``good`` (ny, nx) uint8: pixels where it is 0 are not tested (flags 0);
    an empty array tests every pixel.  ``median_var`` (ny, nx) float32: what
    the blotted median adds to the variance of ``D - B``, or empty to leave
    it out.  Rows in parallel.
    """
    ny, nx = data.shape
    tested_all = good.size == 0
    for j in prange(ny):
        for i in range(nx):
            if tested_all or good[j, i] != 0:
                flags[j, i] = pixel_flags(data, blot, rdnoise, median_var, j, i, gain, snr1, snr2,
                                          scale1, scale2)  # fmt: skip
            else:
                flags[j, i] = 0


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def crr_combine(flags, cr):
    """``cr`` (ny, nx) uint8: 1 where `BAD2` and some pixel of the 3 x 3 box is `BAD1`, else 0."""
    ny, nx = flags.shape
    for j in prange(ny):
        j0 = max(j - 1, 0)
        j1 = min(j + 1, ny - 1)
        for i in range(nx):
            hit = 0
            if (flags[j, i] & BAD2) != 0:
                i0 = max(i - 1, 0)
                i1 = min(i + 1, nx - 1)
                for jj in range(j0, j1 + 1):
                    for ii in range(i0, i1 + 1):
                        if (flags[jj, ii] & BAD1) != 0:
                            hit = 1
            cr[j, i] = hit


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def crr_grow(cr, good, grow, out_mask):
    """``out_mask`` (ny, nx) uint8: 1 where the ``(2 grow + 1)**2`` box holds a 1 of ``cr``.

    Never where ``good`` is 0 (an empty ``good`` allows every pixel).  The box
    is clipped to the image.  Rows in parallel; ``cr`` is only read.
    """
    ny, nx = cr.shape
    allowed_all = good.size == 0
    for j in prange(ny):
        j0 = max(j - grow, 0)
        j1 = min(j + grow, ny - 1)
        for i in range(nx):
            hit = 0
            if allowed_all or good[j, i] != 0:
                i0 = max(i - grow, 0)
                i1 = min(i + grow, nx - 1)
                for jj in range(j0, j1 + 1):
                    for ii in range(i0, i1 + 1):
                        if cr[jj, ii] != 0:
                            hit = 1
                            break
                    if hit != 0:
                        break
            out_mask[j, i] = hit


def driz_cr(data, blot, rdnoise, out_mask, *, gain=1.0, snr=(3.0, 2.5), scale=(1.2, 0.7),
            grow=0, good=None, median_var=None):  # fmt: skip
    """Flag the cosmic rays of one chip into ``out_mask`` (CPU backend).

    Arguments are validated by the caller.  MultiDrizzle manual section 1.4,
    step 7; the test is stated in this module's docstring.

    Parameters
    ----------
    data : ndarray of float32, shape (ny, nx), C-contiguous
        The input chip ``D``, sky included.
    blot : ndarray of float32, shape (ny, nx), C-contiguous
        The median blotted onto the chip ``B``, same units, sky added back.
    rdnoise : ndarray of float32, shape (ny, nx), C-contiguous
        Read noise of each pixel's amplifier (electrons).
    out_mask : ndarray of uint8, shape (ny, nx)
        Written in place: 1 for a cosmic ray, 0 elsewhere.
    gain : float
        Electrons per data unit (1 for data in electrons).
    snr : (float, float)
        Signal-to-noise thresholds of the first and second pass (driz_cr_snr).
    scale : (float, float)
        Multipliers of the derivative in the first and second pass
        (driz_cr_scale).
    grow : int
        Radius of the growth box (``(2 grow + 1)**2``); 0 for none.
    good : ndarray of uint8, shape (ny, nx), optional
        0 where a pixel is not tested and never flagged (e.g. bad in DQ).
    median_var : ndarray of float32, shape (ny, nx), C-contiguous, optional
        What the blotted median adds to the variance of ``data - blot``,
        ``var(B) - 2 cov(D, B)`` (data units squared, may be negative).
        None leaves it out.

    Returns
    -------
    out_mask : ndarray of uint8
    """
    ny, nx = data.shape
    good_arr = np.empty((0, 0), dtype=np.uint8) if good is None else good
    var_arr = np.empty((0, 0), dtype=np.float32) if median_var is None else median_var
    flags = np.empty((ny, nx), dtype=np.uint8)
    crr_flags(data, blot, rdnoise, var_arr, good_arr, float(gain), float(snr[0]), float(snr[1]),
              float(scale[0]), float(scale[1]), flags)  # fmt: skip
    if int(grow) <= 0:
        crr_combine(flags, out_mask)
        return out_mask
    cr = np.empty((ny, nx), dtype=np.uint8)
    crr_combine(flags, cr)
    crr_grow(cr, good_arr, int(grow), out_mask)
    return out_mask
