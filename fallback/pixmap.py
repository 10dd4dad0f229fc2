"""Pixmap interpolation and lookup-table distortions: Numba CPU twin of ``kernels/pixmap.cu``.

The WCS is evaluated exactly on a sparse, uniform grid of nodes that extends
one step beyond the image on every side; each output pixel is then the
separable 4-point cubic Lagrange interpolation (local bicubic, error
O(step**4)) of the two mapped coordinates over the 4x4 nodes around it
(design principle 7, "pixmaps are computed where the data is").

Entry names, argument order and constants are shared with the CUDA twin
(design principle 1):

``pixmap_cubic(grid, x0, y0, step, i, j, out)``
    per-pixel function: writes ``out[j, i, 0:2]``.  The CUDA kernel of the
    same name runs it in a grid-stride loop over the ``ny * nx`` pixels.
``interpolate_pixmap(grid, x0, y0, step, out)``
    the driver: every pixel of ``out``, rows in parallel (``prange``).
``pixmap_cubic_lookup(grid, jac, x0, y0, step, tables, tparams, i, j, out)``
    per-pixel function: the same interpolation, of the nodes of an astropy
    WCS without its lookup-table distortions (D2IM, NPOL), plus those tables
    applied exactly at the pixel; its driver is
    ``interpolate_pixmap_tables(grid, jac, x0, y0, step, tables, tparams, out)``
    and its CUDA kernel has its name.

Grid convention: node ``grid[k, l]`` holds the mapped ``(x, y)`` of the input
pixel position ``(x0 + l * step, y0 + k * step)``; ``x0``, ``y0`` and ``step``
are integers, so every pixel's cell index is exact (see `pixmap_cubic`) and
the caller knows which nodes each pixel reads.  A non-finite node makes every pixel whose
stencil contains it NaN (``0 * nan`` is ``nan``, no fast-math), which lets the
caller recompute those pixels exactly.

For the CUDA twin: same operation order; nvcc contracts ``a * b + c`` into
FMAs unless built with ``-fmad=false``, which moves results by ~1e-13 px
(parity tests should allow 1e-9 px, far below the 1e-3 px design bound).
"""

import math

import numpy as np
from numba import njit, prange

__all__ = [
    "interpolate_pixmap",
    "pixmap_cubic",
    "interpolate_pixmap_tables",
    "pixmap_cubic_lookup",
    "table_offset",
    "TABLE_PARAMS",
]


@njit(cache=True, nogil=True)
def _lagrange4(t):
    """Cubic Lagrange weights of the nodes at -1, 0, 1, 2 for the position ``t``."""
    tp1 = t + 1.0
    tm1 = t - 1.0
    tm2 = t - 2.0
    wm = -t * tm1 * tm2 * (1.0 / 6.0)
    w0 = tp1 * tm1 * tm2 * 0.5
    w1 = -tp1 * t * tm2 * 0.5
    w2 = tp1 * t * tm1 * (1.0 / 6.0)
    return wm, w0, w1, w2


@njit(cache=True, nogil=True)
def pixmap_cubic(grid, x0, y0, step, i, j, out):
    """Interpolate the pixmap at input pixel ``(i, j)`` and store it in ``out[j, i]``.

    Parameters
    ----------
    grid : ndarray, float64, shape (gy, gx, 2)
        Mapped ``(x, y)`` at the nodes; ``gy, gx >= 4``.
    x0, y0 : int
        Input pixel coordinates of node ``grid[0, 0]``.
    step : int
        Node spacing in input pixels (> 0).
    i, j : int
        Column and row of the input pixel.
    out : ndarray, float64, shape (ny, nx, 2)
        Pixmap being filled.

    Notes
    -----
    The cell is ``floor((p - p0) / step)`` computed in double precision:
    an IEEE division of two integers is exact whenever the quotient is, so
    this equals integer floor division (on which the caller's choice of
    pixels to recompute relies) while avoiding a slow 64-bit integer
    division.  The clamp keeps every read inside the grid (the CUDA twin
    must never read out of bounds); for the caller's grids it never acts.
    """
    gy = grid.shape[0]
    gx = grid.shape[1]
    fstep = float(step)
    fx = (i - x0) / fstep
    fy = (j - y0) / fstep
    cx = min(max(int(math.floor(fx)), 1), gx - 3)
    cy = min(max(int(math.floor(fy)), 1), gy - 3)
    ax0, ax1, ax2, ax3 = _lagrange4(fx - cx)
    ay0, ay1, ay2, ay3 = _lagrange4(fy - cy)
    g0 = grid[cy - 1]
    g1 = grid[cy]
    g2 = grid[cy + 1]
    g3 = grid[cy + 2]
    for c in range(2):
        r0 = ax0 * g0[cx - 1, c] + ax1 * g0[cx, c] + ax2 * g0[cx + 1, c] + ax3 * g0[cx + 2, c]
        r1 = ax0 * g1[cx - 1, c] + ax1 * g1[cx, c] + ax2 * g1[cx + 1, c] + ax3 * g1[cx + 2, c]
        r2 = ax0 * g2[cx - 1, c] + ax1 * g2[cx, c] + ax2 * g2[cx + 1, c] + ax3 * g2[cx + 2, c]
        r3 = ax0 * g3[cx - 1, c] + ax1 * g3[cx, c] + ax2 * g3[cx + 1, c] + ax3 * g3[cx + 2, c]
        out[j, i, c] = ay0 * r0 + ay1 * r1 + ay2 * r2 + ay3 * r3


@njit(cache=True, nogil=True, parallel=True)
def interpolate_pixmap(grid, x0, y0, step, out):
    """Fill the pixmap ``out`` by bicubic interpolation of the node grid.

    Numba twin of the CUDA kernel ``pixmap_cubic`` in ``kernels/pixmap.cu``
    (design principles 1 and 7).  Rows run in parallel; each pixel is
    written by exactly one thread.

    Parameters
    ----------
    grid : ndarray, float64, shape (gy, gx, 2), C-contiguous
        Mapped ``(x, y)`` at the nodes, ``grid[k, l]`` being the image of
        input pixel ``(x0 + l * step, y0 + k * step)``; ``gy, gx >= 4``.
    x0, y0 : int
        Input pixel coordinates of node ``grid[0, 0]`` (``-step`` for a grid
        that starts one step before the image).
    step : int
        Node spacing in input pixels (> 0).
    out : ndarray, float64, shape (ny, nx, 2), C-contiguous
        Filled in place: ``out[j, i]`` is the mapped ``(x, y)`` of input
        pixel ``(i, j)``.

    Notes
    -----
    For every pixel the grid must hold nodes ``c - 1 .. c + 2`` on each axis,
    ``c = (p - p0) // step`` (the cell); a grid from ``-step`` to at least
    ``(n - 1) // step * step + 2 * step`` does.  Pixels beyond are
    extrapolated from the nearest full stencil, never read out of bounds.
    """
    ny = out.shape[0]
    nx = out.shape[1]
    for j in prange(ny):
        for i in range(nx):
            pixmap_cubic(grid, x0, y0, step, i, j, out)


# --------------------------------------------------------------------------
# Lookup-table distortions (D2IM, NPOL) on top of the smooth pixmap
# --------------------------------------------------------------------------

#: Columns of a row of ``tparams``, one row per lookup table (D2IM1, D2IM2,
#: CPDIS1, CPDIS2 in that order): where its values start in ``tables``, its
#: width and height (width 0: no such table), then ``a0, b0, a1, b1``, the
#: table coordinate along axis ``k`` of the 1-based pixel coordinate ``x``
#: being ``x * a_k + b_k`` (astropy's ``(x - crval) / cdelt + crpix - 1``
#: with the division done once on the host).
TABLE_PARAMS = 7


@njit(cache=True, nogil=True, inline="always")
def table_offset(tables, tparams, k, x, y):
    """Offset of lookup table ``k`` at the 1-based pixel ``(x, y)``, as astropy computes it.

    astropy's ``distortion.c``: the table coordinate on each axis, clamped to
    the table, then bilinear between the (clamped) neighbouring table
    values.  0 when the table is absent.
    """
    nx = int(tparams[k, 1])
    if nx == 0:
        return 0.0
    ny = int(tparams[k, 2])
    off = int(tparams[k, 0])
    u = min(max(x * tparams[k, 3] + tparams[k, 4], 0.0), nx - 1.0)
    v = min(max(y * tparams[k, 5] + tparams[k, 6], 0.0), ny - 1.0)
    fu = math.floor(u)
    fv = math.floor(v)
    i0 = int(fu)
    j0 = int(fv)
    wu = u - fu
    wv = v - fv
    i1 = min(i0 + 1, nx - 1)
    j1 = min(j0 + 1, ny - 1)
    return (
        tables[off + j0 * nx + i0] * (1.0 - wu) * (1.0 - wv)
        + tables[off + j1 * nx + i0] * (1.0 - wu) * wv
        + tables[off + j0 * nx + i1] * wu * (1.0 - wv)
        + tables[off + j1 * nx + i1] * wu * wv
    )


@njit(cache=True, nogil=True, inline="always")
def _jac_row(jac, cy, ty, l, q):
    """Component ``q`` of the Jacobians at node column ``l``, linear in y within cell row ``cy``."""
    return (1.0 - ty) * jac[cy, l, q] + ty * jac[cy + 1, l, q]


@njit(cache=True, nogil=True, inline="always")
def _cell(p, p0, inv_step, n):
    """Cell index (clamped to ``0 .. n - 2``) and fraction of pixel ``p`` between nodes."""
    f = (p - p0) * inv_step
    c = min(max(int(math.floor(f)), 0), n - 2)
    return c, f - c


@njit(cache=True, nogil=True, inline="always")
def _add_tables(i, j, tables, tparams, out, l00, l01, l10, l11, k00, k01, k10, k11):
    """``out[j, i] += J_L d + J_K n`` with the Jacobians ``J_L = l``, ``J_K = k`` at the pixel."""
    xi = float(i)
    yj = float(j)
    d1 = table_offset(tables, tparams, 0, xi + 1.0, yj + 1.0)
    d2 = table_offset(tables, tparams, 1, xi + 1.0, yj + 1.0)
    n1 = table_offset(tables, tparams, 2, xi + d1 + 1.0, yj + d2 + 1.0)
    n2 = table_offset(tables, tparams, 3, xi + d1 + 1.0, yj + d2 + 1.0)
    out[j, i, 0] += (l00 * d1 + l01 * d2) + (k00 * n1 + k01 * n2)
    out[j, i, 1] += (l10 * d1 + l11 * d2) + (k10 * n1 + k11 * n2)


@njit(cache=True, nogil=True, inline="always")
def _lerp(row, cx, tx, q):
    """Component ``q`` linear in x between node columns ``cx`` and ``cx + 1`` of ``row``."""
    return (1.0 - tx) * row[cx, q] + tx * row[cx + 1, q]


@njit(cache=True, nogil=True, inline="always")
def _table_weights(tparams, k, x, y):
    """``(base, base + di, base + dj, base + di + dj, w00, w10, w01, w11)`` of table ``k`` at ``(x, y)``.

    The same arithmetic as :func:`table_offset`, split so that two tables on
    one grid (NPOL's pair, as HST's files have them) share it.
    """
    nx = int(tparams[k, 1])
    ny = int(tparams[k, 2])
    u = min(max(x * tparams[k, 3] + tparams[k, 4], 0.0), nx - 1.0)
    v = min(max(y * tparams[k, 5] + tparams[k, 6], 0.0), ny - 1.0)
    fu = math.floor(u)
    fv = math.floor(v)
    i0 = int(fu)
    j0 = int(fv)
    wu = u - fu
    wv = v - fv
    i1 = min(i0 + 1, nx - 1)
    j1 = min(j0 + 1, ny - 1)
    return (j0 * nx + i0, j1 * nx + i0, j0 * nx + i1, j1 * nx + i1,
            (1.0 - wu) * (1.0 - wv), (1.0 - wu) * wv, wu * (1.0 - wv), wu * wv)  # fmt: skip


@njit(cache=True, nogil=True)
def _same_grid(tparams, a, b):
    """Whether tables ``a`` and ``b`` are both present and sample the same grid."""
    if tparams[a, 1] == 0.0 or tparams[b, 1] == 0.0:
        return False
    for c in range(1, tparams.shape[1]):
        if tparams[a, c] != tparams[b, c]:
            return False
    return True


@njit(cache=True, nogil=True)
def pixmap_cubic_lookup(grid, jac, x0, y0, step, tables, tparams, i, j, out):
    """The pixmap at input pixel ``(i, j)`` of a WCS with lookup tables, into ``out[j, i]``.

    ``grid`` holds the nodes of the WCS without its tables (SIP and the core
    WCS: smooth), interpolated as by :func:`pixmap_cubic`.  D2IM moves the
    pixel by ``d`` before everything else; NPOL adds ``n`` (read at the moved
    pixel) to the focal-plane position.  Both are small (< 1 px), so the
    map moves by ``J_L d + J_K n`` to first order, with ``J_L`` the Jacobian of
    the table-free map and ``J_K`` that of the focal plane to output map,
    bilinear between the same nodes (``jac``, first along y, then along x;
    layout ``J_L`` row-major, then ``J_K``).
    """
    pixmap_cubic(grid, x0, y0, step, i, j, out)
    inv_step = 1.0 / step
    cx, tx = _cell(i, x0, inv_step, jac.shape[1])
    cy, ty = _cell(j, y0, inv_step, jac.shape[0])
    row = np.empty((jac.shape[1], 8))
    for q in range(8):
        row[cx, q] = _jac_row(jac, cy, ty, cx, q)
        row[cx + 1, q] = _jac_row(jac, cy, ty, cx + 1, q)
    xi = float(i)
    yj = float(j)
    d1 = table_offset(tables, tparams, 0, xi + 1.0, yj + 1.0)
    d2 = table_offset(tables, tparams, 1, xi + 1.0, yj + 1.0)
    n1 = table_offset(tables, tparams, 2, xi + d1 + 1.0, yj + d2 + 1.0)
    n2 = table_offset(tables, tparams, 3, xi + d1 + 1.0, yj + d2 + 1.0)
    _add_offsets(row, cx, tx, d1, d2, n1, n2, i, j, out)


@njit(cache=True, nogil=True, inline="always")
def _add_offsets(row, cx, tx, d1, d2, n1, n2, i, j, out):
    """``out[j, i] += J_L d + J_K n``, the Jacobians linear in x between node columns."""
    out[j, i, 0] += (_lerp(row, cx, tx, 0) * d1 + _lerp(row, cx, tx, 1) * d2) + (
        _lerp(row, cx, tx, 4) * n1 + _lerp(row, cx, tx, 5) * n2
    )
    out[j, i, 1] += (_lerp(row, cx, tx, 2) * d1 + _lerp(row, cx, tx, 3) * d2) + (
        _lerp(row, cx, tx, 6) * n1 + _lerp(row, cx, tx, 7) * n2
    )


@njit(cache=True, nogil=True, parallel=True)
def interpolate_pixmap_tables(grid, jac, x0, y0, step, tables, tparams, out):
    """Fill the pixmap of a WCS with D2IM/NPOL lookup tables from its table-free nodes.

    Numba twin of the CUDA kernel ``pixmap_cubic_lookup`` in
    ``kernels/pixmap.cu``: the arithmetic of :func:`pixmap_cubic_lookup` at
    every pixel, rows in parallel, with work that pixels share done once
    (same values): each row interpolates the Jacobians of its cell row along
    y at every node column; a D2IM table one row high (HST's, a correction
    per column) is read once per column; NPOL's two tables on one grid
    share their interpolation weights, computed once per column and per row
    where D2IM moves pixels along x alone.

    Parameters
    ----------
    grid : ndarray, float64, shape (gy, gx, 2), C-contiguous
        Nodes of the map without the tables, as for :func:`interpolate_pixmap`.
    jac : ndarray, float64, shape (gy, gx, 8), C-contiguous
        ``J_L`` and ``J_K`` (each 2x2, row-major) at the same nodes.
    x0, y0, step : int
        Input pixel of node ``[0, 0]`` and the node spacing.
    tables : ndarray, float64, 1-D
        The tables' values, each row-major, one after the other.
    tparams : ndarray, float64, shape (4, TABLE_PARAMS)
        D2IM1, D2IM2, CPDIS1, CPDIS2 (see :data:`TABLE_PARAMS`).
    out : ndarray, float64, shape (ny, nx, 2), C-contiguous
    """
    ny = out.shape[0]
    nx = out.shape[1]
    gy = jac.shape[0]
    gx = jac.shape[1]
    inv_step = 1.0 / step
    # A table one row high reads row 0 whatever y is (the coordinate is
    # clamped to it): its value at (i + 1, j + 1) is its value at (i + 1, 1).
    per_column = np.zeros(2, dtype=np.bool_)
    dcol = np.zeros((2, nx))
    for k in range(2):
        if tparams[k, 1] != 0.0 and tparams[k, 2] == 1.0:
            per_column[k] = True
            for i in range(nx):
                dcol[k, i] = table_offset(tables, tparams, k, i + 1.0, 1.0)
    shared = _same_grid(tparams, 2, 3)
    off2 = int(tparams[2, 0])
    off3 = int(tparams[3, 0])
    # HST's case: D2IM moves pixels along x by a function of x alone, so
    # NPOL's table column depends on the column only and its row on the row:
    # their indices and weights are computed once per column and per row.
    separable = shared and (tparams[0, 1] == 0.0 or per_column[0]) and tparams[1, 1] == 0.0
    tnx = int(tparams[2, 1])
    tny = int(tparams[2, 2])
    ci0 = np.zeros(nx, dtype=np.int64)
    ci1 = np.zeros(nx, dtype=np.int64)
    cwu = np.zeros(nx)
    if separable:
        for i in range(nx):
            u = min(max((i + dcol[0, i] + 1.0) * tparams[2, 3] + tparams[2, 4], 0.0), tnx - 1.0)
            fu = math.floor(u)
            ci0[i] = int(fu)
            ci1[i] = min(int(fu) + 1, tnx - 1)
            cwu[i] = u - fu
    for j in prange(ny):
        cy, ty = _cell(j, y0, inv_step, gy)
        row = np.empty((gx, 8))
        for l in range(gx):
            for q in range(8):
                row[l, q] = _jac_row(jac, cy, ty, l, q)
        yj = float(j)
        if separable:
            v = min(max((yj + 1.0) * tparams[2, 5] + tparams[2, 6], 0.0), tny - 1.0)
            fv = math.floor(v)
            r0 = int(fv) * tnx
            r1 = min(int(fv) + 1, tny - 1) * tnx
            wv = v - fv
            for i in range(nx):
                pixmap_cubic(grid, x0, y0, step, i, j, out)
                cx, tx = _cell(i, x0, inv_step, gx)
                wu = cwu[i]
                w00 = (1.0 - wu) * (1.0 - wv)
                w01 = (1.0 - wu) * wv
                w10 = wu * (1.0 - wv)
                w11 = wu * wv
                a = r0 + ci0[i]
                b = r1 + ci0[i]
                c = r0 + ci1[i]
                e = r1 + ci1[i]
                n1 = (tables[off2 + a] * w00 + tables[off2 + b] * w01
                      + tables[off2 + c] * w10 + tables[off2 + e] * w11)  # fmt: skip
                n2 = (tables[off3 + a] * w00 + tables[off3 + b] * w01
                      + tables[off3 + c] * w10 + tables[off3 + e] * w11)  # fmt: skip
                _add_offsets(row, cx, tx, dcol[0, i], 0.0, n1, n2, i, j, out)
            continue
        for i in range(nx):
            pixmap_cubic(grid, x0, y0, step, i, j, out)
            cx, tx = _cell(i, x0, inv_step, gx)
            xi = float(i)
            if per_column[0]:
                d1 = dcol[0, i]
            else:
                d1 = table_offset(tables, tparams, 0, xi + 1.0, yj + 1.0)
            if per_column[1]:
                d2 = dcol[1, i]
            else:
                d2 = table_offset(tables, tparams, 1, xi + 1.0, yj + 1.0)
            if shared:
                a, b, c, e, w00, w01, w10, w11 = _table_weights(
                    tparams, 2, xi + d1 + 1.0, yj + d2 + 1.0
                )
                n1 = (tables[off2 + a] * w00 + tables[off2 + b] * w01
                      + tables[off2 + c] * w10 + tables[off2 + e] * w11)  # fmt: skip
                n2 = (tables[off3 + a] * w00 + tables[off3 + b] * w01
                      + tables[off3 + c] * w10 + tables[off3 + e] * w11)  # fmt: skip
            else:
                n1 = table_offset(tables, tparams, 2, xi + d1 + 1.0, yj + d2 + 1.0)
                n2 = table_offset(tables, tparams, 3, xi + d1 + 1.0, yj + d2 + 1.0)
            _add_offsets(row, cx, tx, d1, d2, n1, n2, i, j, out)
