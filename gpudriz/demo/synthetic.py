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
test (an import-linter contract in ``pyproject.toml`` keeps it so).  Everything
is drawn from ``numpy.random.Generator`` streams seeded by ``seed``: the same
call writes byte-identical files.

The model is in three modules, whose names this one re-exports:
:mod:`gpudriz.demo.instrument` (geometry, pixel areas, detector),
:mod:`gpudriz.demo.scene` (stars and galaxies, and :func:`render_scene`) and
:mod:`gpudriz.demo.truth` (:class:`Truth` and its file); this one writes the
association (:func:`make_association`: exposures, headers, ASN table).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

# The parts of the model, re-exported: this module is where users and tests find them.
from gpudriz.demo.instrument import (
    CCDCHIP,
    CHIPS,
    DISTORTION_X,
    DISTORTION_Y,
    GAIN,
    IDCSCALE,
    READNOISE,
    ChipGeometry,
    distortion_polynomial,
    draw_cosmic_rays,
    draw_defects,
    expose,
    global_cd,
    pixel_area_map,
    tangent_wcs,
)
from gpudriz.demo.scene import (
    PSF_HALF,
    add_galaxies,
    draw_scene,
    render_scene,
    render_sources,
)
from gpudriz.demo.truth import Truth, read_truth, write_truth

__all__ = [
    "Truth", "make_association", "read_truth", "pixel_area_map", "render_scene", "IDCSCALE",
    "DISTORTION_X", "DISTORTION_Y", "PSF_HALF", "ChipGeometry", "distortion_polynomial", "global_cd",
    "tangent_wcs", "add_galaxies", "primary_header", "chip_hdus",
]  # fmt: skip

log = logging.getLogger("gpudriz")

SKY_RANGE = (20.0, 60.0)  # e- per pixel, per exposure

EXPSTART_MJD = 52400.25
OVERHEAD_S = 180.0  # between the exposures of the association


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

    cd_global = global_cd(pa_v3)
    chips = {c: ChipGeometry(c, shape, gap) for c in CHIPS}
    # A source at undistorted (X, Y) of pointing 0 is at (X + dx, Y + dy) in pointing 1.
    centres = [tangent_wcs(crval, cd_global).wcs_pix2world([[-dx, -dy]], 0)[0] for dx, dy in dithers]
    headers = {(p, c): chips[c].wcs_header(centres[p], cd_global) for p in range(len(dithers)) for c in CHIPS}
    wcs = {key: WCS(h) for key, h in headers.items()}
    areas = {c: pixel_area_map(wcs[0, c], shape) for c in CHIPS}  # pointings differ only in CRVAL

    stars, galaxies = draw_scene(scene_rng, chips, dithers, crval, cd_global, n_stars, n_galaxies)
    hot, bad = draw_defects(defect_rng, shape)
    sky = sky_rng.uniform(*SKY_RANGE, size=len(names))
    sources = {key: render_sources(w, shape, stars, galaxies, exptime) for key, w in wcs.items()}

    cr_rows = []
    for e, name in enumerate(names):
        rng, p = exposure_rngs[e], pointing[e]
        hdus = [fits.PrimaryHDU(header=primary_header(name, rootname, e, p, dithers[p], exptime, pa_v3, crval))]
        for c in CHIPS:
            cr = draw_cosmic_rays(rng, shape, cr_fraction)
            y, x = np.nonzero(cr)
            cr_rows.append((np.full(x.size, e), np.full(x.size, c), x, y, cr[y, x]))
            sci, err, dq = expose(rng, sources[p, c], areas[c], sky[e], cr, hot, bad, c, exptime)
            hdus += chip_hdus(c, headers[p, c], name, sci, err, dq)
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
    write_truth(directory / f"{rootname}_truth.fits", truth)
    return truth


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



# --------------------------------------------------------------------------- files


def primary_header(name, rootname, index, pointing, dither, exptime, pa_v3, crval):
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


def chip_hdus(chip, wcs_header, name, sci, err, dq):
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
