"""Windows of a frame: the part of the separate or final frame a chip, an exposure or a tile covers.

The mosaic mode (:mod:`gpudriz.pipeline.graph`) never holds a whole frame:
an exposure is drizzled onto the window of the separate frame its chips
cover, the median is made tile by tile, and each chip's blot reads the part
of the median under its footprint.  A window is a :class:`~gpudriz.pipeline.steps.tiles.Tile`
(pixels ``[y0:y0 + ny, x0:x0 + nx]`` of the frame, whole numbers, so that a
window's WCS is the frame's with CRPIX moved and its pixels align with the
frame's exactly).

A window must hold every frame pixel its chips can reach, so that the
drizzle onto the window is the drizzle onto the frame restricted to it: the
mapped pixel centres, widened by the reach of the widest kernel (Lanczos5,
5 output pixels per input pixel scale, plus the drop) and of the widest
blot interpolant (the sinc's ``3 sinscl``).
"""

from __future__ import annotations

import math

import numpy as np

from gpudriz.pipeline.io.sections import read_box
from gpudriz.pipeline.steps.tiles import Tile

__all__ = ["pixmap_box", "blot_margin", "box_window", "union_box", "overlap",
           "read_into"]  # fmt: skip


def blot_margin(sinscl: float) -> float:
    """Frame pixels a blot interpolant reads beyond a mapped position (sinc: ``3 sinscl``; Lanczos5: 5)."""
    return max(6.0, 3.0 * float(sinscl) + 1.0) + 2.0


def pixmap_box(pixmap, margin: float, xp):
    """``(xmin, xmax, ymin, ymax)`` of the finite positions of ``pixmap`` widened by ``margin``; None if none."""
    ok = xp.isfinite(pixmap[..., 0]) & xp.isfinite(pixmap[..., 1])
    if not bool(ok.any()):
        return None
    x, y = pixmap[..., 0][ok], pixmap[..., 1][ok]
    return (float(x.min()) - margin, float(x.max()) + margin, float(y.min()) - margin, float(y.max()) + margin)


def union_box(boxes):
    """The smallest box holding every box of ``boxes`` (None ones skipped); None if all are None."""
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return None
    return (min(b[0] for b in boxes), max(b[1] for b in boxes), min(b[2] for b in boxes), max(b[3] for b in boxes))


def box_window(box, shape) -> Tile | None:
    """The frame pixels (shape ``(ny, nx)``) whose centres lie within ``box``, as a window; None if none.

    Pixel ``i`` spans ``i - 0.5 .. i + 0.5``: every pixel that ``box`` touches is in.
    """
    if box is None:
        return None
    ny, nx = shape
    x0 = max(0, math.floor(box[0] + 0.5))
    x1 = min(nx, math.ceil(box[1] + 0.5))
    y0 = max(0, math.floor(box[2] + 0.5))
    y1 = min(ny, math.ceil(box[3] + 0.5))
    if x1 <= x0 or y1 <= y0:
        return None
    return Tile(0, 0, x0, y0, x1 - x0, y1 - y0)


def overlap(a: Tile, b: Tile):
    """The frame pixels two windows share, ``(y0, y1, x0, x1)``; None if none."""
    x0, x1 = max(a.x0, b.x0), min(a.x0 + a.nx, b.x0 + b.nx)
    y0, y1 = max(a.y0, b.y0), min(a.y0 + a.ny, b.y0 + b.ny)
    if x1 <= x0 or y1 <= y0:
        return None
    return y0, y1, x0, x1


def read_into(out: np.ndarray, region: Tile, path, window: Tile, *, ext=0) -> bool:
    """Copy the pixels of ``region`` that the file ``path`` (an image of ``window``) holds into ``out``.

    ``out`` is ``region``'s array; the file is opened, read and closed.
    Returns whether the two windows overlap at all.
    """
    o = overlap(region, window)
    if o is None:
        return False
    y0, y1, x0, x1 = o
    out[y0 - region.y0:y1 - region.y0, x0 - region.x0:x1 - region.x0] = read_box(
        path, y0 - window.y0, y1 - window.y0, x0 - window.x0, x1 - window.x0, ext=ext, dtype=out.dtype)
    return True
