"""A synthetic mosaic: N exposures on a grid of overlapping pointings, with a known truth.

The same ACS/WFC-like instrument as :func:`gpudriz.demo.synthetic.make_association`
(two distorted chips per exposure, stars and galaxies, Poisson and read noise,
cosmic rays, hot pixels, bad columns), observed at ``N / 2`` pointings laid out
on a near-square grid stepped by ~70% of the exposure's footprint, so that
neighbours overlap; a CR-SPLIT pair (two exposures) at each pointing, each
pointing with a small sub-pixel jitter; a different sky level in every
exposure.  Writes the ``_flt.fits`` files, ``mosaic_inputs.lis`` (an @file
naming them) and ``<rootname>_truth.fits`` (:class:`~gpudriz.demo.truth.Truth`:
``pointing`` is the pointing index of each exposure, ``dither`` its offset).

Only NumPy and Astropy are used (an import-linter contract keeps it so).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from gpudriz.demo.instrument import (
    CHIPS,
    GAIN,
    READNOISE,
    ChipGeometry,
    draw_cosmic_rays,
    draw_defects,
    expose,
    global_cd,
    pixel_area_map,
    tangent_wcs,
)
from gpudriz.demo.scene import draw_scene, render_sources
from gpudriz.demo.synthetic import SKY_RANGE, chip_hdus, primary_header
from gpudriz.demo.truth import Truth, write_truth

__all__ = ["make_mosaic", "mosaic_grid", "MOSAIC_LIST", "MOSAIC_ROOTNAME"]

#: The @file the mosaic's exposures are listed in.
MOSAIC_LIST = "mosaic_inputs.lis"
MOSAIC_ROOTNAME = "j8mos"
STEP_FRACTION = 0.7  # grid step, fraction of the exposure's footprint
JITTER = 0.5  # px, the largest sub-pixel offset of a pointing from its grid node


def mosaic_grid(n_pointings):
    """``(columns, rows)`` of the near-square grid that holds ``n_pointings``."""
    cols = math.ceil(math.sqrt(n_pointings))
    return cols, math.ceil(n_pointings / cols)


def make_mosaic(folder, n_exposures, *, chip_shape=(64, 128), seed=1, rootname=MOSAIC_ROOTNAME, exptime=400.0,
                crval=(150.1166, 2.2011), pa_v3=40.0, gap=8, cr_fraction=0.0075) -> Truth:  # fmt: skip
    """Write a synthetic mosaic of ``n_exposures`` (even, >= 2) CR-SPLIT exposures in ``folder``.

    Parameters
    ----------
    folder : str or pathlib.Path
        Created if missing; files of the same names are overwritten.
    n_exposures : int
        Number of exposures: two (a CR-SPLIT pair) at each of ``n_exposures / 2`` pointings.
    chip_shape : tuple of int
        ``(ny, nx)`` of each of the two chips.
    seed : int
        Seed of every random draw.
    rootname : str
        Exposures are ``<rootname><4 digits>_flt.fits``; the truth ``<rootname>_truth.fits``.
    exptime, crval, pa_v3, gap, cr_fraction
        As for :func:`gpudriz.demo.synthetic.make_association`; ``crval`` is
        the centre of the first pointing.

    Returns
    -------
    Truth
    """
    if isinstance(n_exposures, bool) or not isinstance(n_exposures, (int, np.integer)) or n_exposures < 2 \
            or n_exposures % 2:  # fmt: skip
        raise ValueError(f"the mosaic needs an even number of exposures, at least 2, not {n_exposures!r}.")
    ny, nx = (int(n) for n in chip_shape)
    if ny < 64 or nx < 64:
        raise ValueError(f"chip_shape must be two integers of at least 64 each, not {chip_shape!r}.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shape = (ny, nx)
    n_pointings = n_exposures // 2
    scene_rng, defect_rng, sky_rng, grid_rng, cr_seed = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)
    )
    cols, _ = mosaic_grid(n_pointings)
    step = STEP_FRACTION * np.array([nx, 2 * ny + gap], float)
    node = np.array([(k % cols, k // cols) for k in range(n_pointings)], float)
    dithers = node * step + grid_rng.uniform(-JITTER, JITTER, size=(n_pointings, 2))
    dithers[0] = 0.0
    pointing = np.repeat(np.arange(n_pointings), 2)
    names = [f"{rootname}{e:04d}" for e in range(n_exposures)]

    cd_global = global_cd(pa_v3)
    chips = {c: ChipGeometry(c, shape, gap) for c in CHIPS}
    sky_wcs = tangent_wcs(crval, cd_global)
    centres = sky_wcs.wcs_pix2world(-dithers, 0)
    headers = {(p, c): chips[c].wcs_header(centres[p], cd_global) for p in range(n_pointings) for c in CHIPS}
    areas = {c: pixel_area_map(WCS(headers[0, c]), shape) for c in CHIPS}  # pointings differ only in CRVAL
    stars, galaxies = draw_scene(scene_rng, chips, dithers, crval, cd_global, None, None)
    hot, bad = draw_defects(defect_rng, shape)
    sky = sky_rng.uniform(*SKY_RANGE, size=n_exposures)
    exposure_rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(int(cr_seed.integers(2**32)))
                     .spawn(n_exposures)]  # fmt: skip

    cr_rows = []
    for p in range(n_pointings):
        sources = {c: render_sources(WCS(headers[p, c]), shape, stars, galaxies, exptime) for c in CHIPS}
        for e in (2 * p, 2 * p + 1):
            rng = exposure_rngs[e]
            hdus = [fits.PrimaryHDU(header=primary_header(names[e], rootname, e, 0, dithers[p], exptime, pa_v3,
                                                          crval))]  # fmt: skip
            for c in CHIPS:
                cr = draw_cosmic_rays(rng, shape, cr_fraction)
                y, x = np.nonzero(cr)
                cr_rows.append((np.full(x.size, e), np.full(x.size, c), x, y, cr[y, x]))
                sci, err, dq = expose(rng, sources[c], areas[c], sky[e], cr, hot, bad, c, exptime)
                hdus += chip_hdus(c, headers[p, c], names[e], sci, err, dq)
            fits.HDUList(hdus).writeto(folder / f"{names[e]}_flt.fits", overwrite=True)
    (folder / MOSAIC_LIST).write_text("".join(f"{n}_flt.fits\n" for n in names))
    cosmic_rays = Table([np.concatenate(col) for col in zip(*cr_rows)], names=("exposure", "chip", "x", "y", "energy"))
    truth = Truth(
        rootname=rootname, exposures=[f"{n}_flt.fits" for n in names], pointing=pointing,
        dither=dithers[pointing], sky=sky, exptime=float(exptime), chip_shape=shape, gain=dict(GAIN),
        readnoise=dict(READNOISE), stars=stars, galaxies=galaxies, cosmic_rays=cosmic_rays, hot_pixels=hot,
        bad_columns=bad, seed=int(seed),
    )  # fmt: skip
    write_truth(folder / f"{rootname}_truth.fits", truth)
    return truth
