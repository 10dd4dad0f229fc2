"""The fast pixmap's node grid: the exact map on a sparse grid, and the cells that must be exact.

:func:`gpudriz.calc_pixmap`'s ``"fast"`` method evaluates the WCS exactly (:func:`map_exact`,
:func:`world_to_pixel_nodes`) on the nodes of a uniform grid every ``step`` input pixels
(:func:`node_grid`, the spacing from :func:`auto_step`), interpolates the per-pixel map from them
on the backend, and evaluates exactly the pixels of the cells where the interpolation cannot be
trusted: an undefined node in the stencil (:func:`bad_cells`) or an error above :data:`CHECK_TOL`
at the cell centre (:func:`check_cells`, :func:`exact_cells`).  :func:`refine_pays` says when a
finer grid is cheaper than many exact cells.
"""

from __future__ import annotations

import numpy as np
from astropy.wcs import WCS, NoConvergence

__all__ = ["DEFAULT_STEP", "MIN_STEP", "STEPS_PER_SIDE", "CHECK_TOL", "map_exact",
           "world_to_pixel_nodes", "auto_step", "refine_pays", "node_grid", "bad_cells",
           "check_cells", "exact_cells"]  # fmt: skip


#: Node spacing (input pixels) of the ``"fast"`` method on chips of 1024 px
#: or more (smaller chips start lower, see :func:`auto_step`), chosen by
#: measurement: the largest power of two whose maximum error (fast against
#: exact, every pixel) stays under 1e-4 px on the real SIP headers in
#: ``data/wcs/``, both directions.  Worst case 1.5e-5 px (ACS/HRC, TAN ->
#: SIP); 2.4e-4 px at 128; 9e-7 px at 32.  The error scales as step**4 and
#: is set by the pure 4th-order terms (a bicubic reproduces the rest), so
#: 64 leaves a factor ~7 below 1e-4 px and ~70 below the 1e-3 px the design
#: asks for, with 4x fewer exact WCS evaluations than 32 (on a GPU the host
#: WCS evaluation, not the interpolation, dominates).
DEFAULT_STEP = 64

#: Smallest node spacing the automatic choice goes down to: at 4 px the
#: nodes and checks cost ~1/8 of an exact evaluation; below, little is saved.
MIN_STEP = 4

#: The automatic step is the largest power of two up to DEFAULT_STEP that
#: fits this many times along the longer side of the image.  A distortion of
#: the same pattern on a smaller chip (the synthetic chips scale it so) is
#: steeper per pixel: its 4th-order error at a fixed step grows as
#: (1 / chip size)**3, so the step must shrink with the chip.  A full-size
#: 4096 px chip keeps DEFAULT_STEP.
STEPS_PER_SIDE = 16

#: Largest error (px) accepted at the centre of a cell, where the interpolation
#: error of a smooth map peaks; cells above it are evaluated exactly.  The
#: default step stays ~7x below it on the real headers, so it never fires
#: there; it does where a chip is too small for its step.
CHECK_TOL = 1e-4


def map_exact(wcs_from, wcs_to, x, y):
    """Exact map of pixel positions, exactly as ``drizzle.utils.calc_pixmap`` does it."""
    return wcs_to.world_to_pixel_values(*wcs_from.pixel_to_world_values(x, y))


def world_to_pixel_nodes(wcs, world):
    """``wcs.world_to_pixel_values`` at the grid nodes, NaN where the inversion failed.

    For an astropy WCS, a node at which ``all_world2pix`` diverges or does
    not converge is set to NaN (astropy would warn and return its best
    guess); the pixels around it are then evaluated exactly, so whatever
    astropy does there is what the caller gets, warning included.
    """
    if not (isinstance(wcs, WCS) and wcs.pixel_n_dim == 2 and wcs.world_n_dim == 2):
        return wcs.world_to_pixel_values(*world)
    lon, lat = (np.ravel(np.asarray(w, dtype=np.float64)) for w in world)
    try:
        px, py = wcs.all_world2pix(lon, lat, 0)
    except NoConvergence as exc:
        sol = np.array(exc.best_solution, dtype=np.float64).reshape(-1, 2)
        px, py = sol[:, 0], sol[:, 1]
        for idx in (exc.divergent, exc.slow_conv):
            if idx is not None:
                px[idx] = np.nan
                py[idx] = np.nan
    px = np.array(px, dtype=np.float64)
    py = np.array(py, dtype=np.float64)
    # astropy's world_to_pixel_values NaNs results outside pixel_bounds.
    bounds = wcs.pixel_bounds
    if bounds is not None:
        for p, b in zip((px, py), bounds):
            if b is not None:
                p[(p < b[0]) | (p > b[1])] = np.nan
    return px, py


def auto_step(nx, ny):
    """The node spacing ``method="fast"`` starts from for an ``ny`` x ``nx`` image.

    The largest power of two, between :data:`MIN_STEP` and
    :data:`DEFAULT_STEP`, that fits :data:`STEPS_PER_SIDE` times along the
    longer side.  :func:`calc_pixmap` halves it further where too many cells
    fail their check (see :func:`refine_pays`).
    """
    step = DEFAULT_STEP
    while step > MIN_STEP and step * STEPS_PER_SIDE > max(nx, ny):
        step //= 2
    return step


def refine_pays(failed, step, nx, ny):
    """Whether a grid at ``step / 2`` is cheaper than evaluating the failed cells exactly.

    Exact evaluation costs one WCS evaluation per pixel of a failed cell; a
    finer grid costs one per node and one per cell check, about
    ``2 * nx * ny / (step / 2)**2``.  A few failed cells (near a singular
    point of an inverse) are cheaper exact; a map that is not smooth at this
    step everywhere (a chip too small for it) is cheaper refined.
    """
    if step <= MIN_STEP or not failed.any():
        return False
    exact_cost = int(failed.sum()) * step * step
    return exact_cost > 2 * nx * ny / (step / 2) ** 2


def node_grid(wcs_from, wcs_to, nx, ny, step, origin=(0, 0)):
    """Evaluate the map exactly at nodes ``-step, 0, step, ...`` covering the image.

    Returns ``(grid, x0, y0)``, ``grid`` of shape (gy, gx, 2).  The nodes run
    from ``-step`` to ``((n - 1) // step + 2) * step`` on each axis, so every
    pixel of the image has its full 4x4 stencil and all cells are alike.
    ``origin`` ``(ox, oy)``: the image is the part of a larger one that
    starts at its pixel ``(ox, oy)`` (multiples of ``step``: the nodes are
    then the larger image's own); ``x0``, ``y0`` stay relative to the part.
    """
    gx = (nx - 1) // step + 4
    gy = (ny - 1) // step + 4
    x0 = y0 = -step
    xs = np.arange(gx, dtype=np.float64) * step + (x0 + origin[0])
    ys = np.arange(gy, dtype=np.float64) * step + (y0 + origin[1])
    xg, yg = np.meshgrid(xs, ys)
    px, py = world_to_pixel_nodes(wcs_to, wcs_from.pixel_to_world_values(xg.ravel(), yg.ravel()))
    grid = np.empty((gy, gx, 2), dtype=np.float64)
    grid[..., 0] = np.reshape(np.asarray(px, dtype=np.float64), (gy, gx))
    grid[..., 1] = np.reshape(np.asarray(py, dtype=np.float64), (gy, gx))
    return grid, x0, y0


def bad_cells(grid):
    """Cells (one per ``step`` x ``step`` block of pixels) whose 4x4 stencil has a non-finite node.

    Cell ``[a, b]`` holds pixels ``a*step <= j < (a+1)*step`` and
    ``b*step <= i < (b+1)*step``; it reads nodes ``a .. a+3`` and ``b .. b+3``.
    """
    bad_node = ~np.isfinite(grid).all(axis=-1)
    gy, gx = bad_node.shape
    bad = np.zeros((gy - 3, gx - 3), dtype=bool)
    for a in range(4):
        for b in range(4):
            bad |= bad_node[a : a + gy - 3, b : b + gx - 3]
    return bad


def check_cells(wcs_from, wcs_to, out, bad, nx, ny, step, xp, origin=(0, 0)):
    """Cells whose interpolated centre pixel is off the exact map by more than CHECK_TOL.

    The centre of a cell is where the cubic interpolation error of a smooth
    map peaks, so this is a cheap test (one exact evaluation per cell, as
    many as there are nodes) that the map is smooth at the scale of
    ``step``.  It fails for lookup-table distortions (astropy's D2IM/NPOL
    tables are interpolated bilinearly: kinks every table pixel) and near
    singularities of an inverse; those cells are then evaluated exactly.
    Cells already in ``bad`` are not checked.  ``origin``: as :func:`node_grid`'s.
    """
    a, b = np.nonzero(~bad)
    failed = np.zeros_like(bad)
    if a.size == 0:
        return failed
    jc = np.minimum(a * step + step // 2, ny - 1)
    ic = np.minimum(b * step + step // 2, nx - 1)
    px, py = world_to_pixel_nodes(
        wcs_to, wcs_from.pixel_to_world_values((ic + origin[0]).astype(np.float64),
                                               (jc + origin[1]).astype(np.float64)),
    )
    to_host = getattr(xp, "asnumpy", np.asarray)
    got = to_host(out[xp.asarray(jc), xp.asarray(ic)])
    err = np.maximum(np.abs(got[:, 0] - np.asarray(px)), np.abs(got[:, 1] - np.asarray(py)))
    failed[a, b] = ~(err <= CHECK_TOL)  # NaN on either side fails too
    return failed


def exact_cells(wcs_from, wcs_to, out, bad, step, xp, origin=(0, 0)):
    """Overwrite the pixels of the cells marked in ``bad`` with the exact map (``origin``: as :func:`node_grid`'s)."""
    ny, nx = out.shape[:2]
    rows = np.arange(ny) // step
    cols = np.arange(nx) // step
    jj, ii = np.nonzero(bad[rows[:, None], cols[None, :]])
    xe, ye = map_exact(wcs_from, wcs_to, (ii + origin[0]).astype(np.float64), (jj + origin[1]).astype(np.float64))
    jj_d, ii_d = xp.asarray(jj), xp.asarray(ii)
    out[jj_d, ii_d, 0] = xp.asarray(np.asarray(xe, dtype=np.float64))
    out[jj_d, ii_d, 1] = xp.asarray(np.asarray(ye, dtype=np.float64))
