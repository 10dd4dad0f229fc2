"""Slow, obviously correct NumPy twin of the pixmap interpolation.

Same contract as :func:`gpudriz.fallback.pixmap.interpolate_pixmap`, written
differently on purpose: integer floor division for the cells and the textbook
Lagrange product ``prod_{b != a} (t - n_b) / (n_a - n_b)`` for the weights.
"""

import numpy as np

NODES = np.array([-1.0, 0.0, 1.0, 2.0])


def lagrange_weights(t):
    """Weights of the nodes -1, 0, 1, 2 at positions ``t`` (any shape) -> (..., 4)."""
    t = np.asarray(t, dtype=np.float64)[..., None]
    w = np.ones(t.shape[:-1] + (4,))
    for a in range(4):
        for b in range(4):
            if a != b:
                w[..., a] *= (t[..., 0] - NODES[b]) / (NODES[a] - NODES[b])
    return w


def naive_interpolate_pixmap(grid, x0, y0, step, shape):
    """Bicubic Lagrange interpolation of the node grid at every pixel of ``shape``.

    ``grid[k, l]`` is the value at pixel ``(x0 + l * step, y0 + k * step)``;
    returns an array of shape ``shape + (2,)``.
    """
    ny, nx = shape
    gy, gx = grid.shape[:2]
    i = np.arange(nx)
    j = np.arange(ny)
    cx = np.clip((i - x0) // step, 1, gx - 3)
    cy = np.clip((j - y0) // step, 1, gy - 3)
    wx = lagrange_weights((i - x0 - cx * step) / step)  # (nx, 4)
    wy = lagrange_weights((j - y0 - cy * step) / step)  # (ny, 4)
    out = np.zeros((ny, nx, 2))
    for a in range(4):
        for b in range(4):
            nodes = grid[(cy - 1 + a)[:, None], (cx - 1 + b)[None, :]]  # (ny, nx, 2)
            out += (wy[:, a, None] * wx[None, :, b])[..., None] * nodes
    return out
