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
   square arcsecond, on its own window of that frame (:func:`exposure_map`).
   A coarse cell averages many input pixels, so the cell values are quiet
   and the work is small.
2. For every pair of exposures whose maps' valid cells overlap
   (:func:`overlapping_pairs`) in at least :data:`MIN_OVERLAP_CELLS` common
   well-covered cells, the clipped median of the cell-by-cell difference of
   their rates is their sky difference, weighted by its inverse variance
   (:func:`pair_difference`).
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
from dataclasses import dataclass, field

import numpy as np

from gpudriz.backend.arrays import to_host
from gpudriz.pipeline.geometry.outframe import OutputFrame, output_frame
from gpudriz.pipeline.steps.chipdata import (
    backend_of,
    drizzle_margin,
    good_mask,
    new_drizzle,
    pixmap_to,
    read_electrons,
    scale_ratio,
)
from gpudriz.pipeline.steps.sky_offsets import SkyPair, anchor_levels, solve_offsets
from gpudriz.pipeline.steps.tiles import tile_frame
from gpudriz.pipeline.steps.windows import box_window, pixmap_box, union_box

__all__ = [
    "COVER_FRACTION",
    "MATCH_BINNING",
    "MIN_OVERLAP_CELLS",
    "CoarseMap",
    "SkyPair",
    "anchor_levels",
    "exposure_map",
    "match_frame",
    "match_levels",
    "match_sky",
    "overlapping_pairs",
    "pair_difference",
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


@dataclass
class CoarseMap:
    """One exposure on its window of the matching frame: the frame's cells ``[y0:, x0:]`` of ``rates``' shape.

    ``rates``: surface-brightness rates (float64); ``valid``: True where a
    cell may be used (:func:`well_covered` and finite).  Cells outside the
    window are not covered by the exposure.
    """

    y0: int
    x0: int
    rates: np.ndarray
    valid: np.ndarray
    box: tuple | None = field(init=False)  # (y0, y1, x0, x1) of the valid cells in the frame; None if none

    def __post_init__(self):
        box = _bounding_box(self.valid)
        self.box = None if box is None else tuple(int(v) + o for v, o in zip(box, (self.y0, self.y0, self.x0, self.x0)))


def exposure_map(group, frame, backend) -> CoarseMap | None:
    """One exposure drizzled onto its window of ``frame``, in electrons/s per square arcsecond.

    The sky is not subtracted; weights are the DQ- and static-good masks.
    The window holds every cell the chips reach, so the map is the whole
    frame's restricted to it, and so are its valid cells: the cells around
    it are uncovered either way (:func:`well_covered` tests the neighbours),
    and the median weight is that of the same cells.  A mosaic's exposure
    covers a small part of the frame: its map is the size of its footprint.

    Parameters
    ----------
    group : list of ChipInput
        The chips of the exposure.
    frame : OutputFrame
        The matching frame (:func:`match_frame`).
    backend : str or Backend

    Returns
    -------
    CoarseMap or None
        None when no chip reaches the frame.
    """
    be = backend_of(backend)
    xp = be.xp
    pixmaps = [pixmap_to(c.chip, frame, be) for c in group]
    boxes = [pixmap_box(pm, drizzle_margin(1.0, scale_ratio(c.chip, frame)), xp) for c, pm in zip(group, pixmaps)]
    window = box_window(union_box(boxes), frame.shape)
    if window is None:
        return None
    d = new_drizzle("square", tile_frame(frame, window), 0.0, be)
    origin = xp.asarray((window.x0, window.y0), dtype=pixmaps[0].dtype)
    for c, pm in zip(group, pixmaps):
        s = scale_ratio(c.chip, frame)
        # iscale 1/pscale**2: electrons per pixel -> per square arcsecond
        # (a square-kernel drizzle averages, it keeps surface brightness).
        d.add_image(read_electrons(c, xp), c.chip.exptime, pm - origin,
                    weight_map=good_mask(c, xp).astype(np.float32), pixfrac=1.0,
                    in_units="counts", iscale=1.0 / c.chip.pixel_scale**2,
                    pixel_scale_ratio=s)  # fmt: skip
    img = to_host(d.out_img).astype(np.float64)
    wht = to_host(d.out_wht).astype(np.float64)
    return CoarseMap(window.y0, window.x0, img, well_covered(wht) & np.isfinite(img))


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
        As :func:`pair_difference` gives them, for the pairs that count.

    Raises
    ------
    ValueError
        If the sequences differ in length or the maps in shape, or
        ``min_cells`` is not a positive integer.
    """
    if len(rates) != len(valid):
        raise ValueError(f"'rates' ({len(rates)}) and 'valid' ({len(valid)}) must give one map per exposure.")
    _check_min_cells(min_cells)
    shapes = {np.shape(a) for a in rates} | {np.shape(m) for m in valid}
    if len(shapes) > 1:
        raise ValueError(f"'rates' and 'valid' must all have one shape; got {sorted(shapes)}.")
    maps = [np.asarray(a, dtype=np.float64) for a in rates]
    coarse = [CoarseMap(0, 0, a, np.asarray(m, dtype=bool) & np.isfinite(a)) for a, m in zip(maps, valid)]
    found = (pair_difference(i, j, coarse[i], coarse[j], min_cells=min_cells)
             for i, j in overlapping_pairs([m.box for m in coarse]))  # fmt: skip
    return [p for p in found if p is not None]


def _check_min_cells(min_cells):
    if isinstance(min_cells, bool) or not isinstance(min_cells, numbers.Integral) or min_cells < 1:
        raise ValueError(f"'min_cells' must be a positive integer; got {min_cells!r}.")


def overlapping_pairs(boxes) -> list[tuple[int, int]]:
    """The pairs ``(i, j)``, ``i < j``, whose boxes ``(y0, y1, x0, x1)`` intersect (None boxes: none), in order.

    A sweep along x: a mosaic's exposure overlaps a few neighbours, and its
    pairs are found without testing all of the others.
    """
    order = sorted((b[2], i) for i, b in enumerate(boxes) if b is not None)
    pairs = []
    for k, (_, i) in enumerate(order):
        bi = boxes[i]
        for _, j in order[k + 1:]:
            bj = boxes[j]
            if bj[2] >= bi[3]:
                break  # this one and the next start right of i's end
            if bj[0] < bi[1] and bi[0] < bj[1]:
                pairs.append((min(i, j), max(i, j)))
    return sorted(pairs)


def pair_difference(i, j, a: CoarseMap, b: CoarseMap, *, min_cells=MIN_OVERLAP_CELLS) -> SkyPair | None:
    """The sky difference of exposures ``i`` and ``j`` from their maps; None where they overlap too little.

    ``difference`` is the median of ``a - b`` over the common valid cells
    after clipping at 3 sigma about the median (the scene cancels, the
    skies' difference remains); ``weight`` is its inverse variance,
    ``n / (pi/2 * sigma**2)``, ``sigma`` being the scatter (1.4826 x MAD) of
    the kept cell differences.
    """
    if a.box is None or b.box is None:
        return None
    # Only the intersection of the two bounding boxes can overlap.
    y0, y1 = max(a.box[0], b.box[0]), min(a.box[1], b.box[1])
    x0, x1 = max(a.box[2], b.box[2]), min(a.box[3], b.box[3])
    if y0 >= y1 or x0 >= x1:
        return None
    ca = (slice(y0 - a.y0, y1 - a.y0), slice(x0 - a.x0, x1 - a.x0))
    cb = (slice(y0 - b.y0, y1 - b.y0), slice(x0 - b.x0, x1 - b.x0))
    common = a.valid[ca] & b.valid[cb]
    if int(common.sum()) < min_cells:
        return None
    ra = a.rates[ca][common]
    median, sigma, npix = _robust_difference(ra - b.rates[cb][common])
    if npix < min_cells:
        return None
    # A noise-free difference (sigma 0) still needs a finite weight:
    # floor the scatter at float32 resolution of the levels.
    level = max(float(np.median(np.abs(ra))), 1e-30)
    sigma = max(sigma, float(np.finfo(np.float32).eps) * level)
    return SkyPair(i, j, median, float(npix / (0.5 * math.pi * sigma * sigma)), npix)


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
    frame = match_frame([c.chip for g in groups for c in g], separate_frame)
    maps = [exposure_map(g, frame, backend) for g in groups]
    found = (pair_difference(i, j, maps[i], maps[j])
             for i, j in overlapping_pairs([None if m is None else m.box for m in maps]))  # fmt: skip
    return match_levels(groups, local_skies, [p for p in found if p is not None], frame)


def match_levels(groups, local_skies, pairs, frame: OutputFrame) -> list[list[float]]:
    """The sky of every chip from the exposures' measured differences (:func:`match_sky`'s last steps).

    Parameters
    ----------
    groups, local_skies
        As for :func:`match_sky`.
    pairs : list of SkyPair
        The differences of the exposures (indices into ``groups``) that overlap enough.
    frame : OutputFrame
        The matching frame, named in the log.

    Returns
    -------
    list of list of float
        As :func:`match_sky`.
    """
    names = [g[0].exposure_path.name for g in groups]
    # Every chip of an exposure carries the same surface brightness.
    local = np.array([_rate(sk[0], g[0].chip) for g, sk in zip(groups, local_skies)])
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
