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
  its true position (median, output pixels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.wcs import WCS

__all__ = ["ScienceFigures", "cosmic_ray_figures", "star_figures"]


@dataclass
class ScienceFigures:
    """What :func:`cosmic_ray_figures` and :func:`star_figures` measured."""

    cr_detected: float
    cr_count: int
    star_peaks_flagged: float
    star_peak_count: int
    photometry_ratio: float
    photometry_scatter: float
    centroid_offset: float
    star_count: int

    def summary(self) -> str:
        return "\n".join([
            f"cosmic rays above 5 sigma detected: {100 * self.cr_detected:.1f}% of {self.cr_count} pixels",
            f"star peak pixels wrongly flagged: {100 * self.star_peaks_flagged:.2f}% of "
            f"{self.star_peak_count}",
            f"{self.star_count} isolated stars: median measured/true flux = "
            f"{self.photometry_ratio:.4f} (scatter {self.photometry_scatter:.4f}), "
            f"median centroid offset = {self.centroid_offset:.3f} px",
        ])  # fmt: skip


def cosmic_ray_figures(truth, crmasks, *, nsigma=5.0):
    """``(detected fraction, count, star-peak false-flag fraction, peak count)``.

    Parameters
    ----------
    truth : gpudriz.synthetic.Truth
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
        x, y = wcs.all_world2pix(np.asarray(truth.stars["ra"]), np.asarray(truth.stars["dec"]), 0)
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
    from astropy.wcs.utils import proj_plane_pixel_scales

    img = np.asarray(image, dtype=np.float64)
    scale = pixel_scale or float(np.mean(proj_plane_pixel_scales(wcs)) * 3600.0)
    r = radius or 0.25 / scale
    rb = 2.0 * r
    stars = truth.stars[np.asarray(truth.stars["isolated"], dtype=bool)]
    x, y = wcs.all_world2pix(np.asarray(stars["ra"]), np.asarray(stars["dec"]), 0)
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
