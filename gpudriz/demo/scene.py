"""The synthetic sky: stars and galaxies, drawn and rendered through any WCS.

Stars are pixel-integrated double Gaussians (core FWHM 2 px); galaxies are
truncated elliptical Sersic profiles, subsampled, through the WCS's Jacobian
at their centre.  :func:`render_scene` renders a :class:`~gpudriz.demo.truth.Truth`'s
sources noiselessly on any pixel grid (a drizzled product's, for instance),
which is what the science checks compare with.

Only NumPy and Astropy are used, so the data do not depend on the code they test.
"""

from __future__ import annotations

import math

import numpy as np
from astropy.table import Table

from gpudriz.demo.instrument import IDCSCALE, poly_eval, tangent_wcs

__all__ = ["render_scene", "render_sources", "draw_scene", "add_stars", "add_galaxies", "PSF_HALF"]

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


def draw_scene(rng, chips, dithers, crval, cd_global, n_stars, n_galaxies):
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
    sky = tangent_wcs(crval, cd_global)
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
    shift = np.hypot(poly_eval(w.sip.a, corners_u, corners_v), poly_eval(w.sip.b, corners_u, corners_v))
    return 1.5 * float(np.max(shift))


def _erf(x):
    # math.erf, not scipy.special.erf: the data use only NumPy and Astropy
    # (module docstring), and separable stamps need erf only at pixel edges
    # along each axis, few enough for math.erf.
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
    return render_sources(wcs, tuple(shape), stars, galaxies, 1.0)


def render_sources(w, shape, stars, galaxies, exptime):
    """Noiseless electrons from the sources landing on each pixel of one chip."""
    image = np.zeros(shape)
    add_stars(image, w, stars, exptime)
    add_galaxies(image, w, galaxies, exptime)
    return image


def add_stars(image, w, stars, exptime):
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


def add_galaxies(image, w, galaxies, exptime):
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
