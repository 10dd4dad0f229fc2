"""Slow, obviously correct twin of driz_cr's cosmic-ray test (test oracle).

Pixel by pixel in float64 from the formulas (``algorithms.md``, "driz_cr";
the rules in ``fallback/crreject.py``'s docstring): the derivative from an
explicit list of the neighbours inside the image, both passes as boolean
images, the 3 x 3 and growth tests as slices of those images.
"""

import math

import numpy as np


def derivative(blot, j, i):
    """Largest |B - B(neighbour)| over the finite 4-neighbours inside the image (0 if none)."""
    ny, nx = blot.shape
    b = float(blot[j, i])
    diffs = [0.0]
    for jj, ii in ((j, i - 1), (j, i + 1), (j - 1, i), (j + 1, i)):
        if 0 <= jj < ny and 0 <= ii < nx and np.isfinite(blot[jj, ii]):
            diffs.append(abs(b - float(blot[jj, ii])))
    return max(diffs)


def passes(data, blot, rdnoise, gain, snr, scale, good=None, median_var=None):
    """Boolean images ``(bad1, bad2)`` of the two passes.

    The noise of ``D - B`` is that of ``D`` (photons of ``B``, read noise)
    plus that of ``B`` (``median_var``) when given.
    """
    ny, nx = data.shape
    bad = [np.zeros((ny, nx), dtype=bool), np.zeros((ny, nx), dtype=bool)]
    for j in range(ny):
        for i in range(nx):
            if good is not None and good[j, i] == 0:
                continue
            d = float(data[j, i])
            b = float(blot[j, i])
            if not (math.isfinite(d) and math.isfinite(b)):
                continue
            deriv = derivative(blot, j, i)
            var_d = (gain * abs(b) + float(rdnoise[j, i]) ** 2) / gain**2
            var_b = 0.0 if median_var is None else float(median_var[j, i])
            noise = math.sqrt(var_d + var_b)
            for k in range(2):
                bad[k][j, i] = abs(d - b) > scale[k] * deriv + snr[k] * noise
    return bad[0], bad[1]


def dilate(mask, r):
    """True where the (2r+1) x (2r+1) box around a pixel (clipped to the image) holds a True."""
    ny, nx = mask.shape
    out = np.zeros_like(mask)
    for j in range(ny):
        for i in range(nx):
            out[j, i] = mask[max(j - r, 0) : j + r + 1, max(i - r, 0) : i + r + 1].any()
    return out


def driz_cr(data, blot, rdnoise, gain=1.0, snr=(3.0, 2.5), scale=(1.2, 0.7), grow=0, good=None,
            median_var=None):  # fmt: skip
    """The cosmic-ray mask (uint8, 1 = cosmic ray)."""
    bad1, bad2 = passes(data, blot, rdnoise, gain, snr, scale, good, median_var)
    cr = bad2 & dilate(bad1, 1)
    if grow > 0:
        cr = dilate(cr, grow)
    if good is not None:
        cr &= good != 0
    return cr.astype(np.uint8)
