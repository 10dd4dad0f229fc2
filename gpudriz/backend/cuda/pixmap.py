"""The CUDA driver of ``kernels/pixmap.cu``: the per-pixel map, interpolated from its node grid.

Twins of the CPU drivers :func:`gpudriz.fallback.pixmap.interpolate_pixmap` and
:func:`gpudriz.fallback.pixmap.interpolate_pixmap_tables`, with the same arguments after ``ops``
(a :class:`gpudriz.backend.cuda.launch.Launcher`).
"""

from __future__ import annotations

from gpudriz.backend.cuda.launch import I32, as_i32
from gpudriz.backend.cuda.loader import needs_index64

__all__ = ["interpolate_pixmap", "interpolate_pixmap_tables"]


def interpolate_pixmap(ops, grid, x0, y0, step, out):
    """Fill ``out`` by bicubic interpolation of the node ``grid`` (kernel ``pixmap_cubic``).

    Same contract as :func:`gpudriz.fallback.pixmap.interpolate_pixmap`.
    """
    gy, gx = grid.shape[:2]
    ny, nx = out.shape[:2]
    args = (
        grid, I32(gx), I32(gy), as_i32(x0, "x0"), as_i32(y0, "y0"), as_i32(step, "step"),
        out, as_i32(nx, "pixmap width"), as_i32(ny, "pixmap height"),
    )  # fmt: skip
    ops.launch("pixmap", "pixmap_cubic", nx * ny, args, needs_index64(out, grid))
    return out


def interpolate_pixmap_tables(ops, grid, jac, x0, y0, step, tables, tparams, out):
    """Fill ``out`` for a WCS with D2IM/NPOL tables (kernel ``pixmap_cubic_lookup``).

    Same contract as :func:`gpudriz.fallback.pixmap.interpolate_pixmap_tables`.
    """
    gy, gx = grid.shape[:2]
    ny, nx = out.shape[:2]
    args = (
        grid, jac, I32(gx), I32(gy), as_i32(x0, "x0"), as_i32(y0, "y0"),
        as_i32(step, "step"), tables, tparams, out, as_i32(nx, "pixmap width"),
        as_i32(ny, "pixmap height"),
    )  # fmt: skip
    index64 = needs_index64(out, jac, tables)
    ops.launch("pixmap", "pixmap_cubic_lookup", nx * ny, args, index64)
    return out
