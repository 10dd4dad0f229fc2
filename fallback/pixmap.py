"""Pixmap interpolation: Numba CPU twin of ``kernels/pixmap.cu`` (written later).

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

from numba import njit, prange

__all__ = ["interpolate_pixmap", "pixmap_cubic"]


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
