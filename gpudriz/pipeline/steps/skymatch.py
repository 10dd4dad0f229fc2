"""Sky matching between exposures (``skymethod = match``).

MultiDrizzle's own rule (``localmin``, :mod:`gpudriz.pipeline.steps.sky`) measures each
exposure's sky on its own pixels.  In a mosaic whose exposures see
different skies, extended light (a large galaxy, nebulosity) biases each
exposure's estimate differently, and the drizzled mosaic shows steps where
the exposures' footprints end.  ``match`` (AstroDrizzle's idea) measures
instead the sky *differences* between exposures where they overlap: there
the scene is the same in both, so it cancels in the difference and only the
difference of the skies remains.

How (algorithms.md, "Sky"):

1. Every exposure (sky not subtracted, DQ- and static-good pixels) is
   drizzled onto a coarse common frame, the separate frame's orientation at
   :data:`MATCH_BINNING` times its pixel size, in electrons per second per
   square arcsecond (:func:`exposure_rates`).  A coarse cell averages many
   input pixels, so the cell values are quiet and the work is small.
2. For every pair of exposures with at least :data:`MIN_OVERLAP_CELLS`
   common well-covered cells, the clipped median of the cell-by-cell
   difference of their rates is their sky difference, weighted by its
   inverse variance (:func:`pair_differences`).
3. The offsets that best fit all the differences (weighted least squares)
   are solved per connected group of exposures (:func:`solve_offsets`).
4. Differences fix the offsets only up to a constant per group.  The
   constant is anchored on the ``localmin`` estimates
   (:func:`anchor_levels`): the highest level at which no exposure of the
   group gets more sky than its own localmin estimate, so at least one gets
   exactly it (AstroDrizzle's ``globalmin+match``).  Extended light only
   ever raises a localmin estimate, so the exposure least raised sets the
   level and none is over-subtracted.  An exposure that overlaps no other
   keeps its localmin sky (logged).

The levels are surface-brightness rates; :func:`match_sky` converts them
back to electrons per pixel of each chip (``x exptime x pscale**2``).
"""

from __future__ import annotations

import logging
import math
import numbers

import numpy as np

from gpudriz.backend.arrays import to_host
from gpudriz.pipeline.geometry.outframe import OutputFrame, output_frame
from gpudriz.pipeline.steps.chipdata import (
    backend_of,
    good_mask,
    new_drizzle,
    pixmap_to,
    read_electrons,
    scale_ratio,
)
from gpudriz.pipeline.steps.sky_offsets import SkyPair, anchor_levels, solve_offsets

__all__ = [
    "COVER_FRACTION",
    "MATCH_BINNING",
    "MIN_OVERLAP_CELLS",
    "SkyPair",
    "anchor_levels",
    "exposure_rates",
    "match_frame",
    "match_sky",
    "pair_differences",
    "solve_offsets",
    "well_covered",
]

log = logging.getLogger("gpudriz")

#: Cell size of the matching frame, in separate-frame pixels per side.  A
#: cell averages ~16 input pixels (4x quieter than one pixel) while a
#: partial overlap a few tens of pixels wide still spans several cells.
MATCH_BINNING = 4

#: Fewest common cells for a pair of exposures to count as overlapping: the
#: median of fewer is too noisy (and too easily pulled by one source) to
#: tie two skies together.
MIN_OVERLAP_CELLS = 20

#: A cell is used when its drizzle weight is at least this fraction of the
#: exposure's median cell weight: cells that masks (bad columns, saturated
#: stars) mostly emptied average few pixels and would only add noise.
COVER_FRACTION = 0.5

# Clipping of the cell differences about their median: removes cosmic rays
# (not yet found at this step) and sources that differ between exposures
# (variables, movers, sources at a footprint's edge).
_CLIP_ITER = 5
_CLIP_SIGMA = 3.0


def match_frame(chips, separate_frame: OutputFrame, binning=MATCH_BINNING) -> OutputFrame:
    """The coarse common frame: the separate frame's orientation, ``binning`` times its pixels.

    Parameters
    ----------
    chips : sequence of Chip
        Every input chip (their WCS and shapes).
    separate_frame : OutputFrame
        The run's separate frame.
    binning : int
        Cell size in separate-frame pixels per side.

    Returns
    -------
    OutputFrame
        Holds every input pixel (the footprints are recomputed at the
        coarse scale).
    """
    sep = separate_frame
    return output_frame([c.wcs for c in chips], [c.shape for c in chips],
                        scale=sep.pixel_scale * binning, rot=sep.orientation)  # fmt: skip


def exposure_rates(exposures, frame, backend) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each exposure drizzled onto ``frame`` in electrons/s per square arcsecond.

    The sky is not subtracted; weights are the DQ- and static-good masks.
    The drizzle runs on the backend; only the coarse maps come back to the
    host.

    Parameters
    ----------
    exposures : list of list of ChipInput
        The chips of each exposure.
    frame : OutputFrame
        The matching frame (:func:`match_frame`).
    backend : str or Backend

    Returns
    -------
    rates : list of numpy.ndarray
        Per exposure, the ``frame.shape`` float64 surface-brightness rates.
    valid : list of numpy.ndarray
        Per exposure, True where a cell is inside the footprint (its eight
        neighbours are covered too) and its weight is at least
        :data:`COVER_FRACTION` of the exposure's median cell weight.
    """
    be = backend_of(backend)
    rates, valid = [], []
    for group in exposures:
        d = new_drizzle("square", frame, 0.0, be)
        for c in group:
            s = scale_ratio(c.chip, frame)
            # iscale 1/pscale**2: electrons per pixel -> per square arcsecond
            # (a square-kernel drizzle averages, it keeps surface brightness).
            d.add_image(read_electrons(c, be.xp), c.chip.exptime, pixmap_to(c.chip, frame, be),
                        weight_map=good_mask(c, be.xp).astype(np.float32), pixfrac=1.0,
                        in_units="counts", iscale=1.0 / c.chip.pixel_scale**2,
                        pixel_scale_ratio=s)  # fmt: skip
        img = to_host(d.out_img).astype(np.float64)
        wht = to_host(d.out_wht).astype(np.float64)
        rates.append(img)
        valid.append(well_covered(wht) & np.isfinite(img))
    return rates, valid


def well_covered(wht):
    """Cells inside the footprint (all 8 neighbours covered) and not mostly masked.

    A cell on a footprint's edge averages only part of its area, and a
    different part in each exposure: sources there would not cancel.  The
    weight alone cannot tell (distortion changes it by several per cent
    across a chip), hence the neighbour test; the weight test drops cells
    that masks emptied.
    """
    covered = wht > 0
    if not covered.any():
        return covered
    inner = np.pad(covered, 1, constant_values=False)
    ny, nx = covered.shape
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            covered = covered & inner[dy : dy + ny, dx : dx + nx]
    return covered & (wht >= COVER_FRACTION * float(np.median(wht[wht > 0])))


def _bounding_box(mask):
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


def pair_differences(rates, valid, *, min_cells=MIN_OVERLAP_CELLS) -> list[SkyPair]:
    """The sky difference of every pair of exposures that overlap enough.

    Parameters
    ----------
    rates : sequence of 2-D arrays
        Per exposure, the surface-brightness map on a common frame.
    valid : sequence of 2-D bool arrays
        Per exposure, True where its map may be used.
    min_cells : int
        Fewest common valid cells (after clipping) for a pair to count.

    Returns
    -------
    list of SkyPair
        ``difference`` is the median of ``rates[i] - rates[j]`` over the
        common cells after clipping at 3 sigma about the median (the scene
        cancels, the skies' difference remains); ``weight`` is its inverse
        variance, ``n / (pi/2 * sigma**2)``, ``sigma`` being the scatter
        (1.4826 x MAD) of the kept cell differences.

    Raises
    ------
    ValueError
        If the sequences differ in length or the maps in shape, or
        ``min_cells`` is not a positive integer.
    """
    if len(rates) != len(valid):
        raise ValueError(f"'rates' ({len(rates)}) and 'valid' ({len(valid)}) must give one map per exposure.")
    if isinstance(min_cells, bool) or not isinstance(min_cells, numbers.Integral) or min_cells < 1:
        raise ValueError(f"'min_cells' must be a positive integer; got {min_cells!r}.")
    shapes = {np.shape(a) for a in rates} | {np.shape(m) for m in valid}
    if len(shapes) > 1:
        raise ValueError(f"'rates' and 'valid' must all have one shape; got {sorted(shapes)}.")
    maps = [np.asarray(a, dtype=np.float64) for a in rates]
    masks = [np.asarray(m, dtype=bool) & np.isfinite(a) for a, m in zip(maps, valid)]
    boxes = [_bounding_box(m) for m in masks]
    pairs = []
    for i in range(len(maps)):
        for j in range(i + 1, len(maps)):
            if boxes[i] is None or boxes[j] is None:
                continue
            # Only the intersection of the two bounding boxes can overlap.
            y0, y1 = max(boxes[i][0], boxes[j][0]), min(boxes[i][1], boxes[j][1])
            x0, x1 = max(boxes[i][2], boxes[j][2]), min(boxes[i][3], boxes[j][3])
            if y0 >= y1 or x0 >= x1:
                continue
            common = masks[i][y0:y1, x0:x1] & masks[j][y0:y1, x0:x1]
            if int(common.sum()) < min_cells:
                continue
            diff = maps[i][y0:y1, x0:x1][common] - maps[j][y0:y1, x0:x1][common]
            median, sigma, npix = _robust_difference(diff)
            if npix < min_cells:
                continue
            # A noise-free difference (sigma 0) still needs a finite weight:
            # floor the scatter at float32 resolution of the levels.
            level = max(float(np.median(np.abs(maps[i][y0:y1, x0:x1][common]))), 1e-30)
            sigma = max(sigma, float(np.finfo(np.float32).eps) * level)
            weight = npix / (0.5 * math.pi * sigma * sigma)
            pairs.append(SkyPair(i, j, median, float(weight), npix))
    return pairs


def _robust_difference(diff) -> tuple[float, float, int]:
    """Median, scatter and count of cell differences after clipping about the median.

    The scatter is 1.4826 x the median absolute deviation, and the clipping
    is about the median: cosmic rays (not yet found at this step) hit a
    good fraction of coarse cells, all on one side, and would inflate a
    standard deviation and drag a mean so far that clipping about the mean
    keeps them.
    """
    kept = diff
    for _ in range(_CLIP_ITER):
        median = float(np.median(kept))
        sigma = 1.4826 * float(np.median(np.abs(kept - median)))
        inside = np.abs(kept - median) <= _CLIP_SIGMA * sigma
        if inside.all() or not inside.any():
            break
        kept = kept[inside]
    median = float(np.median(kept))
    sigma = 1.4826 * float(np.median(np.abs(kept - median)))
    return median, sigma, int(kept.size)


# -- the step -------------------------------------------------------------------------------


def _rate(sky, chip) -> float:
    return float(sky) / (chip.exptime * chip.pixel_scale**2)


def match_sky(groups, local_skies, separate_frame: OutputFrame, backend) -> list[list[float]]:
    """``skymethod = match``: the sky of every chip from the exposures' overlaps.

    Parameters
    ----------
    groups : list of list of ChipInput
        The chips of each exposure, with their static masks.
    local_skies : list of list of float
        The localmin sky of every chip (electrons per pixel), as
        :func:`gpudriz.pipeline.steps.sky.exposure_sky` gives it; it anchors the levels.
    separate_frame : OutputFrame
        The run's separate frame (the matching frame's orientation).
    backend : str or Backend

    Returns
    -------
    list of list of float
        The sky to subtract from each chip, electrons per pixel, nested like
        ``groups``.
    """
    names = [g[0].exposure_path.name for g in groups]
    # Every chip of an exposure carries the same surface brightness.
    local = np.array([_rate(sk[0], g[0].chip) for g, sk in zip(groups, local_skies)])
    frame = match_frame([c.chip for g in groups for c in g], separate_frame)
    rates, valid = exposure_rates(groups, frame, backend)
    pairs = pair_differences(rates, valid)
    offsets, components = solve_offsets(len(groups), pairs)
    levels = anchor_levels(offsets, components, local)
    log.info("skymatch: %d overlapping pair(s) of exposures on a %dx%d frame of %.3g\" cells.",
             len(pairs), frame.shape[1], frame.shape[0], frame.pixel_scale)  # fmt: skip
    for p in pairs:
        resid = p.difference - (offsets[p.i] - offsets[p.j])
        log.debug("skymatch: %s - %s = %.5g over %d cells (fit residual %.3g)",
                  names[p.i], names[p.j], p.difference, p.ncells, resid)  # fmt: skip
    for group in components:
        if len(group) == 1:
            log.info("skymatch: %s overlaps no other exposure (fewer than %d common cells); "
                     "it keeps its localmin sky.", names[group[0]], MIN_OVERLAP_CELLS)  # fmt: skip
            continue
        log.info("skymatch: exposures %s matched, e-/s/arcsec^2 offset (level; localmin): %s",
                 ", ".join(names[e] for e in group),
                 "; ".join(f"{names[e]} {offsets[e]:+.5g} ({levels[e]:.5g}; {local[e]:.5g})"
                           for e in group))  # fmt: skip
    return [[float(levels[e]) * c.chip.exptime * c.chip.pixel_scale**2 for c in g] for e, g in enumerate(groups)]
