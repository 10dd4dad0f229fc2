"""Pixel maps between two WCSs: exact, or exact on a sparse grid and interpolated.

A drop-in replacement for ``drizzle.utils.calc_pixmap`` and
``drizzle.utils.estimate_pixel_scale_ratio`` (drizzle 3.x).  ``calc_pixmap``
gives, for every pixel centre of the "from" image, its ``(x, y)`` position in
the pixel frame of the "to" WCS.

Design principle 7 ("pixmaps are computed where the data is"): the WCS is
evaluated exactly (astropy or gwcs, full distortion model, iterative
inverse) on a sparse uniform grid of nodes only, and the per-pixel map is
interpolated from it by the backend's ``interpolate_pixmap`` (Numba on the
CPU, a CUDA kernel on the GPU) with a separable 4-point cubic Lagrange
(local bicubic) interpolant.  Its error is O(step**4): the default
:data:`DEFAULT_STEP` keeps it under 1e-4 px on the real ACS/HRC and NIRCam
SIP headers (the design asks for 1e-3 px; see ``benchmarks/bench_pixmap.py``
and ``tests/engine/test_pixmap.py``); smaller chips get a smaller step
(:func:`auto_step`).  Lookup-table distortions of the "from" WCS (D2IM,
NPOL: bilinear tables, not smooth) are applied exactly at every pixel on top
of the interpolated map of the same WCS without them.  Cells where the
interpolation cannot be trusted (an undefined node, an error above
:data:`CHECK_TOL` at the cell centre) are evaluated exactly, and so is every
pixel when the "to" WCS has lookup tables.  An exact per-pixel mode
reproduces ``drizzle.utils.calc_pixmap``.

The node grid and the cells evaluated exactly are in :mod:`gpudriz.pixmap_grid`, the lookup
tables in :mod:`gpudriz.pixmap_tables`; this module holds the public functions.
"""

from __future__ import annotations

import logging
import math
import numbers
from contextlib import contextmanager

import numpy as np

from gpudriz import pixmap_grid, pixmap_tables
from gpudriz.backend import get_backend
from gpudriz.backend.arrays import to_host

# Public here too: the fast method's parameters, as users of gpudriz.pixmap know them.
from gpudriz.pixmap_grid import CHECK_TOL, DEFAULT_STEP, MIN_STEP, auto_step

__all__ = [
    "calc_pixmap",
    "estimate_pixel_scale_ratio",
    "pixel_scale",
    "DEFAULT_STEP",
    "CHECK_TOL",
    "MIN_STEP",
    "auto_step",
    "PIXMAP_METHODS",
]

log = logging.getLogger("gpudriz")
PIXMAP_METHODS = ("fast", "exact")
_DISABLE_BBOX = ("to", "from", "both", "none")

_DEG2RAD = math.pi / 180.0


# --------------------------------------------------------------------------
# bounding boxes (drizzle.utils semantics)
# --------------------------------------------------------------------------


def _bbox_f(wcs):
    """The bounding box of ``wcs`` as intervals in (x, y) order, or None.

    Mirrors ``drizzle.utils.calc_pixmap``: a ``ModelBoundingBox`` is asked
    for its Fortran-order intervals, anything else is taken as a tuple.
    """
    bbox = getattr(wcs, "bounding_box", None)
    if bbox is None:
        return None
    try:
        return bbox.bounding_box(order="F")
    except AttributeError:
        return tuple(bbox)


@contextmanager
def _bboxes_off(wcs_from, bbox_from, off_from, wcs_to, bbox_to, off_to):
    """Temporarily remove the bounding boxes that are switched off."""
    off_from = off_from and bbox_from is not None
    off_to = off_to and bbox_to is not None
    if off_from:
        wcs_from.bounding_box = None
    if off_to:
        wcs_to.bounding_box = None
    try:
        yield
    finally:
        # drizzle.utils restores the (x, y)-order intervals the same way.
        if off_from:
            wcs_from.bounding_box = bbox_from
        if off_to:
            wcs_to.bounding_box = bbox_to


# --------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------


_SAID = set()


def _note_exact_once(msg, *args):
    """Say once per process (INFO) why a map is evaluated exactly, then at DEBUG.

    A pipeline maps every chip at every step: the same reason once is news,
    dozens of times is noise.
    """
    text = msg % args
    log.log(logging.DEBUG if text in _SAID else logging.INFO, text)
    _SAID.add(text)


def _check_method(method):
    if method not in PIXMAP_METHODS:
        raise ValueError(
            f"'method' must be one of {', '.join(repr(m) for m in PIXMAP_METHODS)}; got {method!r}."
        )


def _check_step(step):
    if step is None:
        return None
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 1:
        raise ValueError(f"'step' must be a positive integer number of pixels; got {step!r}.")
    return int(step)


def _check_disable_bbox(disable_bbox):
    if disable_bbox not in _DISABLE_BBOX:
        raise ValueError(
            f"'disable_bbox' must be one of {', '.join(repr(d) for d in _DISABLE_BBOX)}; "
            f"got {disable_bbox!r}."
        )


def _check_part(part, nx, ny):
    """``part`` as ``(x0, y0, nx, ny)`` ints inside the ``ny`` x ``nx`` image (the whole image when None)."""
    if part is None:
        return 0, 0, nx, ny
    try:
        x0, y0, pnx, pny = (int(v) for v in part)
        ok = all(int(v) == v for v in part) and pnx > 0 and pny > 0
    except (TypeError, ValueError):
        ok = False
    if not ok or x0 < 0 or y0 < 0 or x0 + pnx > nx or y0 + pny > ny:
        raise ValueError(f"'part' must be (x0, y0, nx, ny) of pixels inside the {nx}x{ny} image; got {part!r}.")
    return x0, y0, pnx, pny


def _pixmap_shape(wcs_from, shape, bbox_from):
    """The (ny, nx) of the pixmap: ``shape``, else ``array_shape``, else the bounding box."""
    if shape is None:
        shape = getattr(wcs_from, "array_shape", None)
        if shape is None and bbox_from is not None:
            bbox = (bbox_from,) if np.ndim(bbox_from) == 1 else bbox_from
            if np.ndim(bbox) > 1:
                shape = tuple(math.ceil(lim[1] + 0.5) for lim in bbox[::-1])
    if shape is None:
        raise ValueError(
            "The pixmap shape is unknown: pass 'shape' (ny, nx) or give 'wcs_from' an "
            "array_shape (or pixel_shape) or a bounding_box."
        )
    try:
        dims = tuple(int(n) for n in shape)
        ok = len(dims) == 2 and all(d == n and d > 0 for d, n in zip(dims, shape))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"'shape' must be two positive integers (ny, nx); got {shape!r}.")
    return dims


# --------------------------------------------------------------------------
# interpolation on the backend
# --------------------------------------------------------------------------

def _interpolate(be, wcs_from, smooth, wcs_to, nx, ny, step, out, origin):
    """Fill ``out`` from the nodes; returns the node grid, or None for an undefined Jacobian.

    Without lookup tables (``smooth`` is None) the nodes of ``wcs_from`` are
    interpolated.  With them, the nodes of ``smooth`` (``wcs_from`` without
    its tables: SIP and the core WCS) are, and the tables are applied
    exactly at every pixel on the backend
    (:func:`gpudriz.fallback.pixmap.pixmap_cubic_lookup`): the tables are
    bilinear, with a kink at every table pixel that no cubic follows, but
    they are small offsets of the pixel (D2IM) and of the focal-plane
    position (NPOL), so the map moves by ``J_L d + J_K n``; the neglected
    second-order term, ``|d|^2`` or ``|n|^2`` times the map's curvature, is
    ~1e-7 px for HST's tables.  ``origin``: the image pixel of ``out[0, 0]``
    (multiples of ``step``).
    """
    xp = be.xp
    nodes_wcs = wcs_from if smooth is None else smooth
    grid, x0, y0 = pixmap_grid.node_grid(nodes_wcs, wcs_to, nx, ny, step, origin)
    if smooth is None:
        be.ops.interpolate_pixmap(xp.asarray(grid), x0, y0, step, out)
        return grid
    gy, gx = grid.shape[:2]
    jac = pixmap_tables.table_jacobians(smooth, wcs_to, gx, gy, x0 + origin[0], y0 + origin[1], step)
    if not np.isfinite(jac).all():
        return None
    tables, tparams = pixmap_tables.pack_tables(wcs_from, origin)
    be.ops.interpolate_pixmap_tables(xp.asarray(grid), xp.asarray(jac), x0, y0, step,
                                     xp.asarray(tables), xp.asarray(tparams), out)  # fmt: skip
    return grid


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------


def calc_pixmap(
    wcs_from, wcs_to, shape=None, disable_bbox="to", *, method="fast", step=None, backend=None,
    device=False, part=None,
):  # fmt: skip
    """Map every pixel centre of the "from" image into the pixel frame of ``wcs_to``.

    Same meaning, arguments and result as ``drizzle.utils.calc_pixmap``
    (drizzle 3.x), with a fast mode that evaluates the WCS exactly only on a
    sparse grid and interpolates on the backend (design principle 7).

    Parameters
    ----------
    wcs_from : astropy.wcs.WCS or gwcs-like
        WCS of the input image: anything with ``pixel_to_world_values``
        (astropy WCS with SIP and lookup-table distortions, gwcs, ...).  Its
        ``array_shape`` (or bounding box) gives the pixmap shape unless
        ``shape`` is given.
    wcs_to : astropy.wcs.WCS or gwcs-like
        WCS of the output frame: anything with ``world_to_pixel_values``.
        Both WCSs must use the same world units.
    shape : tuple of two int, optional
        ``(ny, nx)`` of the input image; takes precedence over
        ``wcs_from.array_shape``.
    disable_bbox : {"to", "from", "both", "none"}, optional
        Which bounding boxes to ignore while mapping (drizzle's meaning).  A
        bounding box that is kept makes positions outside it NaN.
    method : {"fast", "exact"}, optional
        ``"exact"`` evaluates the WCS at every pixel (what drizzle does).
        ``"fast"`` (default) evaluates it exactly on nodes every ``step``
        pixels, from ``-step`` to beyond ``n - 1 + step`` on each axis, and
        interpolates both coordinates with separable 4-point cubic Lagrange
        interpolation (error O(step**4)).  Cells (``step`` x ``step`` blocks
        of pixels) whose 4x4 node stencil holds a NaN node (WCS undefined,
        inversion failed) are evaluated exactly instead, so NaN never
        spreads to valid pixels and undefined pixels stay NaN; so are cells
        whose centre pixel, evaluated exactly as a check, is off by more
        than :data:`CHECK_TOL` px (a map that is not smooth at the scale of
        ``step``).  Lookup-table distortions (D2IM, NPOL) of an astropy
        ``wcs_from`` are applied exactly at every pixel, the rest of its
        model interpolated (max error 4e-7 px on an ACS/WFC-like header);
        those of ``wcs_to`` make the whole map exact.
    step : int, optional
        Node spacing in input pixels for ``method="fast"``.  By default it
        suits the image (:func:`auto_step`: :data:`DEFAULT_STEP` for chips of
        1024 px or more, smaller for smaller ones) and is halved, down to
        :data:`MIN_STEP`, while so many cells fail their check that a finer
        grid is cheaper than evaluating them exactly.  A given step is used
        as it is.
    backend : {"auto", "cpu", "cuda"}, Backend or None, optional
        Engine of the interpolation (see :func:`gpudriz.get_backend`).
    device : bool, optional
        Return the backend's own array (a CuPy array on the CUDA backend,
        ready for the device's drizzle and blot) instead of a NumPy array.
        The inputs are WCS objects, so by default the result is NumPy, as
        drizzle's; pipelines pass True to keep it where it was computed.
    part : tuple of four int, optional
        ``(x0, y0, nx, ny)``: map only the input pixels ``[y0:y0 + ny, x0:x0 + nx]``
        (a pipeline drizzling the part of an image that lands on one output
        tile).  The result is those pixels of the whole image's map, the same
        values: the part is mapped over the whole ``step`` cells that hold it,
        from the whole image's nodes (only where the automatic step is
        refined, which the part alone decides, may a pixel differ, by less
        than :data:`CHECK_TOL`; with lookup tables by ~1e-12 px of rounding).

    Returns
    -------
    pixmap : ndarray, float64, shape (ny, nx, 2)
        ``pixmap[j, i]`` is the ``(x, y)`` position in the ``wcs_to`` pixel
        frame (0-based) of input pixel ``(i, j)`` (``(x0 + i, y0 + j)`` with
        a ``part``, whose ``(ny, nx)`` is then the shape); NaN where undefined.
        NumPy, or the backend's array module when ``device`` is True.

    Raises
    ------
    ValueError
        If the shape cannot be determined or an argument is invalid.

    Notes
    -----
    When ``wcs_from`` has a bounding box that is kept (``disable_bbox`` of
    "to" or "none"), the fast mode evaluates the nodes without it (nodes lie
    outside the image by design) and then sets the pixels outside it to NaN,
    which is what the bounding box does to them.

    The exact evaluation of the pixels of such cells uses astropy on just
    those pixels, so its iterative inverse may stop after a different number
    of iterations than over the full image (differences at the level of
    astropy's tolerance, 1e-4 px at worst).

    The cost of the fast method is one exact WCS evaluation per node and
    per cell (about ``2 * ny * nx / step**2``) plus the interpolation, which
    runs where the output lives (design principle 7).
    """
    _check_method(method)
    step = _check_step(step)
    auto = step is None
    _check_disable_bbox(disable_bbox)
    bbox_from = _bbox_f(wcs_from)
    bbox_to = _bbox_f(wcs_to)
    ny, nx = _pixmap_shape(wcs_from, shape, bbox_from)
    if auto:
        step = auto_step(nx, ny)
    be = get_backend(backend)
    xp = be.xp
    off_from = disable_bbox in ("from", "both")
    off_to = disable_bbox in ("to", "both")

    tables_to = pixmap_tables.lookup_tables(wcs_to)
    if method == "fast" and tables_to:
        # Inverting a WCS's bilinear tables (blot's direction) needs astropy's
        # iterative inverse at every pixel: no cheaper way is implemented.
        _note_exact_once(
            "calc_pixmap: the lookup-table distortions (%s) of 'wcs_to' are inverted by "
            "evaluating every pixel exactly.", ", ".join(tables_to),
        )
        method = "exact"
    # The nodes of a WCS with D2IM/NPOL tables come from its table-free copy;
    # the tables are applied at every pixel (see _interpolate).
    tables_from = pixmap_tables.lookup_tables(wcs_from)
    if method == "fast" and tables_from and wcs_from.pixel_n_dim != 2:
        _note_exact_once(
            "calc_pixmap: lookup-table distortions (%s) of a WCS with %d pixel axes are "
            "evaluated exactly at every pixel.", ", ".join(tables_from), wcs_from.pixel_n_dim,
        )
        method = "exact"
    smooth = pixmap_tables.without_tables(wcs_from) if method == "fast" and tables_from else None

    px, py, pnx, pny = _check_part(part, nx, ny)
    if method == "exact":
        y, x = np.indices((pny, pnx), dtype=np.float64)
        x += px
        y += py
        with _bboxes_off(wcs_from, bbox_from, off_from, wcs_to, bbox_to, off_to):
            x, y = pixmap_grid.map_exact(wcs_from, wcs_to, x, y)
        exact = np.dstack([x, y])
        return xp.asarray(exact) if device else exact

    # (drizzle.utils: with one object on both sides, switching off either box
    # switches off both)
    keep_from_bbox = bbox_from is not None and not off_from
    keep_from_bbox = keep_from_bbox and not (wcs_from is wcs_to and off_to)
    # Nodes (and checks) lie outside the image by design: evaluate them with
    # the "from" bounding box off and apply the box to the pixels at the end
    # (unless both WCSs are one object, whose box then also bounds the output).
    nodes_off_from = off_from or wcs_from is not wcs_to
    # A part is mapped over the whole cells that hold it: the same nodes, cells and checks as the
    # whole image's, so its pixels are the whole map's (ox, oy: the cells' corner; rnx, rny: their extent).
    ox, oy = px - px % step, py - py % step
    rnx = min(nx, -(-(px + pnx) // step) * step) - ox
    rny = min(ny, -(-(py + pny) // step) * step) - oy
    be.ops.check_memory(rny * rnx * 16, f"the {rny}x{rnx} pixmap")
    out = xp.empty((rny, rnx, 2), dtype=xp.float64)
    while True:
        with _bboxes_off(wcs_from, bbox_from, nodes_off_from, wcs_to, bbox_to, off_to):
            grid = _interpolate(be, wcs_from, smooth, wcs_to, rnx, rny, step, out, (ox, oy))
        if grid is None:
            _note_exact_once(
                "calc_pixmap: the map through the lookup-table distortions (%s) is "
                "undefined somewhere; evaluating every pixel exactly.",
                ", ".join(pixmap_tables.lookup_tables(wcs_from)),
            )
            return calc_pixmap(wcs_from, wcs_to, shape=(ny, nx), disable_bbox=disable_bbox,
                               method="exact", backend=be, device=device, part=part)  # fmt: skip
        bad = pixmap_grid.bad_cells(grid)
        n_undefined = int(bad.sum())
        with _bboxes_off(wcs_from, bbox_from, nodes_off_from, wcs_to, bbox_to, off_to):
            failed = pixmap_grid.check_cells(wcs_from, wcs_to, out, bad, rnx, rny, step, xp, (ox, oy))
        if not (auto and pixmap_grid.refine_pays(failed, step, rnx, rny)):
            break
        step //= 2

    bad |= failed
    if bad.any():
        # DEBUG: a pipeline maps every chip at every step; per-call INFO
        # lines say the same thing dozens of times.
        log.debug(
            "calc_pixmap: %d of %d cells of %dx%d px evaluated exactly per pixel "
            "(%d with an undefined node, %d with an error above %g px at their centre).",
            int(bad.sum()), bad.size, step, step, n_undefined, int(failed.sum()), CHECK_TOL,
        )
        with _bboxes_off(wcs_from, bbox_from, off_from, wcs_to, bbox_to, off_to):
            pixmap_grid.exact_cells(wcs_from, wcs_to, out, bad, step, xp, (ox, oy))

    if keep_from_bbox:
        bbox = (bbox_from,) if np.ndim(bbox_from) == 1 else bbox_from
        for axis, (lo, hi) in zip((1, 0), bbox):
            coord = np.arange(rnx if axis == 1 else rny, dtype=np.float64) + (ox if axis == 1 else oy)
            outside = xp.asarray((coord < lo) | (coord > hi))
            if axis == 1:
                out[:, outside, :] = np.nan
            else:
                out[outside, :, :] = np.nan
    if (rnx, rny) != (pnx, pny):
        out = xp.ascontiguousarray(out[py - oy : py - oy + pny, px - ox : px - ox + pnx])
    return out if device else to_host(out)


def pixel_scale(wcs, refpix):
    """Square root of the solid angle (rad) of the pixel centred on ``refpix``.

    The four pixel corners are mapped to the sky and the area of the
    quadrilateral they span is taken in the Lambert cylindrical equal-area
    plane ``(lon, sin(lat))`` (shoelace formula), the approximation of
    drizzle.utils (JPL, https://trs.jpl.nasa.gov/handle/2014/40409).
    Longitudes are unwrapped about the first corner so that a pixel
    straddling RA = 0 is measured correctly.
    """
    if refpix is None:
        bbox = _bbox_f(wcs)
        if bbox is not None:
            refpix = np.mean(np.asarray(bbox, dtype=np.float64), axis=-1)
        elif getattr(wcs, "pixel_shape", None):
            refpix = np.array([(n - 1) // 2 for n in wcs.pixel_shape], dtype=np.float64)
        else:
            refpix = np.zeros(wcs.pixel_n_dim)
    refpix = np.asarray(refpix, dtype=np.float64)
    if refpix.shape != (2,):
        raise ValueError(f"a reference pixel must be two numbers (x, y); got {refpix.tolist()!r}.")
    # corners in order: (-,-), (-,+), (+,+), (+,-)
    dx = np.array([-0.5, -0.5, 0.5, 0.5])
    dy = np.array([-0.5, 0.5, 0.5, -0.5])
    lon, lat = wcs.pixel_to_world_values(refpix[0] + dx, refpix[1] + dy)
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    lon = (lon - lon[0] + 180.0) % 360.0 - 180.0
    s = np.sin(_DEG2RAD * lat)
    twice_area = np.sum(lon * np.roll(s, -1) - np.roll(lon, -1) * s)
    return math.sqrt(_DEG2RAD * abs(0.5 * twice_area))


def estimate_pixel_scale_ratio(wcs_from, wcs_to, refpix_from=None, refpix_to=None):
    """Ratio of the "to" pixel scale to the "from" pixel scale.

    Same semantics as ``drizzle.utils.estimate_pixel_scale_ratio``: each
    pixel scale is the square root of the area on the sky of one pixel at
    the reference pixel, which defaults to the centre of the WCS's bounding
    box, else to ``(n - 1) // 2`` along each axis of its ``pixel_shape``,
    else to ``(0, 0)``.

    Parameters
    ----------
    wcs_from, wcs_to : astropy.wcs.WCS or gwcs-like
        WCSs with ``pixel_to_world_values`` returning (lon, lat) in degrees.
    refpix_from, refpix_to : sequence of two float, optional
        0-based ``(x, y)`` pixel at which each pixel scale is measured.

    Returns
    -------
    float
        ``pscale(wcs_to) / pscale(wcs_from)``.

    Notes
    -----
    The pixel area is that of the quadrilateral spanned by the pixel's four
    corners in the ``(lon, sin(lat))`` plane; unlike drizzle.utils, a pixel
    that straddles RA = 0 gets its true (small) area.
    """
    return pixel_scale(wcs_to, refpix_to) / pixel_scale(wcs_from, refpix_from)
