"""blot: step 6 of MultiDrizzle (manual section 1.4).

The median is blotted back to every chip (electrons, sky not included,
``<rootname>_sci<n>_blt.fits``).  Besides each blot the step writes what the
blotted median adds to the variance of driz_cr's ``D - B``
(``_bltvar.fits``, electrons squared): ``var(B) - 2 cov(D, B)`` from the
number of good values of the median at each pixel (the nearest pixel's),
the drizzle and blot's smoothing measured through this chip's geometry and
the chip's noise predicted from the blot, ``|B + sky| + rn**2``
(:mod:`gpudriz.pipeline.steps.median_noise`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

from gpudriz.backend.arrays import to_host, to_xp
from gpudriz.blot import blot_image
from gpudriz.pipeline.geometry.outframe import OutputFrame
from gpudriz.pipeline.io import products
from gpudriz.pipeline.io.provenance import Provenance
from gpudriz.pipeline.state import ChipInput, MedianImage
from gpudriz.pipeline.steps.chipdata import backend_of, pixmap_to, scale_ratio
from gpudriz.pipeline.steps.median_noise import (
    measure_drizzle_blot_kernel,
    median_term_table,
)

__all__ = ["BlotParams", "BlotResult", "read_median", "blot_chip"]


@dataclass(frozen=True)
class BlotParams:
    """The blot step's parameters, and those of the drizzle and median it undoes (noise term)."""

    blot_interp: str
    blot_sinscl: float
    driz_sep_kernel: str
    driz_sep_pixfrac: float
    combine_type: str
    combine_nlow: int
    combine_nhigh: int

    @classmethod
    def from_pars(cls, pars) -> BlotParams:
        """From the run's :class:`~gpudriz.pipeline.config.parameters.Parameters`."""
        return cls(pars["blot_interp"], pars["blot_sinscl"], pars["driz_sep_kernel"],
                   pars["driz_sep_pixfrac"], pars["combine_type"], pars["combine_nlow"],
                   pars["combine_nhigh"])  # fmt: skip


@dataclass(frozen=True)
class BlotResult:
    """The files the blot of one chip wrote.

    Attributes
    ----------
    blot_path : Path
        The blotted median (electrons, sky not included).
    median_var_path : Path
        The median's term of driz_cr's variance (electrons squared).
    """

    blot_path: Path
    median_var_path: Path


def read_median(median: MedianImage, backend):
    """The median and its counts, on the backend, both float32 (the counts are blotted too)."""
    xp = backend_of(backend).xp
    med = to_xp(fits.getdata(median.path), xp, np.float32)
    counts = to_xp(fits.getdata(median.count_path), xp, np.float32)
    return med, counts


def blot_chip(chip: ChipInput, med, counts, nimages: int, frame: OutputFrame, params: BlotParams,
              backend, folder, prov: Provenance, pixmap=None, origin=None, variances=None) -> BlotResult:  # fmt: skip
    """The median blotted back to one chip, and its noise term, written to ``folder``.

    Parameters
    ----------
    chip : ChipInput
        The chip (its WCS, exposure time, read noise and sky).
    med, counts : arrays
        The median and its counts (:func:`read_median`).
    nimages : int
        How many single images the median combined.
    frame : OutputFrame
        The separate frame (the median's).
    params : BlotParams
    backend : str or Backend
    folder : Path
    prov : Provenance
    pixmap : array, optional
        The chip's pixmap to ``frame`` if driz_separate kept it; computed when None.
    origin : (int, int), optional
        Pixel ``(x0, y0)`` of ``frame`` at which ``med`` and ``counts`` start,
        when they are a window of the median (mosaic mode) rather than all of
        it: the pixmap is shifted by it, exactly (whole numbers).
    variances : array, optional
        The median's :func:`~gpudriz.pipeline.steps.median_noise.statistic_variances`
        for ``nimages`` (computed here when None).

    Returns
    -------
    BlotResult
    """
    be = backend_of(backend)
    xp = be.xp
    med = to_xp(med, xp, np.float32)
    counts = to_xp(counts, xp, np.float32)
    c = chip.chip
    s = scale_ratio(c, frame)
    if pixmap is None:
        pixmap = pixmap_to(c, frame, be)  # once for both blots
    # Where the chip's pixels fall in the arrays given (a window of the frame, or all of it).
    at = pixmap if origin is None else pixmap - xp.asarray(origin, dtype=pixmap.dtype)
    blotted = blot_image(med, at, interp=params.blot_interp, sinscl=params.blot_sinscl,
                         iscale=c.exptime / (s * s), backend=be)  # fmt: skip
    header = c.wcs.to_header(relax=True)
    path = Path(folder) / f"{chip.rootname}_sci{c.extver}_blt.fits"
    products.write_image(path, to_host(blotted), header, prov, bunit="ELECTRONS")
    v, k0 = measure_drizzle_blot_kernel(
        pixmap, kernel=params.driz_sep_kernel, pixfrac=params.driz_sep_pixfrac,
        pixel_scale_ratio=s, interp=params.blot_interp, sinscl=params.blot_sinscl, backend=be,
    )  # fmt: skip
    table = median_term_table(params.combine_type, nimages, params.combine_nlow,
                              params.combine_nhigh, v, k0, variances)  # fmt: skip
    # Each pixel's count of good values, at the median pixel the nearest-neighbour blot reads
    # (0 off the median): the blot kernel itself, on either backend.
    m = blot_image(counts, at, interp="nearest", fillval=0.0, backend=be).astype(xp.int32)
    rn = to_xp(c.rdnoise_map(), xp, np.float32)
    var_d = xp.abs(blotted + xp.float32(chip.sky)) + rn * rn
    var_path = Path(folder) / f"{chip.rootname}_sci{c.extver}_bltvar.fits"
    products.write_image(var_path, to_host(xp.take(to_xp(table, xp), m) * var_d), header, prov,
                         bunit="ELECTRONS2")  # fmt: skip
    return BlotResult(path, var_path)
