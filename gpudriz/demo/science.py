"""Science figures of a pipeline run on a synthetic association, against its truth.

Used by ``gpudriz demo``, the science tests and the AstroDrizzle benchmark:

- cosmic-ray completeness: the fraction of injected cosmic-ray pixels brighter
  than ``nsigma`` times the pixel's noise (sky + read noise) that driz_cr
  flagged;
- false flags on stars: the fraction of star peak pixels (every star, every
  exposure and chip that sees it) flagged as cosmic rays;
- photometry: aperture flux of isolated stars in the final image over their
  true flux (median and robust scatter);
- astrometry: offset of each isolated star's centroid in the final image from
  its true position (median, output pixels);
- false flags (:func:`flag_figures`): the fraction of input pixels with no
  injected defect (no cosmic ray, hot pixel or bad column) flagged as cosmic
  rays, and the fraction of hot pixels that DQ leaves unflagged which driz_cr
  catches;
- residual objects (:func:`residual_objects`): groups of final-image pixels
  more than 5 sigma above the background away from every source, and how many
  of them sit where a cosmic ray was injected.  This scores the product the
  user takes away: a cosmic ray that survives into it is counted whether the
  mask missed it or the median kept it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales
from scipy import ndimage

from gpudriz.demo.scene import render_scene

__all__ = [
    "ScienceFigures",
    "cosmic_ray_figures",
    "evaluate_run",
    "flag_figures",
    "photometry_figures",
    "residual_objects",
    "star_figures",
]


@dataclass
class ScienceFigures:
    """What the demo measures of a run against its truth (see :func:`evaluate_run`)."""

    cr_detected: float
    cr_count: int
    star_peaks_flagged: float
    star_peak_count: int
    false_flag_rate: float
    clean_pixels: int
    hot_caught: float
    hot_count: int
    residual_objects: int
    residual_on_cr: int
    phot_small: float
    phot_small_scatter: float
    phot_total: float
    phot_total_scatter: float
    centroid_offset: float
    star_count: int
    star_total_count: int

    def summary(self) -> str:
        # Small chips (the mosaic demo's) can leave no isolated star with the whole 1" aperture and its
        # 1.5" annulus on the image: say so rather than print a ratio of nothing (nan).
        total = (f"total flux in r = 1\" / true = {self.phot_total:.4f} (scatter {self.phot_total_scatter:.4f})"
                 if self.star_total_count else
                 "total flux in r = 1\": no isolated star has its 1.5\" annulus on the image")  # fmt: skip
        return "\n".join([
            f"cosmic rays above 5 sigma detected: {100 * self.cr_detected:.1f}% of {self.cr_count} pixels",
            f"clean pixels wrongly flagged: {self.false_flag_rate:.1e} of {self.clean_pixels}; "
            f"star peak pixels: {100 * self.star_peaks_flagged:.2f}% of {self.star_peak_count}",
            f"hot pixels unflagged in DQ caught: {100 * self.hot_caught:.1f}% of {self.hot_count}",
            f"residual objects above 5 sigma in the final image's background: "
            f"{self.residual_objects} ({self.residual_on_cr} on injected cosmic rays)",
            f"{self.star_count} isolated stars: flux in r = 0.2\" / the true star on the same pixels "
            f"= {self.phot_small:.4f} (scatter {self.phot_small_scatter:.4f}),",
            f"  {total}, median centroid offset = {self.centroid_offset:.3f} px",
        ])  # fmt: skip


def evaluate_run(truth, crmasks, image, weight, wcs) -> ScienceFigures:
    """Every science figure of one run: its cosmic-ray masks and final image against ``truth``.

    Parameters
    ----------
    truth : gpudriz.demo.synthetic.Truth
    crmasks : dict
        ``{(exposure file name, chip): (bool mask, chip WCS)}``.
    image, weight : ndarray
        The final SCI (e-/s) and WHT.
    wcs : astropy.wcs.WCS
        Their WCS.
    """
    cr, ncr, flagged, npk = cosmic_ray_figures(truth, crmasks)
    flags = flag_figures(truth, crmasks)
    resid = residual_objects(truth, image, weight, wcs, crmasks)
    phot = photometry_figures(truth, image, wcs)
    return ScienceFigures(
        cr_detected=cr, cr_count=ncr, star_peaks_flagged=flagged, star_peak_count=npk,
        false_flag_rate=flags["false_flag_rate"], clean_pixels=flags["clean_pixels"],
        hot_caught=flags["hot_caught"], hot_count=flags["hot_count"],
        residual_objects=resid["residual_objects"], residual_on_cr=resid["residual_on_cr"],
        phot_small=phot["phot_small"], phot_small_scatter=phot["phot_small_scatter"],
        phot_total=phot["phot_total"], phot_total_scatter=phot["phot_total_scatter"],
        centroid_offset=phot["centroid"], star_count=phot["stars"], star_total_count=phot["stars_total"],
    )  # fmt: skip


def _chip_pixels(wcs, ra, dec):
    """Pixel positions of sky positions through a (distorted) chip WCS; far-off ones at -1e9.

    A mosaic's stars lie far beyond one chip, where its SIP inversion diverges:
    those are off the chip whatever their value.
    """
    x, y = wcs.all_world2pix(np.asarray(ra), np.asarray(dec), 0, quiet=True)
    off = ~(np.isfinite(x) & np.isfinite(y))
    return np.where(off, -1e9, x), np.where(off, -1e9, y)


def cosmic_ray_figures(truth, crmasks, *, nsigma=5.0):
    """``(detected fraction, count, star-peak false-flag fraction, peak count)``.

    Parameters
    ----------
    truth : gpudriz.demo.synthetic.Truth
    crmasks : dict
        ``{(exposure file name, chip): (bool mask, chip WCS)}`` from the run.
    """
    detected = total = flagged = peaks = 0
    amps = truth.readnoise
    for (fname, chip), (mask, wcs) in crmasks.items():
        k = truth.exposures.index(fname)
        energy = truth.cr_energy(k, chip)
        ny, nx = energy.shape
        rn = np.empty(energy.shape)
        left, right = ("C", "D") if chip == 1 else ("A", "B")
        rn[:, : nx // 2] = amps[left]
        rn[:, nx // 2 :] = amps[right]
        sigma = np.sqrt(truth.sky[k] + rn**2)
        strong = energy > nsigma * sigma
        total += int(strong.sum())
        detected += int((strong & mask).sum())
        x, y = _chip_pixels(wcs, truth.stars["ra"], truth.stars["dec"])
        ix = np.round(x).astype(int)
        iy = np.round(y).astype(int)
        inside = (ix >= 2) & (ix < nx - 2) & (iy >= 2) & (iy < ny - 2)
        # Only peaks clearly above the noise: faint stars' "peaks" are noise.
        bright = np.asarray(truth.stars["flux"]) * truth.exptime > 50 * np.sqrt(truth.sky[k])
        sel = inside & bright
        peaks += int(sel.sum())
        flagged += int(mask[iy[sel], ix[sel]].sum())
    return (detected / total if total else float("nan"), total,
            flagged / peaks if peaks else float("nan"), peaks)  # fmt: skip


def star_figures(truth, image, wcs: WCS, *, radius=None, pixel_scale=None):
    """``(median flux ratio, robust scatter, median centroid offset, count)`` of isolated stars.

    ``image`` is the final drizzled image in e-/s per output pixel; the
    aperture has ``radius`` output pixels (default 0.25 arcsec), the
    background is the median of an annulus out to twice that.
    """
    img = np.asarray(image, dtype=np.float64)
    scale = pixel_scale or float(np.mean(proj_plane_pixel_scales(wcs)) * 3600.0)
    r = radius or 0.25 / scale
    rb = 2.0 * r
    stars = truth.stars[np.asarray(truth.stars["isolated"], dtype=bool)]
    x, y = _chip_pixels(wcs, stars["ra"], stars["dec"])
    ny, nx = img.shape
    ratios = []
    offsets = []
    m = int(np.ceil(rb)) + 1
    for xs, ys, flux in zip(x, y, np.asarray(stars["flux"])):
        x0, y0 = int(round(xs)), int(round(ys))
        if x0 - m < 0 or y0 - m < 0 or x0 + m >= nx or y0 + m >= ny:
            continue
        cut = img[y0 - m : y0 + m + 1, x0 - m : x0 + m + 1]
        if not np.isfinite(cut).all():
            continue
        yy, xx = np.mgrid[y0 - m : y0 + m + 1, x0 - m : x0 + m + 1]
        d = np.hypot(xx - xs, yy - ys)
        ap = d <= r
        ann = (d > 1.3 * r) & (d <= rb)
        bkg = float(np.median(cut[ann]))
        sig = cut - bkg
        measured = float(sig[ap].sum())
        if flux <= 0:
            continue
        ratios.append(measured / flux)
        w = np.clip(sig, 0, None) * ap
        if w.sum() > 0:
            cx = float((w * xx).sum() / w.sum())
            cy = float((w * yy).sum() / w.sum())
            offsets.append(np.hypot(cx - xs, cy - ys))
    if not ratios:
        return float("nan"), float("nan"), float("nan"), 0
    ratios = np.asarray(ratios)
    med = float(np.median(ratios))
    scatter = float(1.4826 * np.median(np.abs(ratios - med)))
    return med, scatter, float(np.median(offsets)) if offsets else float("nan"), len(ratios)


def _chip_noise(truth, k, chip):
    """Per-pixel background noise (e-) of exposure ``k``'s chip: sky and each amplifier's read noise."""
    ny, nx = truth.chip_shape
    left, right = ("C", "D") if chip == 1 else ("A", "B")
    rn = np.where(np.arange(nx) < nx // 2, truth.readnoise[left], truth.readnoise[right])
    return np.broadcast_to(np.sqrt(truth.sky[k] + rn**2), (ny, nx))


def flag_figures(truth, crmasks, *, nsigma=5.0):
    """False flags on clean pixels and the catch rate of hot pixels that DQ leaves unflagged.

    Parameters
    ----------
    truth : gpudriz.demo.synthetic.Truth
    crmasks : dict
        ``{(exposure file name, chip): (bool mask, chip WCS)}`` from the run.
    nsigma : float
        A hot pixel counts if its excess dark is above ``nsigma`` times the
        background noise.

    Returns
    -------
    dict
        ``false_flag_rate`` (flagged clean pixels / clean pixels, where a
        clean pixel has no injected cosmic ray, hot pixel or bad column),
        ``clean_pixels``, ``false_flags``, ``hot_caught`` (fraction of the
        unflagged hot pixels above ``nsigma`` found, every exposure counted)
        and ``hot_count``.
    """
    clean_total = false = hot_total = hot_found = 0
    hot = truth.hot_pixels
    bad = truth.bad_columns
    for (fname, chip), (mask, _) in crmasks.items():
        k = truth.exposures.index(fname)
        mask = np.asarray(mask, dtype=bool)
        defect = truth.cr_mask(k, chip)
        mine = hot[np.asarray(hot["chip"]) == chip]
        hx, hy = np.asarray(mine["x"]), np.asarray(mine["y"])
        defect[hy, hx] = True
        for b in bad[np.asarray(bad["chip"]) == chip]:
            defect[int(b["y_min"]) : int(b["y_max"]) + 1, int(b["x"])] = True
        clean = ~defect
        clean_total += int(clean.sum())
        false += int((mask & clean).sum())
        sigma = _chip_noise(truth, k, chip)[hy, hx]
        strong = ~np.asarray(mine["flagged"], dtype=bool) & (
            np.asarray(mine["rate"]) * truth.exptime > nsigma * sigma
        )
        hot_total += int(strong.sum())
        hot_found += int(mask[hy[strong], hx[strong]].sum())
    return {
        "false_flag_rate": false / clean_total if clean_total else float("nan"),
        "clean_pixels": clean_total,
        "false_flags": false,
        "hot_caught": hot_found / hot_total if hot_total else float("nan"),
        "hot_count": hot_total,
    }


def _project(points_xy, chip_wcs, wcs, shape):
    """Output-pixel ``(iy, ix)`` (rounded, inside ``shape``) of chip pixel positions."""
    if len(points_xy) == 0:
        return np.zeros(0, int), np.zeros(0, int)
    ra, dec = chip_wcs.all_pix2world(points_xy[:, 0], points_xy[:, 1], 0)
    x, y = wcs.all_world2pix(ra, dec, 0)
    ix, iy = np.rint(x).astype(int), np.rint(y).astype(int)
    ny, nx = shape
    ok = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    return iy[ok], ix[ok]


def residual_objects(truth, image, weight, wcs, crmasks, *, nsigma=5.0, source_sigma=0.3,
                     margin=3):  # fmt: skip
    """Objects more than ``nsigma`` above the background of the final image, away from sources.

    The noise of each pixel of a drizzled image with exposure-time weights is
    ``c / sqrt(WHT)``; ``c`` is measured from the image itself (normalised
    median absolute deviation of ``SCI x sqrt(WHT)`` over the background), so
    the same scorer serves any pipeline's product, with or without an ERR
    extension.  Background: pixels with weight where the true scene
    (:func:`gpudriz.demo.synthetic.render_scene`) is below ``source_sigma`` times
    the noise, ``margin`` pixels away from any brighter pixel.  An object is a
    group of 8-connected background pixels above ``nsigma``; it is "on a
    cosmic ray" (or "on a hot pixel") if it touches, within one pixel, the
    output position of an injected cosmic-ray (hot) pixel.

    Parameters
    ----------
    truth : gpudriz.demo.synthetic.Truth
    image, weight : ndarray
        The final product's SCI (e-/s) and WHT.
    wcs : astropy.wcs.WCS
        Its WCS.
    crmasks : dict
        ``{(exposure file name, chip): (mask, chip WCS)}``; the WCS place the
        injected cosmic rays on the output grid (the masks are not used).

    Returns
    -------
    dict
        ``residual_objects``, ``residual_on_cr``, ``residual_on_hot``,
        ``background_pixels`` and ``noise_scale`` (``c``).
    """
    sci = np.asarray(image, dtype=np.float64)
    wht = np.asarray(weight, dtype=np.float64)
    shape = sci.shape
    valid = np.isfinite(sci) & np.isfinite(wht) & (wht > 0)
    root_w = np.sqrt(np.where(valid, wht, 0.0))
    z = sci * root_w
    scene = render_scene(truth, wcs, shape) * root_w
    rough = z[valid]
    c = 1.4826 * float(np.median(np.abs(rough - np.median(rough))))
    sources = ndimage.binary_dilation(scene > source_sigma * c, iterations=margin)
    background = valid & ~sources
    c = 1.4826 * float(np.median(np.abs(z[background] - np.median(z[background]))))
    hits = background & (z > nsigma * c)
    labels, count = ndimage.label(hits, structure=np.ones((3, 3), bool))
    marks = {"cr": np.zeros(shape, bool), "hot": np.zeros(shape, bool)}
    hot = truth.hot_pixels
    for (fname, chip), (_, chip_wcs) in crmasks.items():
        k = truth.exposures.index(fname)
        cr = truth.cosmic_rays[(truth.cosmic_rays["exposure"] == k) & (truth.cosmic_rays["chip"] == chip)]
        xy = np.column_stack([np.asarray(cr["x"], float), np.asarray(cr["y"], float)])
        marks["cr"][_project(xy, chip_wcs, wcs, shape)] = True
        mine = hot[np.asarray(hot["chip"]) == chip]
        xy = np.column_stack([np.asarray(mine["x"], float), np.asarray(mine["y"], float)])
        marks["hot"][_project(xy, chip_wcs, wcs, shape)] = True
    on = {}
    for key, mark in marks.items():
        near = ndimage.binary_dilation(mark, iterations=1)
        on[key] = len(np.unique(labels[near & (labels > 0)]))
    return {
        "residual_objects": int(count),
        "residual_on_cr": on["cr"],
        "residual_on_hot": on["hot"],
        "background_pixels": int(background.sum()),
        "noise_scale": c,
    }


def _aperture(img, xs, ys, radius, annulus):
    """``(background-subtracted cut-out, distances, x grid, y grid, annulus)`` around a star, or None.

    ``annulus`` ``(inner, outer)`` in the units of ``radius``; None where the
    cut-out leaves the image or holds a non-finite pixel.
    """
    ny, nx = img.shape
    m = int(np.ceil(annulus[1] * radius)) + 1
    x0, y0 = int(round(xs)), int(round(ys))
    if x0 - m < 0 or y0 - m < 0 or x0 + m >= nx or y0 + m >= ny:
        return None
    cut = img[y0 - m : y0 + m + 1, x0 - m : x0 + m + 1]
    if not np.isfinite(cut).all():
        return None
    yy, xx = np.mgrid[y0 - m : y0 + m + 1, x0 - m : x0 + m + 1]
    d = np.hypot(xx - xs, yy - ys)
    ann = (d > annulus[0] * radius) & (d <= annulus[1] * radius)
    return cut - float(np.median(cut[ann])), d, xx, yy, ann


def photometry_figures(truth, image, wcs, *, radius_arcsec=0.2, total_arcsec=1.0):
    """Aperture photometry of isolated stars against the truth on the same pixels.

    Two measurements per star, each with the background of its own annulus:

    * in a small aperture (``radius_arcsec``, background from 1.3 to 2
      radii): the measured flux over the flux of the true star integrated
      over the same output pixels, with the same aperture and the same
      background annulus (:func:`gpudriz.demo.synthetic.render_scene`), so the
      PSF's light outside the aperture or in the annulus is not counted as a
      loss; what remains is the broadening
      that drizzling adds and any flux lost or gained to cosmic rays;
    * in a large aperture (``total_arcsec``, background from 1.2 to 1.5
      radii), for the stars far enough from the edges: the measured flux
      over the true total flux.

    Returns
    -------
    dict
        ``phot_small`` / ``phot_small_scatter`` (median and robust scatter of
        the small-aperture ratios), ``phot_total`` / ``phot_total_scatter``,
        ``centroid`` (median offset in the small aperture, output pixels),
        ``stars`` and ``stars_total`` (counts).
    """
    img = np.asarray(image, dtype=np.float64)
    scale = float(np.mean(proj_plane_pixel_scales(wcs)) * 3600.0)
    stars = truth.stars[np.asarray(truth.stars["isolated"], dtype=bool)]
    x, y = wcs.all_world2pix(np.asarray(stars["ra"]), np.asarray(stars["dec"]), 0)
    r_small, r_total = radius_arcsec / scale, total_arcsec / scale
    small, total, offsets = [], [], []
    for i, (xs, ys) in enumerate(zip(x, y)):
        flux = float(stars["flux"][i])
        if flux <= 0:
            continue
        got = _aperture(img, xs, ys, r_small, (1.3, 2.0))
        if got is not None:
            sig, d, xx, yy, ann = got
            x0, y0 = int(xx[0, 0]), int(yy[0, 0])
            # The true star alone, integrated over this cut-out's pixels.
            sub_wcs = wcs.slice((slice(y0, y0 + sig.shape[0]), slice(x0, x0 + sig.shape[1])))
            model = render_scene(truth, sub_wcs, sig.shape, stars=stars[i : i + 1],
                                 galaxies=truth.galaxies[:0])  # fmt: skip
            model -= float(np.median(model[ann]))  # the same background estimate as the data's
            ap = d <= r_small
            if float(model[ap].sum()) <= 0:
                continue  # the model has no light there (a star at the edge of the rendered field)
            small.append(float(sig[ap].sum()) / float(model[ap].sum()))
            w = np.clip(sig, 0, None) * ap
            if w.sum() > 0:
                offsets.append(np.hypot((w * xx).sum() / w.sum() - xs, (w * yy).sum() / w.sum() - ys))
        got = _aperture(img, xs, ys, r_total, (1.2, 1.5))
        if got is not None:
            sig, d, _, _, _ = got
            total.append(float(sig[d <= r_total].sum()) / flux)

    def robust(v):
        if not v:
            return float("nan"), float("nan")
        v = np.asarray(v)
        med = float(np.median(v))
        return med, float(1.4826 * np.median(np.abs(v - med)))

    (ps, pss), (pt, pts) = robust(small), robust(total)
    return dict(phot_small=ps, phot_small_scatter=pss, phot_total=pt, phot_total_scatter=pts,
                centroid=float(np.median(offsets)) if offsets else float("nan"),
                stars=len(small), stars_total=len(total))  # fmt: skip
