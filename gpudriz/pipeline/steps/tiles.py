"""The final drizzle in tiles (``tile_size``): each tile drizzled and written on its own.

With ``tile_size = N`` the final frame is cut into N x N tiles (the last
column and row smaller) on the frame's own WCS: tile ``(ix, iy)`` is the
frame's pixels ``[y0:y0 + ny, x0:x0 + nx]`` with ``x0 = ix N``, ``y0 = iy N``,
and its WCS is the frame's with CRPIX moved by ``(-x0, -y0)``, so that tiles
align pixel for pixel.  A tile's final drizzle holds only that tile's arrays
(and one chip's): each chip whose footprint box (:func:`chip_boxes`) overlaps
the tile is drizzled through its pixmap to the whole frame, shifted by the
tile's origin (whole numbers: exact), the same drizzle as the untiled one
restricted to the tile's pixels.

A tile's context planes count only the chips that reach it: bit k of a
tile is its k-th chip that gave weight to at least one of its pixels
(:attr:`TileImage.chips`, indices into the run's chips, the rows of the
``INPUTS`` table).  The tile's drizzle keeps context planes to know them,
also with ``context=no`` (the planes are then not written).  A tile that no
chip reaches is not written.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gpudriz.backend.arrays import to_host
from gpudriz.pipeline.geometry.outframe import OutputFrame
from gpudriz.pipeline.io import tile_products
from gpudriz.pipeline.state import ChipInput
from gpudriz.pipeline.steps.chipdata import backend_of, drizzle_margin, new_drizzle, pixmap_to, scale_ratio
from gpudriz.pipeline.steps.final import FinalImage, FinalParams, add_chip, final_error

__all__ = ["Tile", "TileImage", "plan_tiles", "tile_frame", "chip_boxes", "tile_chips", "final_tile",
           "compact_context", "context_chips", "tile_product", "tiled_final"]  # fmt: skip

log = logging.getLogger("gpudriz")

#: Bits per context plane (int32 planes, as drizzle writes them).
_PLANE_BITS = 32


@dataclass(frozen=True)
class Tile:
    """One tile of the final frame: its indices, and its pixels ``[y0:y0 + ny, x0:x0 + nx]`` of the frame."""

    ix: int
    iy: int
    x0: int
    y0: int
    nx: int
    ny: int


@dataclass(frozen=True, eq=False)
class TileImage:
    """A tile's final drizzle and the chips in it.

    Attributes
    ----------
    image : FinalImage or None
        SCI, WHT, CTX, ERR of the tile; None when no chip touches it.
    chips : tuple of int
        The chips (positions in the chips given) that gave weight to at least
        one pixel of the tile, in input order; chip ``chips[k]`` is context bit k.
    """

    image: FinalImage | None
    chips: tuple


def plan_tiles(shape, tile_size: int) -> list[Tile]:
    """The tiles of a frame of ``shape`` ``(ny, nx)``, row by row (iy, then ix), edge tiles smaller."""
    ny, nx = shape
    n = int(tile_size)
    return [Tile(x0 // n, y0 // n, x0, y0, min(n, nx - x0), min(n, ny - y0))
            for y0 in range(0, ny, n) for x0 in range(0, nx, n)]  # fmt: skip


def tile_frame(frame: OutputFrame, tile: Tile) -> OutputFrame:
    """The tile's frame: ``frame``'s WCS with CRPIX moved by ``(-x0, -y0)``, the tile's shape.

    A SIP distortion of a reference image's WCS moves with it (its own CRPIX).
    """
    w = frame.wcs.deepcopy()
    w.wcs.crpix = [w.wcs.crpix[0] - tile.x0, w.wcs.crpix[1] - tile.y0]
    if w.sip is not None:
        sip = w.sip
        w.sip = type(sip)(sip.a, sip.b, sip.ap, sip.bp, (sip.crpix[0] - tile.x0, sip.crpix[1] - tile.y0))
    w.wcs.set()
    w.pixel_shape = (tile.nx, tile.ny)
    return OutputFrame(w, (tile.ny, tile.nx))


def chip_boxes(chips: Sequence[ChipInput], frame: OutputFrame, params: FinalParams, backend) -> list:
    """Each chip's footprint box in ``frame``: ``(xmin, xmax, ymin, ymax)`` in frame pixels, or None.

    The extremes of the chip's mapped pixel centres (its pixmap to the frame),
    widened by the kernel's reach: ``(5 + pixfrac) / s + 2`` output pixels,
    with ``s`` the output pixel size in input pixels (Lanczos5 reaches
    ``5 / s``, the square kernel ``pixfrac / 2s`` times the local
    distortion).  None: no pixel of the chip maps onto the frame's plane.
    """
    be = backend_of(backend)
    xp = be.xp
    boxes = []
    for c in chips:
        pm = pixmap_to(c.chip, frame, be)
        ok = xp.isfinite(pm[..., 0]) & xp.isfinite(pm[..., 1])
        if not bool(ok.any()):
            boxes.append(None)
            continue
        x, y = pm[..., 0][ok], pm[..., 1][ok]
        margin = drizzle_margin(params.pixfrac, scale_ratio(c.chip, frame))
        boxes.append((float(x.min()) - margin, float(x.max()) + margin,
                      float(y.min()) - margin, float(y.max()) + margin))  # fmt: skip
        del pm, ok, x, y
    return boxes


def tile_chips(boxes, tile: Tile) -> list[int]:
    """Indices of the chips whose box overlaps the tile's pixels (edges at ``x0 - 0.5 ... x0 + nx - 0.5``)."""
    lo_x, hi_x = tile.x0 - 0.5, tile.x0 + tile.nx - 0.5
    lo_y, hi_y = tile.y0 - 0.5, tile.y0 + tile.ny - 0.5
    return [k for k, b in enumerate(boxes)
            if b is not None and b[1] >= lo_x and b[0] <= hi_x and b[3] >= lo_y and b[2] <= hi_y]  # fmt: skip


def compact_context(ctx, keep: Sequence[int]):
    """Context planes with only the bits ``keep`` (old bit numbers, ascending), renumbered 0, 1, ...

    ``ctx``: int32 planes ``(nplanes, ny, nx)`` on the host.  Returns
    ``(ceil(len(keep) / 32), ny, nx)`` int32 planes.
    """
    old = ctx.view(np.uint32)
    new = np.zeros((max(1, math.ceil(len(keep) / _PLANE_BITS)),) + ctx.shape[1:], np.uint32)
    for n, o in enumerate(keep):
        bit = (old[o // _PLANE_BITS] >> np.uint32(o % _PLANE_BITS)) & np.uint32(1)
        new[n // _PLANE_BITS] |= bit << np.uint32(n % _PLANE_BITS)
    return new.view(np.int32)


def final_tile(chips: Sequence[ChipInput], ivm_paths: Sequence, frame: OutputFrame, tile: Tile,
               params: FinalParams, backend) -> TileImage:  # fmt: skip
    """The final drizzle of ``chips`` onto one tile of ``frame``, with its ERR.

    Parameters
    ----------
    chips : sequence of ChipInput
        The chips whose footprint overlaps the tile (:func:`tile_chips`), in input order.
    ivm_paths : sequence of Path or None
        Their inverse-variance map files (``final_wht_type = IVM``).
    frame : OutputFrame
        The whole final frame (the chips' pixmaps are computed to it).
    tile : Tile
    params : FinalParams
    backend : str or Backend

    Returns
    -------
    TileImage
        ``chips`` are positions in the ``chips`` given here.
    """
    be = backend_of(backend)
    xp = be.xp
    # The variance output (float32) and ERR computed from it: two more tile-sized arrays.
    be.ops.check_memory(2 * 4 * tile.ny * tile.nx, f"the {tile.nx}x{tile.ny} tile's variance and ERR arrays")
    # Context planes always: they say which chips gave the tile weight (context=no drops them after).
    d = new_drizzle(params.kernel, tile_frame(frame, tile), params.fillval, be, context=True,
                    nimages=len(chips))  # fmt: skip
    for c, ivm_path in zip(chips, ivm_paths):
        add_chip(d, c, ivm_path, frame, params, be, origin=(tile.x0, tile.y0))
    ctx = to_host(d.out_ctx)
    touched = context_chips(ctx, len(chips))
    if not touched:
        return TileImage(None, ())
    err = final_error(d, params.fillval, xp)
    sci = to_host(d.out_img).astype(np.float32)
    wht = to_host(d.out_wht).astype(np.float32)
    if not params.context:
        ctx = None
    else:
        if touched != list(range(len(touched))):
            ctx = compact_context(ctx, touched)
        ctx = ctx[: math.ceil(len(touched) / _PLANE_BITS)]
        if ctx.shape[0] == 1:
            ctx = ctx[0]
    return TileImage(FinalImage(sci, wht, ctx, err), tuple(touched))


def context_chips(ctx, n: int) -> list[int]:
    """The bits (of ``n``) set somewhere in the context planes ``ctx`` (int32, ``(nplanes, ny, nx)``)."""
    present = np.bitwise_or.reduce(ctx.view(np.uint32).reshape(ctx.shape[0], -1), axis=1)
    return [k for k in range(n) if (int(present[k // _PLANE_BITS]) >> (k % _PLANE_BITS)) & 1]


def tile_product(tile: Tile, indices: Sequence[int], chips: Sequence[ChipInput], ivm_paths: Sequence,
                 frame: OutputFrame, params: FinalParams, backend, folder, output: str, prov, *, build=True):
    """One tile's final drizzle written as its product: ``(files, TileRow)``, or None if no chip reached it.

    ``indices``: the run's numbers (``INPUTS`` rows) of ``chips``, the chips whose
    footprint overlaps the tile (:func:`tile_chips`); the other arguments as
    :func:`tiled_final`'s.
    """  # fmt: skip
    result = final_tile(chips, ivm_paths, frame, tile, params, backend)
    if result.image is None:
        return None
    used = tuple(indices[k] for k in result.chips)
    files = tile_products.write_tile(folder, output, tile, result.image.planes(), tile_frame(frame, tile),
                                     frame, used, prov, build=build)  # fmt: skip
    row = tile_products.TileRow(next(iter(files.values())).name, tile.ix, tile.iy, tile.x0, tile.y0,
                                tile.nx, tile.ny, used)  # fmt: skip
    return files, row


def tiled_final(chips: Sequence[ChipInput], ivm_paths: Sequence, frame: OutputFrame, params: FinalParams,
                tile_size: int, backend, folder, output: str, prov, *, build=True) -> dict:  # fmt: skip
    """The final drizzle tile by tile: each touched tile's product, then ``<output>_tiles.ecsv``.

    Parameters
    ----------
    chips, ivm_paths
        Every chip of the run (chip k is row k of the ``INPUTS`` table) and its IVM file.
    frame : OutputFrame
        The final frame.
    params : FinalParams
    tile_size : int
        Side of the tiles (pixels, > 0).
    backend : str or Backend
    folder : Path
        The output folder.
    output : str
        Rootname of the products.
    prov : gpudriz.pipeline.io.provenance.Provenance
    build : bool
        ``build`` parameter: one file per tile, else one per plane.

    Returns
    -------
    dict
        The files written: ``"drz:x<ix>y<iy>"`` (or ``"drz_sci:x<ix>y<iy>"``...) per
        tile, and ``"tiles"``, the table.
    """
    tiles = plan_tiles(frame.shape, tile_size)
    boxes = chip_boxes(chips, frame, params, backend)
    written, rows = {}, []
    for tile in tiles:
        ks = tile_chips(boxes, tile)
        if not ks:
            continue
        done = tile_product(tile, ks, [chips[k] for k in ks], [ivm_paths[k] for k in ks], frame, params,
                            backend, folder, output, prov, build=build)  # fmt: skip
        if done is not None:
            written.update(done[0])
            rows.append(done[1])
    written["tiles"] = tile_products.write_tile_table(folder, output, rows, frame, tile_size)
    log.info("driz_combine: %d of %d %dx%d tile(s) written (the others have no input)", len(rows), len(tiles),
             tile_size, tile_size)  # fmt: skip
    return written
