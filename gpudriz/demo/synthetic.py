"""Synthetic ACS/WFC-like dithered association with a known truth.

Writes the kind of data MultiDrizzle was built for (manual section 1.2): a
2-point dither with CR-SPLIT=2 at each pointing, four ``_flt.fits`` exposures
of the two WFC chips, and their ``_asn.fits`` association table, together with
``<rootname>_truth.fits``: where every star and galaxy is on the sky and how
bright it is, the sky level of each exposure, every cosmic-ray hit, the hot
pixels and bad columns, and the dither.  The pipeline's demo, its science tests
and the benchmark against AstroDrizzle all run on this data.

What the files model, and how:

* **Geometry.**  One focal-plane distortion polynomial (orders 2 to 4, of the
  size and shape of ACS/WFC's: tens of pixels across a full chip) is
  re-expanded about each chip's reference pixel; its constant and linear parts
  go into the chip's CRVAL and CD matrix and the rest into a TAN-SIP header, as
  in real ACS headers.  The CD matrix has ACS's non-square pixels and ~5 degree
  skew.  For chips smaller than the real 2048 x 4096 the polynomial is scaled
  with the chip width, so the distortion keeps its shape and stays a few pixels.
* **Photometry.**  Like a flat-fielded ACS ``flt`` image: a uniform sky is
  flat, and a source's counts in a pixel are its electrons divided by the
  pixel's area relative to ``IDCSCALE**2`` (:func:`pixel_area_map`), the
  geometric part of the flat field.  Multiplying by the pixel-area map gives
  back ``flux * exptime``; drizzling onto ``IDCSCALE`` pixels does the same.
* **Detector.**  Poisson noise, each amplifier's read noise and gain (the data
  are whole ADU times ATODGN, in electrons), cosmic rays (single pixels and
  short tracks, different in every exposure), hot pixels fixed per chip (most
  flagged 16 in DQ, some not), charge-trap bad columns flagged 4 (ACS's "bad
  detector pixel"), saturation flagged 256 if a pixel passes the full well.
  Cosmic rays are left unflagged: finding them is MultiDrizzle's job.

Only NumPy and Astropy are used, so the data do not depend on the code they
test.  Everything is drawn from ``numpy.random.Generator`` streams seeded by
``seed``: the same call writes byte-identical files.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table, vstack
from astropy.wcs import WCS

__all__ = ["Truth", "make_association", "read_truth", "pixel_area_map", "render_scene", "IDCSCALE"]

log = logging.getLogger("gpudriz")

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

# Scene.  Double-Gaussian PSF (core FWHM 2 px) in detector pixels.
PSF = ((0.85, 0.85), (0.15, 2.2))  # (fraction, sigma px)
PSF_HALF = 9  # stamp half-size, px (4 sigma of the wing)
STAR_FLUX = (10.0, 500.0)  # e-/s, log-uniform: a 50x span, none saturates
STAR_DENSITY = 2.0e-4  # per square pixel of the field
PAIR_FRACTION = 0.1  # stars placed as close companions of another
PAIR_SEPARATION = (2.5, 6.0)  # px
ISOLATION_RADIUS = 10.0  # px
GALAXY_DENSITY = 1.5e-5
GALAXY_FLUX = (30.0, 300.0)  # e-/s
GALAXY_REFF = (0.1, 0.4)  # arcsec, semi-major half-light radius
GALAXY_SERSIC = (1.0, 1.0, 1.0, 1.5, 2.5)  # mostly exponential discs
GALAXY_TRUNCATION = 4.0  # profile cut at this many r_eff (elliptical radius)
GALAXY_SUBSAMPLE = 4

# Detector defects and cosmic rays.
SKY_RANGE = (20.0, 60.0)  # e- per pixel, per exposure
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

EXPSTART_MJD = 52400.25
OVERHEAD_S = 180.0  # between the exposures of the association


@dataclass(eq=False)
class Truth:
    """Everything that went into a synthetic association.

    Pixel positions are 0-based (``image[y, x]``); ``chip`` is the EXTVER of
    the SCI extension (1 = WFC2, 2 = WFC1).

    Attributes
    ----------
    rootname : str
        Association rootname; also the product (output) rootname, as in
        ``<rootname>_asn.fits`` and ``<rootname>_drz.fits``.
    exposures : list of str
        File names of the exposures (``<exp>_flt.fits``), in ASN order.
    pointing : numpy.ndarray
        Pointing index (0 or 1) of each exposure.
    dither : numpy.ndarray
        ``(n_exposures, 2)`` offset (x, y) of each exposure's pointing, in
        undistorted detector pixels: a source at ``(x, y)`` in pointing 0 is
        near ``(x + dx, y + dy)`` in the others.
    sky : numpy.ndarray
        Sky of each exposure, e- per pixel (uniform in the ``flt`` frame).
    exptime : float
        Exposure time of every exposure, s.
    chip_shape : tuple of int
        ``(ny, nx)`` of each chip.
    gain, readnoise : dict
        Per amplifier ``"A"``..``"D"``: e-/ADU and e-.
    stars : astropy.table.Table
        ``ra``, ``dec`` (deg), ``flux`` (total, e-/s), ``isolated`` (no other
        star within 10 px, no galaxy's cut-off radius within 10 px).
    galaxies : astropy.table.Table
        ``ra``, ``dec``, ``flux`` (total of the truncated profile, e-/s),
        ``r_eff`` (arcsec, major axis), ``sersic_n``, ``axis_ratio``, ``pa``
        (major axis, deg east of north), ``r_trunc`` (arcsec, major axis).
    cosmic_rays : astropy.table.Table
        One row per hit pixel: ``exposure`` (index), ``chip``, ``x``, ``y``,
        ``energy`` (deposited e-, before the geometric flat field).
    hot_pixels : astropy.table.Table
        ``chip``, ``x``, ``y``, ``rate`` (excess dark, e-/s), ``flagged``
        (DQ 16 set).
    bad_columns : astropy.table.Table
        ``chip``, ``x``, ``y_min``, ``y_max`` (inclusive rows flagged DQ 4).
    seed : int
        The seed that made it.
    """

    rootname: str
    exposures: list[str]
    pointing: np.ndarray
    dither: np.ndarray
    sky: np.ndarray
    exptime: float
    chip_shape: tuple[int, int]
    gain: dict[str, float]
    readnoise: dict[str, float]
    stars: Table
    galaxies: Table
    cosmic_rays: Table
    hot_pixels: Table
    bad_columns: Table
    seed: int

    @property
    def asn_file(self) -> str:
        """File name of the association table."""
        return f"{self.rootname}_asn.fits"

    def cr_energy(self, exposure: int, chip: int) -> np.ndarray:
        """Deposited cosmic-ray energy of one exposure and chip, as an image.

        Parameters
        ----------
        exposure : int
            Index into ``exposures``.
        chip : int
            EXTVER of the chip (1 or 2).

        Returns
        -------
        numpy.ndarray
            ``chip_shape`` float64 image, e- before the geometric flat field
            (divide by :func:`pixel_area_map` for ``flt`` units).
        """
        image = np.zeros(self.chip_shape)
        rows = self.cosmic_rays[(self.cosmic_rays["exposure"] == exposure) & (self.cosmic_rays["chip"] == chip)]
        image[np.asarray(rows["y"]), np.asarray(rows["x"])] = rows["energy"]
        return image

    def cr_mask(self, exposure: int, chip: int) -> np.ndarray:
        """Boolean image of the pixels a cosmic ray hit (arguments as :meth:`cr_energy`)."""
        return self.cr_energy(exposure, chip) > 0


def make_association(
    directory,
    *,
    chip_shape=(256, 512),
    seed=1,
    rootname="j8demo01",
    exptime=400.0,
    dither=(2.5, 1.5),
    crval=(150.1166, 2.2011),
    pa_v3=40.0,
    gap=50,
    n_stars=None,
    n_galaxies=None,
    cr_fraction=0.0075,
) -> Truth:
    """Write a synthetic ACS/WFC 2-point-dither, CR-SPLIT=2 association.

    Parameters
    ----------
    directory : str or pathlib.Path
        Folder for the files (created if missing; files of the same name are
        overwritten): ``<rootname>{q,r,s,t}_flt.fits``, ``<rootname>_asn.fits``
        and ``<rootname>_truth.fits``.
    chip_shape : tuple of int
        ``(ny, nx)`` of each of the two chips; ACS/WFC's is ``(2048, 4096)``.
    seed : int
        Seed of every random draw; the same seed writes identical files.
    rootname : str
        Association and product rootname (letters and digits).
    exptime : float
        Exposure time of each exposure, s.
    dither : tuple of float
        Offset (x, y) of the second pointing, undistorted pixels.
    crval : tuple of float
        (RA, Dec) in degrees of the centre of the two-chip mosaic at the first
        pointing.
    pa_v3 : float
        Position angle of the telescope's V3 axis, deg.
    gap : int
        Gap between the chips, pixels.
    n_stars, n_galaxies : int or None
        Number of sources; None scales a fixed density to the field.
    cr_fraction : float
        Mean fraction of pixels hit by cosmic rays in each exposure.

    Returns
    -------
    Truth
        What was simulated; also written to ``<rootname>_truth.fits``.
    """
    shape = _check_args(chip_shape, seed, rootname, exptime, dither, crval, pa_v3, gap, n_stars, n_galaxies,
                        cr_fraction)  # fmt: skip
    rootname = rootname.lower()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # Independent streams: the scene does not change when, say, cr_fraction does.
    scene_rng, defect_rng, sky_rng, *exposure_rngs = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(7)
    )
    dithers = np.array([(0.0, 0.0), (float(dither[0]), float(dither[1]))])
    pointing = np.array([0, 0, 1, 1])  # CR-SPLIT=2 at each of two pointings
    names = [f"{rootname}{letter}" for letter in "qrst"]

    cd_global = _global_cd(pa_v3)
    chips = {c: _ChipGeometry(c, shape, gap) for c in CHIPS}
    # A source at undistorted (X, Y) of pointing 0 is at (X + dx, Y + dy) in pointing 1.
    centres = [_tangent_wcs(crval, cd_global).wcs_pix2world([[-dx, -dy]], 0)[0] for dx, dy in dithers]
    headers = {(p, c): chips[c].wcs_header(centres[p], cd_global) for p in range(len(dithers)) for c in CHIPS}
    wcs = {key: WCS(h) for key, h in headers.items()}
    areas = {c: pixel_area_map(wcs[0, c], shape) for c in CHIPS}  # pointings differ only in CRVAL

    stars, galaxies = _draw_scene(scene_rng, chips, dithers, crval, cd_global, n_stars, n_galaxies)
    hot, bad = _draw_defects(defect_rng, shape)
    sky = sky_rng.uniform(*SKY_RANGE, size=len(names))
    sources = {key: _render(w, shape, stars, galaxies, exptime) for key, w in wcs.items()}

    cr_rows = []
    for e, name in enumerate(names):
        rng, p = exposure_rngs[e], pointing[e]
        hdus = [fits.PrimaryHDU(header=_primary_header(name, rootname, e, p, dithers[p], exptime, pa_v3, crval))]
        for c in CHIPS:
            cr = _cosmic_rays(rng, shape, cr_fraction)
            y, x = np.nonzero(cr)
            cr_rows.append((np.full(x.size, e), np.full(x.size, c), x, y, cr[y, x]))
            sci, err, dq = _expose(rng, sources[p, c], areas[c], sky[e], cr, hot, bad, c, exptime)
            hdus += _chip_hdus(c, headers[p, c], name, sci, err, dq)
        fits.HDUList(hdus).writeto(directory / f"{name}_flt.fits", overwrite=True)
        log.info("wrote %s", directory / f"{name}_flt.fits")

    _write_asn(directory / f"{rootname}_asn.fits", rootname, names, pointing)
    cosmic_rays = Table([np.concatenate(col) for col in zip(*cr_rows)], names=("exposure", "chip", "x", "y", "energy"))
    truth = Truth(
        rootname=rootname,
        exposures=[f"{n}_flt.fits" for n in names],
        pointing=pointing,
        dither=dithers[pointing],
        sky=sky,
        exptime=float(exptime),
        chip_shape=shape,
        gain=dict(GAIN),
        readnoise=dict(READNOISE),
        stars=stars,
        galaxies=galaxies,
        cosmic_rays=cosmic_rays,
        hot_pixels=hot,
        bad_columns=bad,
        seed=int(seed),
    )
    _write_truth(directory / f"{rootname}_truth.fits", truth)
    return truth


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


def read_truth(path) -> Truth:
    """Read a ``<rootname>_truth.fits`` written by :func:`make_association`.

    Parameters
    ----------
    path : str or pathlib.Path
        The truth file.

    Returns
    -------
    Truth
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"truth file '{path}' does not exist.")
    try:
        with fits.open(path) as hdul:
            head = hdul[0].header
            tables = {n: Table(hdul[n].data) for n in ("EXPOSURES", "STARS", "GALAXIES", "CRAYS", "HOTPIX", "BADCOLS")}
            exposures = tables["EXPOSURES"]
            return Truth(
                rootname=head["ROOTNAME"],
                exposures=[str(n) for n in exposures["filename"]],
                pointing=np.asarray(exposures["pointing"], dtype=int),
                dither=np.column_stack([exposures["dither_x"], exposures["dither_y"]]).astype(float),
                sky=np.asarray(exposures["sky"], dtype=float),
                exptime=float(head["EXPTIME"]),
                chip_shape=(int(head["CHIPNY"]), int(head["CHIPNX"])),
                gain={a: float(head[f"ATODGN{a}"]) for a in "ABCD"},
                readnoise={a: float(head[f"READNSE{a}"]) for a in "ABCD"},
                stars=tables["STARS"],
                galaxies=tables["GALAXIES"],
                cosmic_rays=tables["CRAYS"],
                hot_pixels=tables["HOTPIX"],
                bad_columns=tables["BADCOLS"],
                seed=int(head["SEED"]),
            )
    except (OSError, KeyError) as exc:
        raise ValueError(f"'{path}' is not a truth file written by make_association ({exc}).") from None


# --------------------------------------------------------------------------- checks


def _check_args(chip_shape, seed, rootname, exptime, dither, crval, pa_v3, gap, n_stars, n_galaxies, cr_fraction):
    """Validate make_association's arguments; returns the chip shape as ints."""
    try:
        ny, nx = (int(n) for n in chip_shape)
        ok = (ny, nx) == tuple(chip_shape)
    except (TypeError, ValueError):
        ok = False
    if not ok or ny < 64 or nx < 64:
        raise ValueError(f"chip_shape must be two integers (ny, nx) of at least 64 each, not {chip_shape!r}.")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, not {seed!r}.")
    if not isinstance(rootname, str) or not rootname.isascii() or not rootname.isalnum():
        raise ValueError(f"rootname must be a non-empty string of letters and digits, not {rootname!r}.")
    if not (_is_number(exptime) and exptime > 0):
        raise ValueError(f"exptime must be a positive number of seconds, not {exptime!r}.")
    if not _are_numbers(dither, 2):
        raise ValueError(f"dither must be two finite pixel offsets (dx, dy), not {dither!r}.")
    if not (_are_numbers(crval, 2) and abs(crval[1]) < 89.0):
        raise ValueError(f"crval must be (RA, Dec) in degrees with |Dec| < 89, not {crval!r}.")
    if not _is_number(pa_v3):
        raise ValueError(f"pa_v3 must be an angle in degrees, not {pa_v3!r}.")
    if not isinstance(gap, (int, np.integer)) or gap < 0:
        raise ValueError(f"gap must be a non-negative whole number of pixels, not {gap!r}.")
    for name, value in (("n_stars", n_stars), ("n_galaxies", n_galaxies)):
        if value is not None and (not isinstance(value, (int, np.integer)) or value < 0):
            raise ValueError(f"{name} must be None or a non-negative integer, not {value!r}.")
    if not (_is_number(cr_fraction) and 0 <= cr_fraction <= 0.1):
        raise ValueError(f"cr_fraction must be a fraction of pixels between 0 and 0.1, not {cr_fraction!r}.")
    return ny, nx


def _is_number(value):
    real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    return real and bool(np.isfinite(value))


def _are_numbers(values, n):
    try:
        return len(values) == n and all(_is_number(v) for v in values)
    except TypeError:
        return False


# --------------------------------------------------------------------------- geometry


def _global_cd(pa_v3):
    """CD matrix (deg/px) of the undistorted focal plane: scales, skew, roll."""
    th = math.radians(pa_v3 + Y_AXIS_FROM_V3_DEG)  # y axis, east of north
    px = th - math.radians(AXIS_ANGLE_DEG)  # x axis, 85.3 deg clockwise of y (standard parity)
    sx, sy = AXIS_SCALE
    return np.array([[sx * math.sin(px), sy * math.sin(th)], [sx * math.cos(px), sy * math.cos(th)]]) / 3600.0


def _tangent_wcs(crval, cd):
    """Undistorted focal plane: 0-based pixel (X, Y) is the offset from ``crval``."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = crval
    w.wcs.crpix = [1.0, 1.0]
    w.wcs.cd = cd
    return w


def _distortion(coefficients, nx):
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


def _poly_eval(c, u, v):
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


class _ChipGeometry:
    """One chip's place in the focal plane and its SIP header terms.

    The reference pixel is ACS's, ``(nx/2, ny/2)``; SCI,1 (WFC2) lies below the
    mosaic centre, SCI,2 (WFC1) above, ``gap`` pixels apart.
    """

    def __init__(self, chip, shape, gap):
        ny, nx = shape
        self.shape = shape
        self.crpix = (nx / 2.0, ny / 2.0)
        self.v0 = (ny + gap) / 2.0 * (-1.0 if chip == 1 else 1.0)
        self.fx = _distortion(DISTORTION_X, nx)
        self.fy = _distortion(DISTORTION_Y, nx)
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
        return big_u + _poly_eval(self.fx, big_u, big_v), big_v + _poly_eval(self.fy, big_u, big_v)

    def wcs_header(self, centre, cd_global):
        """SCI-extension WCS cards for a pointing whose mosaic centre is ``centre``."""
        crval = _tangent_wcs(centre, cd_global).wcs_pix2world([self.origin], 0)[0]
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


# --------------------------------------------------------------------------- scene


def _draw_scene(rng, chips, dithers, crval, cd_global, n_stars, n_galaxies):
    """Stars and galaxies over the union of both pointings' footprints."""
    xs, ys = [], []
    for chip in chips.values():
        ny, nx = chip.shape
        t = np.linspace(0.0, 1.0, 64)
        edge_x = np.concatenate([t * (nx - 1), t * (nx - 1), np.zeros(64), np.full(64, nx - 1.0)])
        edge_y = np.concatenate([np.zeros(64), np.full(64, ny - 1.0), t * (ny - 1), t * (ny - 1)])
        fx, fy = chip.focal_plane(edge_x, edge_y)
        for dx, dy in dithers:
            xs.append(fx - dx)
            ys.append(fy - dy)
    margin = 15.0
    lo = np.array([np.min(np.concatenate(xs)), np.min(np.concatenate(ys))]) - margin
    hi = np.array([np.max(np.concatenate(xs)), np.max(np.concatenate(ys))]) + margin
    area = float(np.prod(hi - lo))
    if n_stars is None:
        n_stars = round(STAR_DENSITY * area)
    if n_galaxies is None:
        n_galaxies = round(GALAXY_DENSITY * area)

    n_pairs = int(PAIR_FRACTION * n_stars) if n_stars > 1 else 0
    star_xy = rng.uniform(lo, hi, size=(n_stars - n_pairs, 2))
    hosts = rng.integers(0, len(star_xy), size=n_pairs)
    sep = rng.uniform(*PAIR_SEPARATION, size=n_pairs)
    angle = rng.uniform(0.0, 2 * math.pi, size=n_pairs)
    companions = star_xy[hosts] + sep[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])
    star_xy = np.concatenate([star_xy, companions])
    flux = np.exp(rng.uniform(*np.log(STAR_FLUX), size=n_stars))

    gal_xy = rng.uniform(lo, hi, size=(n_galaxies, 2))
    gal = {
        "flux": np.exp(rng.uniform(*np.log(GALAXY_FLUX), size=n_galaxies)),
        "r_eff": rng.uniform(*GALAXY_REFF, size=n_galaxies),
        "sersic_n": rng.choice(GALAXY_SERSIC, size=n_galaxies),
        "axis_ratio": rng.uniform(0.3, 0.9, size=n_galaxies),
        "pa": rng.uniform(0.0, 180.0, size=n_galaxies),
    }
    gal["r_trunc"] = GALAXY_TRUNCATION * gal["r_eff"]

    isolated = _isolated(star_xy, gal_xy, gal["r_trunc"] / IDCSCALE)
    sky = _tangent_wcs(crval, cd_global)
    ra, dec = sky.wcs_pix2world(star_xy[:, 0], star_xy[:, 1], 0)
    stars = Table({"ra": ra, "dec": dec, "flux": flux, "isolated": isolated})
    gra, gdec = sky.wcs_pix2world(gal_xy[:, 0], gal_xy[:, 1], 0)
    galaxies = Table({"ra": gra, "dec": gdec, **gal})
    return stars, galaxies


def _isolated(star_xy, gal_xy, gal_radius):
    """No other star within ISOLATION_RADIUS, no galaxy's cut-off within it either."""
    out = np.ones(len(star_xy), bool)
    for start in range(0, len(star_xy), 512):  # rows in blocks: bounded memory at full size
        block = star_xy[start : start + 512]
        d = np.hypot(*(block[:, None, :] - star_xy[None, :, :]).transpose(2, 0, 1))
        d[np.arange(len(block)), np.arange(start, start + len(block))] = np.inf
        near = (d < ISOLATION_RADIUS).any(axis=1)
        if len(gal_xy):
            dg = np.hypot(*(block[:, None, :] - gal_xy[None, :, :]).transpose(2, 0, 1))
            near |= (dg < gal_radius[None, :] + ISOLATION_RADIUS).any(axis=1)
        out[start : start + 512] = ~near
    return out


def _near_chip(w, ra, dec, shape, margin):
    """Indices and exact pixel positions of the sources within ``margin`` of the chip."""
    ny, nx = shape
    if len(ra) == 0:
        return np.zeros(0, int), np.zeros(0), np.zeros(0)
    # The core (undistorted) transform is within the SIP size of the truth:
    # enough to pick candidates before the iterative inverse.
    x, y = w.wcs_world2pix(ra, dec, 0)
    slack = margin + _sip_size(w, shape)
    pick = np.nonzero((x > -slack) & (x < nx - 1 + slack) & (y > -slack) & (y < ny - 1 + slack))[0]
    if pick.size == 0:
        return pick, np.zeros(0), np.zeros(0)
    x, y = w.all_world2pix(np.asarray(ra)[pick], np.asarray(dec)[pick], 0, tolerance=1e-8, maxiter=100)
    inside = (x > -margin) & (x < nx - 1 + margin) & (y > -margin) & (y < ny - 1 + margin)
    return pick[inside], x[inside], y[inside]


def _sip_size(w, shape):
    if w.sip is None:  # e.g. a drizzled product's TAN frame
        return 0.0
    ny, nx = shape
    corners_u = np.array([0, nx - 1, 0, nx - 1]) + 1.0 - w.sip.crpix[0]
    corners_v = np.array([0, 0, ny - 1, ny - 1]) + 1.0 - w.sip.crpix[1]
    shift = np.hypot(_poly_eval(w.sip.a, corners_u, corners_v), _poly_eval(w.sip.b, corners_u, corners_v))
    return 1.5 * float(np.max(shift))


def _erf(x):
    # NumPy has no erf (and SciPy is not a dependency); separable stamps need
    # it only at pixel edges along each axis, few enough for math.erf.
    return np.frompyfunc(math.erf, 1, 1)(x).astype(np.float64)


def render_scene(truth, wcs, shape, *, stars=None, galaxies=None) -> np.ndarray:
    """The noiseless scene (stars and galaxies, e-/s per pixel) on any pixel grid.

    Sources are integrated over the pixels of ``wcs`` (e.g. a drizzled
    product's frame) with the PSF in those pixels, as for the exposures:
    what a perfect, infinitely deep image on that grid would hold, before the
    broadening that drizzling itself adds.

    Parameters
    ----------
    truth : Truth
    wcs : astropy.wcs.WCS
        Celestial WCS of the grid.
    shape : tuple of int
        ``(ny, nx)``.
    stars, galaxies : astropy.table.Table, optional
        Render these rows instead of all of ``truth``'s (e.g. one star, or
        ``truth.galaxies[:0]`` for none).
    """
    stars = truth.stars if stars is None else stars
    galaxies = truth.galaxies if galaxies is None else galaxies
    return _render(wcs, tuple(shape), stars, galaxies, 1.0)


def _render(w, shape, stars, galaxies, exptime):
    """Noiseless electrons from the sources landing on each pixel of one chip."""
    image = np.zeros(shape)
    _add_stars(image, w, stars, exptime)
    _add_galaxies(image, w, galaxies, exptime)
    return image


def _add_stars(image, w, stars, exptime):
    """Pixel-integrated double-Gaussian stars, each normalised to flux * exptime."""
    idx, x, y = _near_chip(w, stars["ra"], stars["dec"], image.shape, PSF_HALF + 1)
    if idx.size == 0:
        return
    offsets = np.arange(-PSF_HALF, PSF_HALF + 1)
    ix = np.rint(x).astype(int)[:, None] + offsets
    iy = np.rint(y).astype(int)[:, None] + offsets
    stamps = 0.0
    for fraction, sigma in PSF:
        s = math.sqrt(2.0) * sigma
        gx = np.diff(_erf((np.append(ix - 0.5, ix[:, -1:] + 0.5, axis=1) - x[:, None]) / s), axis=1)
        gy = np.diff(_erf((np.append(iy - 0.5, iy[:, -1:] + 0.5, axis=1) - y[:, None]) / s), axis=1)
        stamps = stamps + fraction * gy[:, :, None] * gx[:, None, :]
    # Normalise over the whole stamp, before the chip edge cuts it.
    stamps *= (np.asarray(stars["flux"])[idx] * exptime / stamps.sum(axis=(1, 2)))[:, None, None]
    _accumulate(image, iy[:, :, None], ix[:, None, :], stamps)


def _accumulate(image, iy, ix, values):
    """Add ``values`` at pixels ``(iy, ix)`` (broadcast together); off-image ones are dropped."""
    ny, nx = image.shape
    iy, ix, values = np.broadcast_arrays(iy, ix, values)
    ok = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    flat = iy[ok] * nx + ix[ok]
    image += np.bincount(flat, weights=values[ok], minlength=image.size).reshape(image.shape)


def _sersic_b(n):
    """b_n of the Sersic profile (Ciotti & Bertin 1999 asymptotic series)."""
    return 2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n) + 46.0 / (25515.0 * n * n)


def _add_galaxies(image, w, galaxies, exptime):
    """Truncated elliptical Sersic profiles, subsampled, through the local WCS.

    Each galaxy's centre goes through the full WCS; its shape through the
    WCS's Jacobian there (the distortion changes by < 0.02 px across a stamp).
    """
    # Generous: no chip's local scale is below 0.8 IDCSCALE.
    reach = float(np.max(galaxies["r_trunc"], initial=0.0)) / (0.8 * IDCSCALE)
    idx, xs, ys = _near_chip(w, galaxies["ra"], galaxies["dec"], image.shape, reach + 2)
    sub = (np.arange(GALAXY_SUBSAMPLE) + 0.5) / GALAXY_SUBSAMPLE - 0.5
    for i, x0, y0 in zip(idx, xs, ys):
        g = galaxies[i]
        ra0, dec0 = float(g["ra"]), float(g["dec"])
        probe = w.all_pix2world(np.array([[x0 + 0.5, y0], [x0 - 0.5, y0], [x0, y0 + 0.5], [x0, y0 - 0.5]]), 0)
        pe = ((probe[:, 0] - ra0 + 180.0) % 360.0 - 180.0) * math.cos(math.radians(dec0)) * 3600.0
        pn = (probe[:, 1] - dec0) * 3600.0
        # arcsec (east, north) per pixel (x, y), by central differences
        jac = np.array([[pe[0] - pe[1], pe[2] - pe[3]], [pn[0] - pn[1], pn[2] - pn[3]]])
        half = int(math.ceil(float(g["r_trunc"]) / np.linalg.svd(jac, compute_uv=False)[-1])) + 1
        cx, cy = int(round(x0)), int(round(y0))
        grid = np.arange(-half, half + 1)
        # Subpixel offsets from the galaxy centre, (pixel, subsample) on each axis.
        dx = (cx + grid[:, None] + sub[None, :] - x0).ravel()
        dy = (cy + grid[:, None] + sub[None, :] - y0).ravel()
        east = jac[0, 0] * dx[None, :] + jac[0, 1] * dy[:, None]
        north = jac[1, 0] * dx[None, :] + jac[1, 1] * dy[:, None]
        pa = math.radians(float(g["pa"]))
        major = east * math.sin(pa) + north * math.cos(pa)
        minor = east * math.cos(pa) - north * math.sin(pa)
        r = np.hypot(major, minor / float(g["axis_ratio"]))
        n = float(g["sersic_n"])
        profile = np.where(r <= float(g["r_trunc"]), np.exp(-_sersic_b(n) * (r / float(g["r_eff"])) ** (1.0 / n)), 0.0)
        size = 2 * half + 1
        stamp = profile.reshape(size, GALAXY_SUBSAMPLE, size, GALAXY_SUBSAMPLE).sum(axis=(1, 3))
        stamp *= float(g["flux"]) * exptime / stamp.sum()
        _add_stamp(image, cy - half, cx - half, stamp)


def _add_stamp(image, y0, x0, stamp):
    """Add ``stamp`` with its corner at pixel ``(y0, x0)``, cut at the image edges."""
    ny, nx = image.shape
    sy, sx = stamp.shape
    ya, yb = max(y0, 0), min(y0 + sy, ny)
    xa, xb = max(x0, 0), min(x0 + sx, nx)
    if ya < yb and xa < xb:
        image[ya:yb, xa:xb] += stamp[ya - y0 : yb - y0, xa - x0 : xb - x0]


# --------------------------------------------------------------------------- detector


def _draw_defects(rng, shape):
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


def _cosmic_rays(rng, shape, fraction):
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


def _expose(rng, source, area, sky, cr, hot, bad, chip, exptime):
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


# --------------------------------------------------------------------------- files


def _primary_header(name, rootname, index, pointing, dither, exptime, pa_v3, crval):
    start = EXPSTART_MJD + index * (exptime + OVERHEAD_S) / 86400.0
    when = datetime(1858, 11, 17) + timedelta(days=start)
    h = fits.Header()
    h["NEXTEND"] = (6, "number of standard extensions")
    h["FILENAME"] = (f"{name}_flt.fits", "name of file")
    h["FILETYPE"] = ("SCI", "type of data found in data file")
    h["TELESCOP"] = ("HST", "telescope used to acquire data")
    h["INSTRUME"] = ("ACS", "identifier for instrument used to acquire data")
    h["EQUINOX"] = (2000.0, "equinox of celestial coord. system")
    h["ROOTNAME"] = (name, "rootname of the observation set")
    h["IMAGETYP"] = ("EXT", "type of exposure identifier")
    h["PRIMESI"] = ("ACS", "instrument designated as prime")
    h["TARGNAME"] = ("SYNTHETIC", "proposer's target name")
    h["RA_TARG"] = (float(crval[0]), "right ascension of the target (deg) (J2000)")
    h["DEC_TARG"] = (float(crval[1]), "declination of the target (deg) (J2000)")
    h["DATE-OBS"] = (when.strftime("%Y-%m-%d"), "UT date of start of observation (yyyy-mm-dd)")
    h["TIME-OBS"] = (when.strftime("%H:%M:%S"), "UT time of start of observation (hh:mm:ss)")
    h["EXPSTART"] = (start, "exposure start time (Modified Julian Date)")
    h["EXPEND"] = (start + exptime / 86400.0, "exposure end time (Modified Julian Date)")
    h["EXPTIME"] = (float(exptime), "exposure duration (seconds)--calculated")
    h["PA_V3"] = (float(pa_v3), "position angle of V3-axis of HST (deg)")
    h["POSTARG1"] = (float(dither[0]) * IDCSCALE, "POSTARG in axis 1 direction")
    h["POSTARG2"] = (float(dither[1]) * IDCSCALE, "POSTARG in axis 2 direction")
    h["OBSTYPE"] = ("IMAGING", "observation type - imaging or spectroscopic")
    h["OBSMODE"] = ("ACCUM", "operating mode")
    h["SUBARRAY"] = (False, "data from a subarray (T) or full frame (F)")
    h["DETECTOR"] = ("WFC", "detector in use: WFC, HRC, or SBC")
    h["FILTER1"] = ("F606W", "element selected from filter wheel 1")
    h["FILTER2"] = ("CLEAR2L", "element selected from filter wheel 2")
    h["CCDAMP"] = ("ABCD", "CCD amplifier read out (A,B,C,D)")
    h["CCDGAIN"] = (1.0, "commanded gain of CCD")
    for amp in "ABCD":
        h[f"ATODGN{amp}"] = (GAIN[amp], f"calibrated gain for amplifier {amp}")
    for amp in "ABCD":
        h[f"READNSE{amp}"] = (READNOISE[amp], f"calibrated read noise for amplifier {amp}")
    h["CRSPLIT"] = (2, "number of cosmic ray split exposures")
    h["ASN_ID"] = (rootname.upper(), "unique identifier assigned to association")
    h["ASN_TAB"] = (f"{rootname}_asn.fits", "name of the association table")
    h["ASN_MTYP"] = (f"EXP-CR{pointing + 1}", "Role of the Member in the Association")
    for key in ("IDCTAB", "DGEOFILE", "NPOLFILE", "D2IMFILE"):
        h[key] = ("N/A", "distortion is in the SIP header only")
    return h


def _chip_hdus(chip, wcs_header, name, sci, err, dq):
    hdus = []
    for extname, data, unit in (("SCI", sci, "ELECTRONS"), ("ERR", err, "ELECTRONS"), ("DQ", dq, "UNITLESS")):
        h = fits.Header()
        h["EXTNAME"] = (extname, "extension name")
        h["EXTVER"] = (chip, "extension version")
        h["INHERIT"] = (True, "inherit the primary header")
        h["EXPNAME"] = (name, "exposure identifier")
        h["BUNIT"] = (unit, "brightness units")
        h["CCDCHIP"] = (CCDCHIP[chip], "CCD chip (1 or 2)")
        h.extend(wcs_header)
        if extname == "SCI":
            h["MEANDARK"] = (0.0, "average of the dark values subtracted (e-)")
            h["PHOTMODE"] = (f"ACS WFC{CCDCHIP[chip]} F606W", "observation con")
            h["PHOTFLAM"] = (7.8624e-20, "inverse sensitivity, ergs/cm2/Ang/electron")
            h["PHOTZPT"] = (-21.1, "ST magnitude zero point")
            h["PHOTPLAM"] = (5921.1, "Pivot wavelength (Angstroms)")
        hdus.append(fits.ImageHDU(data, header=h))
    return hdus


def _write_asn(path, rootname, names, pointing):
    root = rootname.upper()
    rows = [(n.upper(), f"EXP-CR{p + 1}", True) for n, p in zip(names, pointing)]
    # Manual section 1.2's layout: the dither product, then one CR-combined
    # product per pointing (not made here, so not present).
    rows += [(root, "PROD-DTH", False), (f"{root}1", "PROD-CR1", False), (f"{root}2", "PROD-CR2", False)]
    cols = [
        fits.Column(name="MEMNAME", format="14A", array=[r[0] for r in rows]),
        fits.Column(name="MEMTYPE", format="14A", array=[r[1] for r in rows]),
        fits.Column(name="MEMPRSNT", format="L", array=[r[2] for r in rows]),
    ]
    table = fits.BinTableHDU.from_columns(cols, name="ASN")
    primary = fits.Header()
    for key, value in (("TELESCOP", "HST"), ("INSTRUME", "ACS"), ("DETECTOR", "WFC"), ("ROOTNAME", rootname),
                       ("ASN_ID", root), ("ASN_TAB", path.name)):  # fmt: skip
        primary[key] = value
    fits.HDUList([fits.PrimaryHDU(header=primary), table]).writeto(path, overwrite=True)


def _write_truth(path, truth):
    head = fits.Header()
    head["ROOTNAME"] = truth.rootname
    head["SEED"] = truth.seed
    head["EXPTIME"] = truth.exptime
    head["CHIPNY"], head["CHIPNX"] = truth.chip_shape
    for amp in "ABCD":
        head[f"ATODGN{amp}"] = truth.gain[amp]
        head[f"READNSE{amp}"] = truth.readnoise[amp]
    exposures = Table(
        {
            "filename": truth.exposures,
            "pointing": truth.pointing,
            "dither_x": truth.dither[:, 0],
            "dither_y": truth.dither[:, 1],
            "sky": truth.sky,
        }
    )
    hdus = [fits.PrimaryHDU(header=head)]
    tables = {
        "EXPOSURES": exposures,
        "STARS": truth.stars,
        "GALAXIES": truth.galaxies,
        "CRAYS": truth.cosmic_rays,
        "HOTPIX": truth.hot_pixels,
        "BADCOLS": truth.bad_columns,
    }
    for name, table in tables.items():
        hdu = fits.table_to_hdu(table)
        hdu.name = name
        hdus.append(hdu)
    fits.HDUList(hdus).writeto(path, overwrite=True)
