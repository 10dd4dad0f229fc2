"""The mosaic mode's tasks: each step cut per chip, per exposure or per tile, with bounded memory.

Each function here is one task of :mod:`gpudriz.pipeline.graph`: its inputs
are picklable (chips as :class:`~gpudriz.pipeline.state.ChipInput`, frames,
the step's frozen parameters, the backend's name, file names), it writes its
products to the output folder (atomically) and returns a small JSON-able
dict that says what it wrote, so that a Dask worker can run it and a rerun
can tell from its record that it is done (:mod:`gpudriz.pipeline.taskrecords`).

What a task holds at once is one chip (or one exposure's chips) and one
window or tile, never a whole frame:

- driz_separate: one exposure onto its *window* of the separate frame (the
  frame pixels its chips reach, :mod:`~gpudriz.pipeline.steps.windows`);
- median: one tile of the separate frame, from the windows that overlap it;
- blot: one chip, from the median tiles under its footprint;
- driz_cr: one exposure's chips against their blots;
- driz_combine: one tile of the final frame, from the chips that reach it.

Windows and tiles share the frame's pixel grid (whole-number offsets), so
the results are those of the single-frame steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gpudriz.backend.arrays import to_host, to_xp
from gpudriz.pipeline.geometry.outframe import OutputFrame
from gpudriz.pipeline.io import products
from gpudriz.pipeline.io.provenance import Provenance
from gpudriz.pipeline.state import MASKPT, ChipInput, PipelineError
from gpudriz.pipeline.steps.blot import BlotParams, blot_chip
from gpudriz.pipeline.steps.chipdata import (
    backend_of,
    drizzle_margin,
    good_mask,
    new_drizzle,
    pixmap_to,
    scale_ratio,
    sky_subtracted,
)
from gpudriz.pipeline.steps.driz_cr import DrizCrParams, driz_cr_chip
from gpudriz.pipeline.steps.final import FinalParams, final_drizzle
from gpudriz.pipeline.steps.median import MedianParams
from gpudriz.pipeline.steps.separate import SeparateParams
from gpudriz.pipeline.steps.sky import SkyParams, measure_chip_sky
from gpudriz.pipeline.steps.skymatch import CoarseMap, exposure_map, pair_difference
from gpudriz.pipeline.steps.static import StaticParams, static_chip
from gpudriz.pipeline.steps.tiles import Tile, chip_boxes, tile_frame, tile_product
from gpudriz.pipeline.steps.windows import (
    blot_margin,
    box_window,
    pixmap_box,
    read_into,
    union_box,
)

__all__ = ["tile_of", "tile_dict", "static_task", "sky_task", "skymatch_map_task", "skymatch_pair_task",
           "separate_task", "median_tile_task", "blot_task", "driz_cr_task", "footprint_task", "final_tile_task",
           "final_frame_task"]  # fmt: skip


def tile_dict(t: Tile | None) -> dict | None:
    """A window or tile as a JSON-able dict (None stays None)."""
    return None if t is None else {"ix": t.ix, "iy": t.iy, "x0": t.x0, "y0": t.y0, "nx": t.nx, "ny": t.ny}


def tile_of(d: dict) -> Tile:
    """The :class:`Tile` a :func:`tile_dict` describes."""
    return Tile(int(d["ix"]), int(d["iy"]), int(d["x0"]), int(d["y0"]), int(d["nx"]), int(d["ny"]))


def _window_cards(w: Tile) -> list:
    return [("GDWINX0", w.x0, "window's first column in the frame (0-based)"),
            ("GDWINY0", w.y0, "window's first row in the frame (0-based)")]  # fmt: skip


def static_task(chip: ChipInput, path, params: StaticParams, backend) -> dict:
    """One chip's static-mask contribution, written to ``path`` (a ``.npy`` of bool, True = good)."""
    products.atomic_write_array(Path(path), to_host(static_chip(chip, params, backend)).astype(bool))
    return {"path": str(path)}


def sky_task(chip: ChipInput, params: SkyParams, backend) -> dict:
    """One chip's measured sky (electrons per pixel), and why it has no data (``empty``: None when it has)."""
    value, why = measure_chip_sky(chip, params, backend)
    return {"sky": float(value), "empty": why}


def skymatch_map_task(chips: Sequence[ChipInput], path, frame: OutputFrame, backend) -> dict:
    """skymatch's map of one exposure on its window of the matching frame, written to ``path`` (``.npy``).

    The file holds two float32 planes, the rates and the valid cells (1, 0):
    the rates are a float32 drizzle's, so nothing is lost.  Returns where the
    window lies, the valid cells' box in the frame (None when the exposure
    has none, or misses the frame: then nothing is written) and the file.
    """
    m = exposure_map(chips, frame, backend)
    if m is None or m.box is None:
        return {"box": None}
    products.atomic_write_array(Path(path), np.stack([m.rates, m.valid]).astype(np.float32))
    return {"y0": m.y0, "x0": m.x0, "box": list(m.box), "path": str(path)}


def skymatch_pair_task(i: int, a: dict, partners: Sequence[tuple[int, dict]]) -> dict:
    """The sky differences of exposure ``i`` and each of ``partners`` (``(j, map)``) from their maps.

    The maps are :func:`skymatch_map_task`'s; ``i``'s is read once, each
    partner's in turn.  Returns ``{"pairs": [...]}``, per partner
    ``{"difference": ..., "weight": ..., "ncells": ...}`` or None where they
    overlap too little (:func:`~gpudriz.pipeline.steps.skymatch.pair_difference`);
    not the indices, which a rerun with the inputs in another order changes.
    """
    mine = _coarse_map(a)
    found = []
    for j, b in partners:
        pair = pair_difference(i, j, mine, _coarse_map(b))
        found.append(None if pair is None else {"difference": pair.difference, "weight": pair.weight,
                                                 "ncells": pair.ncells})  # fmt: skip
    return {"pairs": found}


def _coarse_map(r: dict) -> CoarseMap:
    planes = np.load(r["path"])
    return CoarseMap(int(r["y0"]), int(r["x0"]), planes[0].astype(np.float64), planes[1] != 0)


def separate_task(chips: Sequence[ChipInput], exptime: float, frame: OutputFrame, params: SeparateParams,
                  backend, folder, prov: Provenance) -> dict:  # fmt: skip
    """driz_separate for one exposure onto its window of the separate frame.

    Writes ``<rootname>_single_sci.fits`` and ``_single_wht.fits`` of the
    window's size, on the window's WCS (``GDWINX0``/``GDWINY0`` say where it
    lies).  Returns the files, the window (None when no chip reaches the
    frame: nothing is written) and ``wht_min`` (``median_newmasks``'s threshold,
    MASKPT times the mean positive weight).
    """
    be = backend_of(backend)
    xp = be.xp
    pixmaps = [pixmap_to(c.chip, frame, be) for c in chips]
    boxes = [pixmap_box(pm, drizzle_margin(params.pixfrac, scale_ratio(c.chip, frame)), xp)
             for c, pm in zip(chips, pixmaps)]  # fmt: skip
    window = box_window(union_box(boxes), frame.shape)
    if window is None:
        return {"window": None}
    wf = tile_frame(frame, window)
    d = new_drizzle(params.kernel, wf, params.fillval, be)
    origin = xp.asarray((window.x0, window.y0), dtype=pixmaps[0].dtype)
    for c, pm in zip(chips, pixmaps):
        s = scale_ratio(c.chip, frame)
        weights = good_mask(c, xp).astype(np.float32)
        d.add_image(sky_subtracted(c, xp), exptime, pm - origin, weight_map=weights, wht_scale=exptime,
                    pixfrac=params.pixfrac, in_units="counts", iscale=s * s, pixel_scale_ratio=s)  # fmt: skip
    root = chips[0].rootname
    sci_path = Path(folder) / f"{root}_single_sci.fits"
    wht_path = Path(folder) / f"{root}_single_wht.fits"
    sci, wht = to_host(d.out_img), to_host(d.out_wht)
    products.write_image(sci_path, sci, wf.header(), prov, bunit="ELECTRONS/S", cards=_window_cards(window))
    products.write_image(wht_path, wht, wf.header(), prov, cards=_window_cards(window))
    pos = wht[wht > 0]
    return {"window": tile_dict(window), "sci": str(sci_path), "wht": str(wht_path),
            "wht_min": MASKPT * float(pos.mean()) if pos.size else 0.0}  # fmt: skip


def median_tile_task(tile: dict, singles: Sequence[dict], n_total: int, frame: OutputFrame,
                     params: MedianParams, backend, folder, output: str, prov: Provenance) -> dict:  # fmt: skip
    """The median of one tile of the separate frame, from the single images whose windows overlap it.

    ``singles``: per overlapping single image, what :func:`separate_task`
    returned plus its ``exptime``, ``sky`` and ``rdnoise`` (minmed's noise
    model) and whether median_newmasks applies its ``wht_min``; ``n_total``:
    the number of single images of the run.  A single image that does not
    cover a pixel has no weight there, so leaving out the ones that miss the
    tile changes nothing, except for ``minmax``, whose rejected counts scale
    with the number of images: its combine counts ``n_total`` images.

    Writes ``<output>_med_x<ix>y<iy>.fits`` and ``<output>_med_count_x<ix>y<iy>.fits``
    on the tile's WCS; returns them with the tile.
    """
    be = backend_of(backend)
    xp = be.xp
    t = tile_of(tile)
    ny, nx = frame.shape
    grow = int(round(params.combine_grow)) if params.combine_type == "minmed" else 0
    # minmed's grow reads `grow` pixels around the tile: the region read is the tile and that halo.
    a0x, a1x = max(0, t.x0 - grow), min(nx, t.x0 + t.nx + grow)
    a0y, a1y = max(0, t.y0 - grow), min(ny, t.y0 + t.ny + grow)
    region = Tile(t.ix, t.iy, a0x, a0y, a1x - a0x, a1y - a0y)
    n = len(singles)
    if n > np.iinfo(np.int16).max:
        raise PipelineError(f"median: {n} separate images are more than the "
                            f"{np.iinfo(np.int16).max} one median can count.")  # fmt: skip
    be.ops.check_memory(3 * 4 * n * region.ny * region.nx,
                        f"the median of a {t.nx}x{t.ny} tile from {n} single images")  # fmt: skip
    sci = np.zeros((n, region.ny, region.nx), np.float32)
    wht = np.zeros_like(sci)
    vec = np.zeros((4, n), np.float32)  # wht_min, exptime, sky, rdnoise
    for k, s in enumerate(singles):
        window = tile_of(s["window"])
        read_into(sci[k], region, s["sci"], window)  # one file open at a time
        read_into(wht[k], region, s["wht"], window)
        vec[:, k] = (s["wht_min"] if params.median_newmasks else 0.0, s["exptime"], s["sky"], s["rdnoise"])
    out = xp.empty((region.ny, region.nx), dtype=xp.float32)
    count = xp.empty((region.ny, region.nx), dtype=xp.int32)
    be.ops.combine(
        to_xp(sci, xp), to_xp(wht, xp), to_xp(vec[0], xp), out, params.combine_type,
        nlow=params.combine_nlow, nhigh=params.combine_nhigh, lthresh=params.combine_lthresh,
        hthresh=params.combine_hthresh, exptime=to_xp(vec[1], xp), sky=to_xp(vec[2], xp),
        rdnoise=to_xp(vec[3], xp), nsigma=tuple(params.combine_nsigma), grow=grow, fill=0.0, count=count,
        nimages=n_total if params.combine_type == "minmax" else None,
    )  # fmt: skip
    inner = (slice(t.y0 - a0y, t.y0 - a0y + t.ny), slice(t.x0 - a0x, t.x0 - a0x + t.nx))
    tf = tile_frame(frame, t)
    med_path = Path(folder) / f"{output}_med_x{t.ix}y{t.iy}.fits"
    count_path = Path(folder) / f"{output}_med_count_x{t.ix}y{t.iy}.fits"
    products.write_image(med_path, to_host(out)[inner], tf.header(), prov, bunit="ELECTRONS/S",
                         cards=_window_cards(t))  # fmt: skip
    products.write_image(count_path, to_host(count)[inner].astype(np.int16), tf.header(), prov,
                         cards=_window_cards(t))  # fmt: skip
    return {"window": tile, "med": str(med_path), "count": str(count_path)}


def blot_task(chip: ChipInput, med_tiles: Sequence[dict], nimages: int, frame: OutputFrame, params: BlotParams,
              backend, folder, prov: Provenance, variances=None) -> dict:  # fmt: skip
    """The median blotted back to one chip, read from the median tiles under its footprint.

    ``med_tiles``: what :func:`median_tile_task` returned for the tiles that
    overlap the chip's window (a tile no single image reached is missing, and
    reads as the median's fill, 0, with count 0).  Writes the chip's
    ``_blt.fits`` and ``_bltvar.fits`` as :func:`~gpudriz.pipeline.steps.blot.blot_chip` does.
    ``variances``: the median's statistic variances for ``nimages``, computed
    once for the run (else by the first blot task in each process).
    """
    be = backend_of(backend)
    xp = be.xp
    pixmap = pixmap_to(chip.chip, frame, be)
    window = box_window(pixmap_box(pixmap, blot_margin(params.blot_sinscl), xp), frame.shape)
    if window is None:
        window = Tile(0, 0, 0, 0, 1, 1)  # the chip misses the frame: its blot is all fill, as untiled
    med = np.zeros((window.ny, window.nx), np.float32)
    counts = np.zeros_like(med)
    for m in med_tiles:
        tile = tile_of(m["window"])
        read_into(med, window, m["med"], tile)
        read_into(counts, window, m["count"], tile)
    r = blot_chip(chip, med, counts, nimages, frame, params, be, folder, prov, pixmap=pixmap,
                  origin=(window.x0, window.y0), variances=variances)  # fmt: skip
    return {"blot": str(r.blot_path), "var": str(r.median_var_path)}


def driz_cr_task(chips: Sequence[ChipInput], blots: Sequence[dict], params: DrizCrParams, backend, folder,
                 prov: Provenance) -> dict:  # fmt: skip
    """driz_cr for one exposure's chips: ``<rootname>_crmask.fits`` (and ``_cor.fits`` with driz_cr_corr).

    ``blots``: per chip, what :func:`blot_task` returned.  Returns the files,
    each chip's noise scale (CRNOISE) and number of cosmic-ray pixels.
    """
    results = [driz_cr_chip(c, Path(b["blot"]), Path(b["var"]), params, backend) for c, b in zip(chips, blots)]
    files = products.write_crmasks([(c.rootname, c.chip.extver, r.crmask, r.noise_scale)
                                    for c, r in zip(chips, results)], folder, prov)  # fmt: skip
    if params.corr:
        files.update(products.write_cor([(c.exposure_path, c.rootname, c.chip, r.cor, r.crmask)
                                         for c, r in zip(chips, results)], folder))  # fmt: skip
    return {"files": {k: str(v) for k, v in files.items()},
            "crmask": str(files[f"crmask:{chips[0].rootname}"]),
            "noise": [float(r.noise_scale) for r in results],
            "ncr": [int(r.crmask.sum()) for r in results]}  # fmt: skip


def footprint_task(chip: ChipInput, frame: OutputFrame, params: FinalParams, backend) -> dict:
    """The chip's footprint box in the final frame (:func:`~gpudriz.pipeline.steps.tiles.chip_boxes`)."""
    box = chip_boxes([chip], frame, params, backend)[0]
    return {"box": None if box is None else [float(v) for v in box]}


def final_tile_task(tile: dict, indices: Sequence[int], chips: Sequence[ChipInput], ivm_paths: Sequence,
                    frame: OutputFrame, params: FinalParams, backend, folder, output: str, prov: Provenance,
                    build: bool) -> dict:  # fmt: skip
    """One tile of the final frame from the chips that reach it, written as its product.

    Returns its files and its row of the tile table (``row`` None when no
    chip put weight on it: nothing is written).
    """
    done = tile_product(tile_of(tile), list(indices), chips, ivm_paths, frame, params, backend, folder, output,
                        prov, build=build)  # fmt: skip
    if done is None:
        return {"files": {}, "row": None}
    files, row = done
    return {"files": {k: str(v) for k, v in files.items()},
            "row": [row.file, row.ix, row.iy, row.x0, row.y0, row.nx, row.ny, list(row.chips)]}  # fmt: skip


def final_frame_task(chips: Sequence[ChipInput], ivm_paths: Sequence, frame: OutputFrame, params: FinalParams,
                     backend, folder, output: str, prov: Provenance, build: bool) -> dict:  # fmt: skip
    """The final drizzle onto the whole frame (``tile_size = 0``), written as the usual product."""
    image = final_drizzle(chips, ivm_paths, frame, params, backend)
    files = products.write_drizzle_product(folder, output, image.planes(), frame, prov, build=build)
    return {"files": {k: str(v) for k, v in files.items()}}

