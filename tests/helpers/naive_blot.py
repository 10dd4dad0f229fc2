"""Slow, obviously correct twins of the blot interpolants (test oracles).

Pure Python loops in float64, one output pixel at a time.  The polynomial
interpolants are written as Lagrange interpolation through the 4 / 6 nearest
samples, a different formula from the Everett central differences of the
kernels (mathematically the same polynomial), so that a slip in either shows.
"""

import math
from functools import lru_cache

import numpy as np

LUT_DELTA = 0.003


def mirror_index(i, n):
    """Index of the pixel mirroring ``i`` through the nearest edge, clamped."""
    m = -i if i < 0 else 2 * (n - 1) - i
    return min(max(m, 0), n - 1)


def row_value(data, i, j):
    """``data[j, i]`` for ``j`` inside the image, reflected in x."""
    nx = data.shape[1]
    if i < 0:
        return 2.0 * float(data[j, 0]) - float(data[j, mirror_index(i, nx)])
    if i > nx - 1:
        return 2.0 * float(data[j, nx - 1]) - float(data[j, mirror_index(i, nx)])
    return float(data[j, i])


def reflected(data, i, j):
    """``data[j, i]`` extended beyond the edges by ``f(-k) = 2 f(0) - f(k)``."""
    ny = data.shape[0]
    if j < 0:
        return 2.0 * row_value(data, i, 0) - row_value(data, i, mirror_index(j, ny))
    if j > ny - 1:
        return 2.0 * row_value(data, i, ny - 1) - row_value(data, i, mirror_index(j, ny))
    return row_value(data, i, j)


def lagrange_weights(s, nodes):
    """Weights of the Lagrange polynomial through ``nodes`` evaluated at ``s``."""
    weights = []
    for k in nodes:
        w = 1.0
        for m in nodes:
            if m != k:
                w *= (s - m) / (k - m)
        weights.append(w)
    return weights


def nearest(data, x, y):
    ny, nx = data.shape
    i = min(int(math.floor(x + 0.5)), nx - 1)
    j = min(int(math.floor(y + 0.5)), ny - 1)
    return float(data[j, i])


def linear(data, x, y):
    """Bilinear; cdrizzle's rule on the last row/column: 1-D, corner constant."""
    ny, nx = data.shape
    ix, iy = int(math.floor(x)), int(math.floor(y))
    sx, sy = x - ix, y - iy
    if ix == nx - 1:
        sx = 0.0
    if iy == ny - 1:
        sy = 0.0
    total = 0.0
    for dj, wy in ((0, 1.0 - sy), (1, sy)):
        for di, wx in ((0, 1.0 - sx), (1, sx)):
            if wx * wy != 0.0:
                total += wx * wy * float(data[iy + dj, ix + di])
    return total


def _poly(data, x, y, nodes):
    ix, iy = int(math.floor(x)), int(math.floor(y))
    wx = lagrange_weights(x - ix, nodes)
    wy = lagrange_weights(y - iy, nodes)
    total = 0.0
    for b, vy in zip(nodes, wy):
        for a, vx in zip(nodes, wx):
            total += vx * vy * reflected(data, ix + a, iy + b)
    return total


def poly3(data, x, y):
    return _poly(data, x, y, (-1, 0, 1, 2))


def poly5(data, x, y):
    return _poly(data, x, y, (-2, -1, 0, 1, 2, 3))


def sinc_fn(u):
    return 1.0 if u == 0.0 else math.sin(math.pi * u) / (math.pi * u)


def sinc(data, x, y, sinscl):
    """Normalised sinc(d/sinscl) * sinc(d/h), |d| < h = 3 sinscl, reflected edges."""
    h = 3.0 * sinscl

    def weight(d):
        return sinc_fn(d / sinscl) * sinc_fn(d / h) if abs(d) < h else 0.0

    num = den = 0.0
    for j in range(int(math.floor(y - h)) - 1, int(math.floor(y + h)) + 2):
        for i in range(int(math.floor(x - h)) - 1, int(math.floor(x + h)) + 2):
            w = weight(x - i) * weight(y - j)
            num += w * reflected(data, i, j)
            den += w
    return num / den


@lru_cache(maxsize=None)
def lanczos_lut(order):
    """cdrizzle's table: lut[k] = sinc(x) sinc(x/order), x = k * 0.003 (0 beyond order)."""
    n = int(math.ceil(order / LUT_DELTA)) + 1
    lut = [1.0]
    for k in range(1, n):
        x = k * LUT_DELTA
        if x <= order:
            u = math.pi * x
            lut.append(math.sin(u) * math.sin(u / order) / (u * u / order))
        else:
            lut.append(0.0)
    return tuple(lut)


def lanczos(data, x, y, order):
    """cdrizzle's Lanczos: truncated LUT index, clipped window, no normalisation."""
    ny, nx = data.shape
    lut = lanczos_lut(order)
    total = 0.0
    rows = range(max(math.floor(y - order) + 1, 0), min(math.floor(y + order), ny - 1) + 1)
    cols = range(max(math.floor(x - order) + 1, 0), min(math.floor(x + order), nx - 1) + 1)
    for j in rows:
        ky = int(abs(y - j) / LUT_DELTA)
        for i in cols:
            kx = int(abs(x - i) / LUT_DELTA)
            if kx < len(lut) and ky < len(lut):
                total += float(data[j, i]) * lut[kx] * lut[ky]
    return total


def naive_blot(data, pixmap, interp, fillval=0.0, iscale=1.0, sinscl=1.0):
    """Blot ``data`` at ``pixmap`` (ny, nx, 2) with the named interpolant."""
    data = np.asarray(data, dtype=np.float32)
    ny, nx = data.shape
    funcs = {
        "nearest": nearest,
        "linear": linear,
        "poly3": poly3,
        "poly5": poly5,
        "sinc": lambda d, x, y: sinc(d, x, y, sinscl),
        "lanczos3": lambda d, x, y: lanczos(d, x, y, 3),
        "lanczos5": lambda d, x, y: lanczos(d, x, y, 5),
    }
    f = funcs[interp]
    out = np.empty(pixmap.shape[:2], dtype=np.float32)
    for j in range(out.shape[0]):
        for i in range(out.shape[1]):
            x, y = float(pixmap[j, i, 0]), float(pixmap[j, i, 1])
            if 0.0 <= x < nx and 0.0 <= y < ny:
                out[j, i] = f(data, x, y) * iscale
            else:
                out[j, i] = fillval
    return out
