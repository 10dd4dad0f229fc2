"""Blot: interpolate an image at the positions given by a pixmap (Numba CPU path).

CUDA twin: ``kernels/blot.cu`` (to be written).  It must keep the entry names
(`blot_kernel`, and the per-pixel device functions `blot_pixel`,
`blot_nearest`, `blot_linear`, `blot_poly3`, `blot_poly5`, `blot_sinc`,
`blot_lanczos`), their argument order, the interpolant codes and the constants
below.  Every output pixel is one independent computation, so `blot_kernel`'s
loop over output rows becomes a grid-stride loop over output pixels.

Arithmetic follows cdrizzle (drizzle 3.0, ``cdrizzleblot.c``) where it is
right and departs from it where it is not:

* positions are split into integer part and fraction in float64 (cdrizzle
  first rounds them to float32, an error of up to 2.4e-4 px at x ~ 4000);
* the polynomial interpolants then work in float32, as cdrizzle does;
* nearest clamps its index to the image (cdrizzle reads one pixel past the
  last row/column);
* poly3/poly5 reflect through the edge pixel in both axes,
  ``f(-k) = 2 f(0) - f(k)`` and ``f(n-1+k) = 2 f(n-1) - f(n-1-k)``, with the
  mirror index clamped to the image when the image is too small.  cdrizzle
  does this at the left, right and bottom edges but not at the top: for
  poly3 on the last row it reads outside its 4x4 window (garbage), for
  poly5 on the last two rows it uses row ``ny-4`` instead of the reflection
  of the outermost row;
* a NaN or infinite pixmap entry gives ``fillval`` (cdrizzle raises on NaN).

A non-finite data value read by an interpolant (its whole window, mirror
pixels and taps of zero weight included) makes that output pixel non-finite.
"""

import math
from functools import lru_cache

import numpy as np
from numba import njit, prange

__all__ = [
    "INTERP_CODES",
    "interp_code",
    "LUT_DELTA",
    "blot",
    "blot_kernel",
    "blot_tiles_nearest",
    "blot_tiles_linear",
    "blot_tiles_poly3",
    "blot_tiles_poly5",
    "blot_tiles_sinc",
    "blot_tiles_lanczos",
    "TILE_FUNCTIONS",
    "blot_pixel",
    "is_inside",
    "blot_nearest",
    "blot_linear",
    "blot_poly3",
    "blot_poly5",
    "blot_sinc",
    "blot_lanczos",
    "lanczos_lut",
]

# Interpolant codes shared with kernels/blot.cu.
NEAREST = 0
LINEAR = 1
POLY3 = 2
POLY5 = 3
SINC = 4
LANCZOS3 = 5
LANCZOS5 = 6

INTERP_CODES = {
    "nearest": NEAREST,
    "linear": LINEAR,
    "poly3": POLY3,
    "poly5": POLY5,
    "sinc": SINC,
    "lanczos3": LANCZOS3,
    "lanczos5": LANCZOS5,
}

# Spacing of the Lanczos look-up table, as in cdrizzle (``lut_delta``).
LUT_DELTA = 0.003

#: Side of the output tiles blotted as a unit (see `blot_kernel`).
TILE = 64

# Half-width of the sinc window in units of sinscl input pixels.
SINC_NZEROS = 3

# float32 constants: a Python float literal would promote the polynomial
# arithmetic to float64 and break parity with cdrizzle's float32 formulas.
_F1 = np.float32(1.0)
_F2 = np.float32(2.0)
_F4 = np.float32(4.0)
_F6 = np.float32(6.0)
_SIXTH = np.float32(1.0) / np.float32(6.0)
_ONE_120TH = np.float32(1.0) / np.float32(120.0)


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy")
def _mirror_index(i, n):
    """Index of the pixel mirroring ``i`` (outside ``0..n-1``) through the edge.

    Clamped to the image, so images smaller than the window still work.
    """
    if i < 0:
        m = -i
    else:
        m = 2 * (n - 1) - i
    return min(max(m, 0), n - 1)


@njit(cache=True, nogil=True, error_model="numpy")
def _row_value(data, i, j):
    """``data[j, i]`` for a row ``j`` inside the image, reflected in x."""
    nx = data.shape[1]
    if i < 0:
        return _F2 * data[j, 0] - data[j, _mirror_index(i, nx)]
    if i >= nx:
        return _F2 * data[j, nx - 1] - data[j, _mirror_index(i, nx)]
    return data[j, i]


@njit(cache=True, nogil=True, error_model="numpy")
def reflected_pixel(data, i, j):
    """``data[j, i]`` extended beyond the image by reflection through the edges.

    Reflection is linear, so reflecting rows (y) of x-reflected values is the
    same as any other order; a constant image stays constant.
    """
    ny = data.shape[0]
    if j < 0:
        return _F2 * _row_value(data, i, 0) - _row_value(data, i, _mirror_index(j, ny))
    if j >= ny:
        return _F2 * _row_value(data, i, ny - 1) - _row_value(data, i, _mirror_index(j, ny))
    return _row_value(data, i, j)


@njit(cache=True, nogil=True, error_model="numpy")
def _split(x):
    """Integer part and float32 fraction of a non-negative position.

    The split is done in float64 so that the fraction keeps full precision
    far from the origin; only the fraction goes to float32.
    """
    ix = math.floor(x)
    return ix, np.float32(x - ix)


@njit(cache=True, nogil=True, error_model="numpy")
def _pix(data, i, j, interior):
    """``data[j, i]``, reflected unless the caller knows its window is inside.

    The interior shortcut only skips the edge tests (the value is the same),
    which lets the compiler keep the common case branch-free.
    """
    if interior:
        return data[j, i]
    return reflected_pixel(data, i, j)


@njit(cache=True, nogil=True, error_model="numpy")
def _window_inside(data, ix, iy, lo, hi):
    """True if pixels ``ix-lo .. ix+hi`` x ``iy-lo .. iy+hi`` are all in the image."""
    ny, nx = data.shape
    return ix >= lo and ix + hi < nx and iy >= lo and iy + hi < ny


@njit(cache=True, nogil=True, error_model="numpy")
def _sinpi(u):
    """``sin(pi u)``, exactly 0 at integers (so sinc taps vanish there)."""
    n = math.floor(u + 0.5)
    s = math.sin(math.pi * (u - n))
    if n % 2 != 0:
        s = -s
    return s


@njit(cache=True, nogil=True, error_model="numpy")
def _sinc(u):
    """Normalised sinc, ``sin(pi u) / (pi u)``."""
    if u == 0.0:
        return 1.0
    return _sinpi(u) / (math.pi * u)


@njit(cache=True, nogil=True, error_model="numpy")
def _sinc_weight(dx, sinscl, h):
    """Tapered sinc weight of a tap at distance ``dx`` (0 outside ``|dx| < h``)."""
    if abs(dx) >= h:
        return 0.0
    return _sinc(dx / sinscl) * _sinc(dx / h)


# --------------------------------------------------------------------------
# Per-interpolant functions (device functions in the CUDA twin).  Each takes
# a position already known to be inside the image and returns float64.
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy")
def blot_nearest(data, x, y):
    """Value of the pixel nearest to ``(x, y)``, index clamped to the image."""
    ny, nx = data.shape
    i = min(math.floor(x + 0.5), nx - 1)
    j = min(math.floor(y + 0.5), ny - 1)
    return np.float64(data[j, i])


@njit(cache=True, nogil=True, error_model="numpy")
def blot_linear(data, x, y):
    """Bilinear interpolation; 1-D on the last row/column, constant at the corner.

    Beyond the last pixel centre cdrizzle holds the value constant in that
    axis rather than reflecting; kept for parity.
    """
    ny, nx = data.shape
    ix, sx = _split(x)
    iy, sy = _split(y)
    f00 = data[iy, ix]
    last_x = ix == nx - 1
    last_y = iy == ny - 1
    if last_x and last_y:
        return np.float64(f00)
    if last_x:
        return np.float64((_F1 - sy) * f00 + sy * data[iy + 1, ix])
    if last_y:
        return np.float64((_F1 - sx) * f00 + sx * data[iy, ix + 1])
    tx = _F1 - sx
    ty = _F1 - sy
    v = (
        tx * ty * f00
        + sx * ty * data[iy, ix + 1]
        + sy * tx * data[iy + 1, ix]
        + sx * sy * data[iy + 1, ix + 1]
    )
    return np.float64(v)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _cubic_weights(s):
    """Weights of f(-1), f(0), f(1), f(2) in Everett's cubic at ``s`` (float32).

    Everett's formula (IRAF ii_bipoly3) is linear in the samples; written as
    weights, a 4x4 window costs 16 multiply-adds plus two weight sets instead
    of five full Everett evaluations.  Same polynomial; at ``s = 0`` the
    weights are exactly (0, 1, 0, 0), so grid samples are reproduced.
    """
    t = _F1 - s
    a = s * (s * s - _F1) * _SIXTH
    c = t * (t * t - _F1) * _SIXTH
    return c, a + t - _F2 * c, s - _F2 * a + c, a


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _quintic_weights(s):
    """Weights of f(-2) .. f(3) in Everett's quintic at ``s`` (float32); see `_cubic_weights`."""
    t = _F1 - s
    s2 = s * s
    t2 = t * t
    a = s * (s2 - _F1) * _SIXTH
    b = s * (s2 - _F1) * (s2 - _F4) * _ONE_120TH
    c = t * (t2 - _F1) * _SIXTH
    d = t * (t2 - _F1) * (t2 - _F4) * _ONE_120TH
    return (
        d,
        b + c - _F4 * d,
        a - _F4 * b + t - _F2 * c + _F6 * d,
        s - _F2 * a + _F6 * b + c - _F4 * d,
        a - _F4 * b + d,
        b,
    )


@njit(cache=True, nogil=True, error_model="numpy")
def blot_poly3(data, x, y):
    """Bicubic interior polynomial on the 4x4 window (IRAF ii_bipoly3)."""
    ix, sx = _split(x)
    iy, sy = _split(y)
    inside = _window_inside(data, ix, iy, 1, 2)
    wx = _cubic_weights(sx)
    wy = _cubic_weights(sy)
    acc = np.float32(0.0)
    for r in range(4):
        j = iy - 1 + r
        row = np.float32(0.0)
        for c in range(4):
            row += wx[c] * _pix(data, ix - 1 + c, j, inside)
        acc += wy[r] * row
    return np.float64(acc)


@njit(cache=True, nogil=True, error_model="numpy")
def blot_poly5(data, x, y):
    """Biquintic interior polynomial on the 6x6 window (IRAF ii_bipoly5)."""
    ix, sx = _split(x)
    iy, sy = _split(y)
    inside = _window_inside(data, ix, iy, 2, 3)
    wx = _quintic_weights(sx)
    wy = _quintic_weights(sy)
    acc = np.float32(0.0)
    for r in range(6):
        j = iy - 2 + r
        row = np.float32(0.0)
        for c in range(6):
            row += wx[c] * _pix(data, ix - 2 + c, j, inside)
        acc += wy[r] * row
    return np.float64(acc)


@njit(cache=True, nogil=True, error_model="numpy")
def blot_sinc(data, x, y, sinscl):
    """Normalised, tapered, truncated sinc of scale ``sinscl`` pixels.

    MultiDrizzle's ``sinc`` blot (``blot_sinscl``, "size of the sinc
    interpolation kernel in pixels") followed IRAF's image interpolators,
    whose sinc is a truncated sinc tapered towards the ends of its window.
    Here, per axis,

        ``w(d) = sinc(d / sinscl) * sinc(d / h)`` for ``|d| < h = 3 sinscl``,
        0 beyond,

    with ``sinc(u) = sin(pi u) / (pi u)``: the taper is a Lanczos window, so
    the kernel is Lanczos-3 stretched by ``sinscl``.  Separable in x and y;
    taps outside the image read reflected values (as poly3/poly5); the result
    is ``sum(w f) / sum(w)``, so a constant image is reproduced exactly, and
    with ``sinscl = 1`` every other tap vanishes at integer positions (``w = 1``
    at ``d = 0``), so samples are reproduced exactly.  ``sinscl > 1`` smooths;
    ``sinscl < 1`` is ill-conditioned (for 1/2 the weights sum to ~0 at
    half-pixel positions) and gives NaN where no tap has weight
    (``sinscl < 1/6``).
    """
    h = SINC_NZEROS * sinscl
    i0 = math.floor(x - h) + 1
    i1 = math.floor(x + h)
    j0 = math.floor(y - h) + 1
    j1 = math.floor(y + h)
    num = 0.0
    den = 0.0
    for j in range(j0, j1 + 1):
        wy = _sinc_weight(y - j, sinscl, h)
        for i in range(i0, i1 + 1):
            w = _sinc_weight(x - i, sinscl, h) * wy
            num += w * reflected_pixel(data, i, j)
            den += w
    if den == 0.0:
        return math.nan
    return num / den


@njit(cache=True, nogil=True, error_model="numpy")
def blot_lanczos(data, x, y, lut, order):
    """Lanczos interpolation of ``order`` through a look-up table, as cdrizzle.

    Taps ``floor(x - order) + 1 .. floor(x + order)`` clipped to the image,
    weight ``lut[trunc(|d| / LUT_DELTA)]`` per axis, summed in float64 and
    not normalised (so edges and constants are not exactly preserved).
    """
    ny, nx = data.shape
    nlut = lut.shape[0]
    i0 = max(math.floor(x - order) + 1, 0)
    i1 = min(math.floor(x + order), nx - 1)
    j0 = max(math.floor(y - order) + 1, 0)
    j1 = min(math.floor(y + order), ny - 1)
    total = 0.0
    for j in range(j0, j1 + 1):
        ky = int(abs(y - j) / LUT_DELTA)
        if ky >= nlut:
            continue
        wy = lut[ky]
        for i in range(i0, i1 + 1):
            kx = int(abs(x - i) / LUT_DELTA)
            if kx >= nlut:
                continue
            total += data[j, i] * lut[kx] * wy
    # cdrizzle rounds the sum to float32 before scaling; so do we.
    return np.float64(np.float32(total))


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy")
def is_inside(data, x, y):
    """True if ``0 <= x < nx`` and ``0 <= y < ny`` (False for NaN: comparisons fail)."""
    ny, nx = data.shape
    return x >= 0.0 and x < nx and y >= 0.0 and y < ny


@njit(cache=True, nogil=True, error_model="numpy")
def blot_pixel(data, x, y, code, fill, iscale, sinscl, lut):
    """One output pixel: the interpolant ``code`` at ``(x, y)`` times ``iscale``.

    Positions outside the image, NaN or inf give ``fill``.  The blot functions inline
    this per interpolant; kept as the reference per-pixel form.
    """
    if not is_inside(data, x, y):
        return fill
    if code == NEAREST:
        v = blot_nearest(data, x, y)
    elif code == LINEAR:
        v = blot_linear(data, x, y)
    elif code == POLY3:
        v = blot_poly3(data, x, y)
    elif code == POLY5:
        v = blot_poly5(data, x, y)
    elif code == SINC:
        v = blot_sinc(data, x, y, sinscl)
    else:
        v = blot_lanczos(data, x, y, lut, 3 if code == LANCZOS3 else 5)
    return np.float32(v * iscale)


# Every interpolant behind one signature, inlined into its own blot function below.
@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _at_nearest(data, x, y, sinscl, lut, order):
    return blot_nearest(data, x, y)


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _at_linear(data, x, y, sinscl, lut, order):
    return blot_linear(data, x, y)


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _at_poly3(data, x, y, sinscl, lut, order):
    return blot_poly3(data, x, y)


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _at_poly5(data, x, y, sinscl, lut, order):
    return blot_poly5(data, x, y)


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _at_sinc(data, x, y, sinscl, lut, order):
    return blot_sinc(data, x, y, sinscl)


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _at_lanczos(data, x, y, sinscl, lut, order):
    return blot_lanczos(data, x, y, lut, order)


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _blot_tile_row(tj, at, data, pixmap, out, fill, iscale, sinscl, lut, order):
    """Output tile row ``tj`` (TILE rows) with the interpolant ``at``; `blot_pixel` on each pixel.

    Output tiles of TILE x TILE pixels: their source windows stay in cache whatever the rotation
    (row by row, a chip rotated by 90 degrees reads down the columns of the blotted image).
    """
    ny, nx = out.shape
    j0 = tj * TILE
    j1 = min(j0 + TILE, ny)
    for i0 in range(0, nx, TILE):
        i1 = min(i0 + TILE, nx)
        for j in range(j0, j1):
            for i in range(i0, i1):
                x, y = pixmap[j, i, 0], pixmap[j, i, 1]
                if is_inside(data, x, y):
                    out[j, i] = np.float32(at(data, x, y, sinscl, lut, order) * iscale)
                else:
                    out[j, i] = fill


# One blot function per interpolant, tile rows in parallel (each thread owns whole rows of
# tiles: no shared writes).  Each calls its interpolant directly, so a run compiles (and
# caches) only the interpolants it uses, and the compiler specialises the pixel loop on it.
@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def blot_tiles_nearest(data, pixmap, out, fill, iscale, sinscl, lut, order):
    for tj in prange((out.shape[0] + TILE - 1) // TILE):
        _blot_tile_row(tj, _at_nearest, data, pixmap, out, fill, iscale, sinscl, lut, order)


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def blot_tiles_linear(data, pixmap, out, fill, iscale, sinscl, lut, order):
    for tj in prange((out.shape[0] + TILE - 1) // TILE):
        _blot_tile_row(tj, _at_linear, data, pixmap, out, fill, iscale, sinscl, lut, order)


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def blot_tiles_poly3(data, pixmap, out, fill, iscale, sinscl, lut, order):
    for tj in prange((out.shape[0] + TILE - 1) // TILE):
        _blot_tile_row(tj, _at_poly3, data, pixmap, out, fill, iscale, sinscl, lut, order)


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def blot_tiles_poly5(data, pixmap, out, fill, iscale, sinscl, lut, order):
    for tj in prange((out.shape[0] + TILE - 1) // TILE):
        _blot_tile_row(tj, _at_poly5, data, pixmap, out, fill, iscale, sinscl, lut, order)


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def blot_tiles_sinc(data, pixmap, out, fill, iscale, sinscl, lut, order):
    for tj in prange((out.shape[0] + TILE - 1) // TILE):
        _blot_tile_row(tj, _at_sinc, data, pixmap, out, fill, iscale, sinscl, lut, order)


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def blot_tiles_lanczos(data, pixmap, out, fill, iscale, sinscl, lut, order):
    for tj in prange((out.shape[0] + TILE - 1) // TILE):
        _blot_tile_row(tj, _at_lanczos, data, pixmap, out, fill, iscale, sinscl, lut, order)


#: The blot function of each interpolant code.
TILE_FUNCTIONS = {
    NEAREST: blot_tiles_nearest,
    LINEAR: blot_tiles_linear,
    POLY3: blot_tiles_poly3,
    POLY5: blot_tiles_poly5,
    SINC: blot_tiles_sinc,
    LANCZOS3: blot_tiles_lanczos,
    LANCZOS5: blot_tiles_lanczos,
}


def blot_kernel(data, pixmap, out, code, fillval, iscale, sinscl, lut):
    """Fill ``out[j, i]`` from ``data`` at ``pixmap[j, i]`` with interpolant ``code`` (the CUDA
    entry ``blot_kernel``'s twin): runs that interpolant's blot function (:data:`TILE_FUNCTIONS`)."""
    order = 5 if code == LANCZOS5 else 3
    TILE_FUNCTIONS[code](data, pixmap, out, np.float32(fillval), float(iscale), float(sinscl), lut, order)


@lru_cache(maxsize=None)
def lanczos_lut(order):
    """Lanczos look-up table of ``order`` with spacing `LUT_DELTA` (read-only).

    ``lut[0] = 1``, ``lut[k] = sinc(x) sinc(x / order)`` for
    ``x = k LUT_DELTA <= order``, else 0; ``ceil(order / LUT_DELTA) + 1``
    entries, as cdrizzle's ``create_lanczos_lut``.
    """
    n = int(math.ceil(order / LUT_DELTA)) + 1
    x = np.arange(1, n, dtype=np.float64) * LUT_DELTA
    poff = np.pi * x
    r = poff / order
    vals = np.where(x <= order, np.sin(poff) * np.sin(r) / (poff * r), 0.0)
    lut = np.concatenate(([1.0], vals))
    lut.setflags(write=False)
    return lut


def interp_code(interp):
    """The `INTERP_CODES` value of ``interp``, with a one-line error for an unknown name."""
    try:
        return INTERP_CODES[interp]
    except KeyError:
        raise ValueError(
            f"interp must be one of {', '.join(map(repr, INTERP_CODES))}, got {interp!r}."
        ) from None


def blot(data, pixmap, out, interp, fillval, iscale, sinscl):
    """Interpolate ``data`` at every position of ``pixmap`` into ``out``.

    The CPU backend's blot operation; arguments are already validated by
    :func:`gpudriz.blot.blot_image`.

    Parameters
    ----------
    data : ndarray of float32, shape (ny_in, nx_in), C-contiguous
        Image to interpolate (not modified).
    pixmap : ndarray of float64, shape (ny_out, nx_out, 2), C-contiguous
        For each output pixel the ``(x, y)`` position in ``data``'s 0-based
        pixel frame (pixel centres at integers).
    out : ndarray of float32, shape (ny_out, nx_out)
        Written in place.
    interp : str
        One of ``INTERP_CODES``.
    fillval : float
        Value of output pixels whose position is outside ``data`` or NaN.
    iscale : float
        Multiplies every interpolated value.
    sinscl : float
        Scale of the sinc kernel in input pixels (used by ``"sinc"`` only).

    Returns
    -------
    out : ndarray of float32
    """
    code = interp_code(interp)
    # One LUT type for every call keeps a single compiled specialisation;
    # interpolants other than Lanczos never read it.
    lut = lanczos_lut(5 if code == LANCZOS5 else 3)
    blot_kernel(data, pixmap, out, code, float(fillval), float(iscale), float(sinscl), lut)
    return out
