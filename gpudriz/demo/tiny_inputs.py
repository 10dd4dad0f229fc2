"""Many tiny exposures, for tests and benchmarks of how the pipeline scales with the input count.

:func:`gpudriz.demo.synthetic.make_association` writes a realistic association of
four exposures; the reliability tests and ``benchmarks/bench_many_inputs.py``
need hundreds of inputs instead, each as small as possible, so that what is
measured is the per-input overhead (headers, open files, provenance), not the
pixels.  Each exposure here has two chips side by side (a generic instrument,
units electrons, TAN WCS) over a sky with a few stars, Poisson-like noise and
a few cosmic rays, dithered by a fraction of a pixel from the previous one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits

__all__ = ["write_tiny_exposures"]

#: Pixel scale of the tiny exposures, arcsec.
SCALE = 0.1


def _wcs_header(shape, crval, cx_offset):
    ny, nx = shape
    d = SCALE / 3600.0
    h = fits.Header()
    h.update(CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRVAL1=crval[0], CRVAL2=crval[1],
             CRPIX1=(nx + 1) / 2.0 - cx_offset, CRPIX2=(ny + 1) / 2.0,
             CD1_1=-d, CD1_2=0.0, CD2_1=0.0, CD2_2=d)  # fmt: skip
    return h


def write_tiny_exposures(directory, n, *, shape=(16, 32), seed=0, exptime=100.0, sky=50.0,
                         prefix="tiny"):  # fmt: skip
    """Write ``n`` two-chip exposures ``<prefix>NNNN_flt.fits`` into ``directory``.

    Parameters
    ----------
    directory : str or pathlib.Path
        Folder (created if missing).
    n : int
        Number of exposures.
    shape : tuple of int
        ``(ny, nx)`` of each chip.
    seed : int
        Seed of the noise, the cosmic rays and the dither.
    exptime, sky : float
        Exposure time (s) and sky level (electrons per pixel).
    prefix : str
        File-name and ROOTNAME prefix (no ROOTNAME keyword when not ASCII).

    Returns
    -------
    list of pathlib.Path
        The files, in order.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:2 * nx]
    # A few stars fixed on the sky (pixel positions of the first exposure's mosaic).
    stars = [(ny * 0.5, nx * 0.4, 4000.0), (ny * 0.3, nx * 1.3, 2500.0), (ny * 0.7, nx * 1.7, 1500.0)]
    paths = []
    for k in range(n):
        dx, dy = rng.uniform(-0.5, 0.5, size=2)
        scene = np.full((ny, 2 * nx), sky, dtype=np.float64)
        for sy, sx, flux in stars:
            r2 = (yy - sy - dy) ** 2 + (xx - sx - dx) ** 2
            scene += flux / (2 * np.pi * 1.2**2) * np.exp(-r2 / (2 * 1.2**2))
        image = rng.normal(scene, np.sqrt(scene + 25.0)).astype(np.float32)
        hits = rng.integers(0, image.size, size=max(1, image.size // 200))
        image.flat[hits] += rng.uniform(500.0, 3000.0, size=hits.size).astype(np.float32)
        name = f"{prefix}{k:04d}"
        primary = fits.Header()
        primary.update(EXPTIME=exptime, CCDGAIN=1.0)
        if name.isascii():  # else the rootname comes from the file name, as for files without ROOTNAME
            primary["ROOTNAME"] = name
        hdus = [fits.PrimaryHDU(header=primary)]
        for extver in (1, 2):
            # Chip 2 lies nx pixels further along x; the dither moves both chips.
            header = _wcs_header(shape, (150.0, 2.0), (extver - 1) * nx + dx)
            header["CRPIX2"] -= dy
            header["BUNIT"] = "ELECTRONS"
            chip = image[:, (extver - 1) * nx : extver * nx]
            hdus.append(fits.ImageHDU(chip, header=header, name="SCI", ver=extver))
            hdus.append(fits.ImageHDU(np.zeros(shape, np.int16), name="DQ", ver=extver))
        path = directory / f"{name}_flt.fits"
        fits.HDUList(hdus).writeto(path, overwrite=True)
        paths.append(path)
    return paths
