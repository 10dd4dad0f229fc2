"""The synthetic ACS/WFC instrument: focal-plane geometry, pixel areas and the detector.

What :func:`gpudriz.demo.synthetic.make_association` observes with (see that
module for the whole model):

* **Geometry.**  One focal-plane distortion polynomial (orders 2 to 4, of the
  size and shape of ACS/WFC's) is re-expanded about each chip's reference
  pixel (:class:`ChipGeometry`); its constant and linear parts go into the
  chip's CRVAL and CD matrix (:func:`global_cd`: ACS's non-square pixels and
  ~5 degree skew) and the rest into a TAN-SIP header.
* **Pixel areas** (:func:`pixel_area_map`): the geometric part of the flat
  field, in units of ``IDCSCALE**2``.
* **Detector.**  Hot pixels and charge-trap columns (:func:`draw_defects`),
  cosmic rays (:func:`draw_cosmic_rays`), and one exposure of a chip with
  Poisson noise, each amplifier's read noise and gain, and saturation
  (:func:`expose`).

Only NumPy and Astropy are used, so the data do not depend on the code they test.
"""

from __future__ import annotations

import math

import numpy as np
from astropy.io import fits
from astropy.table import Table, vstack
from astropy.wcs import WCS

__all__ = [
    "IDCSCALE", "ChipGeometry", "global_cd", "tangent_wcs", "distortion_polynomial", "poly_eval",
    "pixel_area_map", "draw_defects", "draw_cosmic_rays", "expose",
]  # fmt: skip

#: Nominal (undistorted) pixel scale of ACS/WFC, arcsec; the pixel-area unit.
IDCSCALE = 0.05

FULL_CHIP_SHAPE = (2048, 4096)
CHIPS = (1, 2)  # EXTVER: SCI,1 is WFC2 (the lower chip), SCI,2 is WFC1
CCDCHIP = {1: 2, 2: 1}
AMPS = {1: ("C", "D"), 2: ("A", "B")}  # (left half, right half) of the columns
GAIN = {"A": 1.02, "B": 0.99, "C": 1.01, "D": 0.98}  # e-/ADU
READNOISE = {"A": 4.97, "B": 4.23, "C": 4.52, "D": 4.76}  # e-

DQ_BAD_DETECTOR = 4
DQ_HOT = 16
DQ_SATURATED = 256
FULL_WELL = 84700.0  # e-

# Sky scale of the detector axes (arcsec/px) and the angle between them: ACS/WFC
# pixels are slightly rectangular and its axes are not perpendicular on the sky.
AXIS_SCALE = (0.0494, 0.0500)
AXIS_ANGLE_DEG = 85.3
# Position angle of the detector y axis relative to PA_V3 (a nominal value).
Y_AXIS_FROM_V3_DEG = -2.5

# Focal-plane distortion for full-size chips, {(p, q): coefficient of U^p V^q}
# in pixels, U/V measured from the centre of the two-chip mosaic.  Magnitudes
# follow ACS/WFC's SIP headers (~40 px at a full chip's corners).
DISTORTION_X = {
    (2, 0): 8.5e-6, (1, 1): -7.8e-6, (0, 2): 2.2e-6,
    (3, 0): -1.2e-10, (2, 1): 3.0e-10, (1, 2): -5.0e-11, (0, 3): 8.0e-11,
    (4, 0): 2.0e-14, (2, 2): -3.0e-14, (0, 4): 1.0e-14,
}  # fmt: skip
DISTORTION_Y = {
    (2, 0): -1.8e-6, (1, 1): 6.2e-6, (0, 2): -4.4e-6,
    (3, 0): 6.0e-11, (2, 1): -1.0e-10, (1, 2): 2.5e-10, (0, 3): -1.5e-10,
    (4, 0): -1.0e-14, (1, 3): 2.0e-14, (0, 4): 3.0e-14,
}  # fmt: skip
SIP_ORDER = 4

# Detector defects and cosmic rays.
HOT_FRACTION = 5e-4
HOT_RATE = (0.2, 5.0)  # e-/s, log-uniform
HOT_FLAGGED = 0.7
BAD_COLUMNS_PER_1024 = 1
BAD_COLUMN_KEEP = 0.15  # fraction of the charge a trapped column still delivers
CR_SINGLE = 0.5  # fraction of events that hit one pixel
CR_TRACK_LENGTH = (1.5, 8.0)  # px
CR_SINGLE_ENERGY = (300.0, 5000.0)  # e-, log-uniform per pixel
CR_TRACK_ENERGY = (150.0, 2500.0)
CR_PIXELS_PER_EVENT = 3.9  # measured mean, turns a pixel fraction into events


# --------------------------------------------------------------------------- geometry


def global_cd(pa_v3):
    """CD matrix (deg/px) of the undistorted focal plane: scales, skew, roll."""
    th = math.radians(pa_v3 + Y_AXIS_FROM_V3_DEG)  # y axis, east of north
    px = th - math.radians(AXIS_ANGLE_DEG)  # x axis, 85.3 deg clockwise of y (standard parity)
    sx, sy = AXIS_SCALE
    return np.array([[sx * math.sin(px), sy * math.sin(th)], [sx * math.cos(px), sy * math.cos(th)]]) / 3600.0


def tangent_wcs(crval, cd):
    """Undistorted focal plane: 0-based pixel (X, Y) is the offset from ``crval``."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = crval
    w.wcs.crpix = [1.0, 1.0]
    w.wcs.cd = cd
    return w


def distortion_polynomial(coefficients, nx):
    """Focal-plane polynomial as an array ``c[p, q]``, scaled to chips ``nx`` wide.

    Scaling coordinates and distortion together by ``nx / 4096`` keeps the
    pattern and divides its size in pixels by the same factor.
    """
    c = np.zeros((SIP_ORDER + 1, SIP_ORDER + 1))
    for (p, q), value in coefficients.items():
        c[p, q] = value * (FULL_CHIP_SHAPE[1] / nx) ** (p + q - 1)
    return c


def _shift_poly(c, u0, v0):
    """Coefficients of ``P(u + u0, v + v0)`` in ``u, v`` (binomial re-expansion)."""
    out = np.zeros_like(c)
    for p, q in zip(*np.nonzero(c)):
        for i in range(p + 1):
            for j in range(q + 1):
                out[i, j] += c[p, q] * math.comb(p, i) * math.comb(q, j) * u0 ** (p - i) * v0 ** (q - j)
    return out


def poly_eval(c, u, v):
    """``sum c[p, q] u^p v^q`` over the non-zero coefficients (``u``, ``v`` broadcast together)."""
    return sum(c[p, q] * u**p * v**q for p, q in zip(*np.nonzero(c)))


def _poly_gradient_grid(c, u, v):
    """d/du and d/dv of ``sum c[p, q] u^p v^q`` on the grid ``v[:, None], u[None, :]``."""
    n = c.shape[0]
    powers_u = u[:, None] ** np.arange(n)
    powers_v = v[:, None] ** np.arange(n)
    k = np.arange(1, n)
    d_du = np.zeros_like(c)
    d_dv = np.zeros_like(c)
    d_du[:-1, :] = c[1:, :] * k[:, None]
    d_dv[:, :-1] = c[:, 1:] * k[None, :]
    # A matrix product keeps a full 2048 x 4096 chip fast: V @ D.T @ U.T.
    return powers_v @ d_du.T @ powers_u.T, powers_v @ d_dv.T @ powers_u.T


class ChipGeometry:
    """One chip's place in the focal plane and its SIP header terms.

    The reference pixel is ACS's, ``(nx/2, ny/2)``; SCI,1 (WFC2) lies below the
    mosaic centre, SCI,2 (WFC1) above, ``gap`` pixels apart.
    """

    def __init__(self, chip, shape, gap):
        ny, nx = shape
        self.shape = shape
        self.crpix = (nx / 2.0, ny / 2.0)
        self.v0 = (ny + gap) / 2.0 * (-1.0 if chip == 1 else 1.0)
        self.fx = distortion_polynomial(DISTORTION_X, nx)
        self.fy = distortion_polynomial(DISTORTION_Y, nx)
        ex = _shift_poly(self.fx, 0.0, self.v0)
        ey = _shift_poly(self.fy, 0.0, self.v0)
        # Constant and linear terms move and shear the chip; they become CRVAL and CD.
        self.origin = (ex[0, 0], self.v0 + ey[0, 0])
        self.linear = np.array([[1.0 + ex[1, 0], ex[0, 1]], [ey[1, 0], 1.0 + ey[0, 1]]])
        for e in (ex, ey):
            e[0, 0] = e[1, 0] = e[0, 1] = 0.0
        inv = np.linalg.inv(self.linear)
        self.sip_a = inv[0, 0] * ex + inv[0, 1] * ey
        self.sip_b = inv[1, 0] * ex + inv[1, 1] * ey

    def focal_plane(self, x, y):
        """Undistorted focal-plane (X, Y) of 0-based chip pixels."""
        u = np.asarray(x, float) + 1.0 - self.crpix[0]
        v = np.asarray(y, float) + 1.0 - self.crpix[1]
        big_u, big_v = u, v + self.v0
        return big_u + poly_eval(self.fx, big_u, big_v), big_v + poly_eval(self.fy, big_u, big_v)

    def wcs_header(self, centre, cd_global):
        """SCI-extension WCS cards for a pointing whose mosaic centre is ``centre``."""
        crval = tangent_wcs(centre, cd_global).wcs_pix2world([self.origin], 0)[0]
        cd = cd_global @ self.linear
        h = fits.Header()
        h["WCSAXES"] = 2
        h["CTYPE1"] = ("RA---TAN-SIP", "the coordinate type for the first axis")
        h["CTYPE2"] = ("DEC--TAN-SIP", "the coordinate type for the second axis")
        h["CRPIX1"] = (self.crpix[0], "x-coordinate of reference pixel")
        h["CRPIX2"] = (self.crpix[1], "y-coordinate of reference pixel")
        h["CRVAL1"] = (float(crval[0]), "first axis value at reference pixel")
        h["CRVAL2"] = (float(crval[1]), "second axis value at reference pixel")
        for i in range(2):
            for j in range(2):
                h[f"CD{i + 1}_{j + 1}"] = float(cd[i, j])
        orientat = round(math.degrees(math.atan2(cd[0, 1], cd[1, 1])), 6)
        h["ORIENTAT"] = (orientat, "position angle of image y axis (deg. e of n)")
        for name, c in (("A", self.sip_a), ("B", self.sip_b)):
            h[f"{name}_ORDER"] = SIP_ORDER
            for p in range(SIP_ORDER + 1):
                for q in range(SIP_ORDER + 1 - p):
                    if p + q >= 2:
                        h[f"{name}_{p}_{q}"] = float(c[p, q])
        h["IDCSCALE"] = IDCSCALE
        h["WCSNAME"] = "IDC_synthetic"
        h["VAFACTOR"] = 1.0
        if tuple(self.shape) == FULL_CHIP_SHAPE:
            # A full chip is the whole detector.  A smaller one stands for a
            # scaled-down chip, not a corner subarray: without LTV/LTM its
            # amplifiers split at its middle, as they were simulated.
            h["LTV1"], h["LTV2"], h["LTM1_1"], h["LTM2_2"] = 0.0, 0.0, 1.0, 1.0
        # Through text and back, so that rendering uses exactly what the file holds.
        return fits.Header.fromstring(h.tostring())



def pixel_area_map(wcs, shape, scale=IDCSCALE) -> np.ndarray:
    """Sky area of each pixel of a TAN-SIP image, in units of ``scale**2``.

    The Jacobian of the SIP polynomial times the CD matrix; the gnomonic
    projection's own area change (~1e-6 across an ACS chip) is left out.

    Parameters
    ----------
    wcs : astropy.wcs.WCS
        Celestial WCS with or without SIP distortion.
    shape : tuple of int
        ``(ny, nx)`` of the image.
    scale : float
        Reference pixel scale, arcsec (ACS/WFC: ``IDCSCALE``).

    Returns
    -------
    numpy.ndarray
        ``(ny, nx)`` float64 area ratios.
    """
    ny, nx = shape
    det_cd = abs(np.linalg.det(wcs.pixel_scale_matrix))
    if wcs.sip is None:
        return np.full(shape, det_cd * 3600.0**2 / scale**2)
    u = np.arange(nx) + 1.0 - wcs.sip.crpix[0]
    v = np.arange(ny) + 1.0 - wcs.sip.crpix[1]
    a_u, a_v = _poly_gradient_grid(wcs.sip.a, u, v)
    b_u, b_v = _poly_gradient_grid(wcs.sip.b, u, v)
    return ((1.0 + a_u) * (1.0 + b_v) - a_v * b_u) * det_cd * 3600.0**2 / scale**2



# --------------------------------------------------------------------------- detector


def draw_defects(rng, shape):
    """Hot pixels and charge-trap columns, the same in every exposure."""
    ny, nx = shape
    n_hot = max(1, round(HOT_FRACTION * ny * nx))
    hot = []
    for c in CHIPS:
        pix = rng.choice(ny * nx, size=n_hot, replace=False)
        rate = np.exp(rng.uniform(*np.log(HOT_RATE), size=n_hot))
        flagged = rng.random(n_hot) < HOT_FLAGGED
        hot.append(Table({"chip": np.full(n_hot, c), "x": pix % nx, "y": pix // nx, "rate": rate, "flagged": flagged}))
    n_bad = max(1, round(BAD_COLUMNS_PER_1024 * nx / 1024))
    bad = []
    for c in CHIPS:
        cols = rng.choice(np.arange(8, nx - 8), size=n_bad, replace=False)
        trap = rng.integers(ny // 4, 3 * ny // 4, size=n_bad)
        # Charge crosses the trap on its way to the readout: WFC2's amplifiers
        # are at row 0, WFC1's at the top row.
        y_min, y_max = (trap, np.full(n_bad, ny - 1)) if c == 1 else (np.zeros(n_bad, int), trap)
        bad.append(Table({"chip": np.full(n_bad, c), "x": cols, "y_min": y_min, "y_max": y_max}))
    return vstack(hot), vstack(bad)


def draw_cosmic_rays(rng, shape, fraction):
    """Deposited energy (e-) of one exposure's cosmic rays: single pixels and short tracks."""
    ny, nx = shape
    n = rng.poisson(fraction * ny * nx / CR_PIXELS_PER_EVENT)
    single = rng.random(n) < CR_SINGLE
    length = np.where(single, 0.0, rng.uniform(*CR_TRACK_LENGTH, size=n))
    x0 = rng.uniform(-0.5, nx - 0.5, size=n)
    y0 = rng.uniform(-0.5, ny - 0.5, size=n)
    theta = rng.uniform(0.0, math.pi, size=n)
    steps = np.ceil(length / 0.25).astype(int) + 1  # points 0.25 px apart along the track
    event = np.repeat(np.arange(n), steps)
    t = np.minimum((np.arange(event.size) - np.repeat(np.cumsum(steps) - steps, steps)) * 0.25, length[event])
    ix = np.rint(x0[event] + t * np.cos(theta[event])).astype(int)
    iy = np.rint(y0[event] + t * np.sin(theta[event])).astype(int)
    ok = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    hits = np.unique(event[ok].astype(np.int64) * (ny * nx) + iy[ok] * nx + ix[ok])
    ev, pix = np.divmod(hits, ny * nx)
    lo = np.where(single[ev], CR_SINGLE_ENERGY[0], CR_TRACK_ENERGY[0])
    hi = np.where(single[ev], CR_SINGLE_ENERGY[1], CR_TRACK_ENERGY[1])
    energy = np.exp(np.log(lo) + rng.random(pix.size) * np.log(hi / lo))
    return np.bincount(pix, weights=energy, minlength=ny * nx).reshape(shape)


def _amp_columns(chip, nx, table):
    """Per-column value of a per-amplifier quantity: left half, right half."""
    left, right = AMPS[chip]
    return np.where(np.arange(nx) < nx // 2, table[left], table[right])


def expose(rng, source, area, sky, cr, hot, bad, chip, exptime):
    """SCI, ERR (e-) and DQ of one chip of one exposure."""
    ny, nx = source.shape
    dark = np.zeros(source.shape)
    dq = np.zeros(source.shape, np.int16)
    h = hot[hot["chip"] == chip]
    dark[h["y"], h["x"]] = h["rate"] * exptime
    dq[h["y"][h["flagged"]], h["x"][h["flagged"]]] |= DQ_HOT
    # Photons from the sky scale with the pixel's area; the flat field divides it out below.
    raw = rng.poisson(source + sky * area + dark).astype(np.float64) + cr
    rn = _amp_columns(chip, nx, READNOISE)
    gain = _amp_columns(chip, nx, GAIN)
    raw += rng.standard_normal(source.shape) * rn
    for b in bad[bad["chip"] == chip]:
        raw[b["y_min"] : b["y_max"] + 1, b["x"]] *= BAD_COLUMN_KEEP
        dq[b["y_min"] : b["y_max"] + 1, b["x"]] |= DQ_BAD_DETECTOR
    saturated = raw > FULL_WELL
    raw[saturated] = FULL_WELL
    dq[saturated] |= DQ_SATURATED
    raw = np.rint(raw / gain) * gain  # whole ADU, converted back to electrons
    sci = raw / area
    err = np.sqrt(np.maximum(raw, 0.0) + rn**2) / area
    return sci.astype(np.float32), err.astype(np.float32), dq
