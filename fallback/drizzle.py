"""Numba twin of ``kernels/drizzle.cu``: the drizzle kernels.

Every input pixel ``(i, j)`` is mapped to the output frame through the pixmap
and its flux is shared among the output pixels it overlaps, according to the
kernel (Fruchter & Hook 2002, PASP 114, 144; MultiDrizzle manual section 1.4).
Per output pixel the kernels accumulate ``sum(dow * d)``, ``sum(dow)``, for
variance arrays ``sum(dow**2 * d2)``, the context flag (some ``dow > 0``) and
the OR of the input DQ; :func:`drizzle_merge` then folds these sums into the
running weighted mean held in ``out_img``/``out_wht`` in one pass (design
principle 4: accumulate, then normalise).

Race freedom: the input rows are split into bands, one per thread; each band
writes into its own private buffer covering exactly the output box that band
can touch (:func:`drizzle_node_stats` here, then the bound shared with the CUDA
driver in ``gpudriz.backend.host``, with its other host-side rules), and
the merge runs in parallel over output rows.  No two threads ever write the
same memory.  The host driver that does this, the CPU backend's
``drizzle_add``, is :func:`gpudriz.backend.cpu.drizzle_add` (it applies those
host-side rules, which live above this module).

The per-pixel geometry follows cdrizzle 3.0 where cdrizzle is right (corner
interpolation, cdrizzle's exact "boxer" overlap, rounding of window
limits, the Lanczos look-up table), so that results agree to float32 rounding.
Where cdrizzle is wrong we differ on purpose (see ``docs/differences.md``):
every input pixel in the box is processed, including those straddling the
output edge, which contribute exactly their inside part; non-finite data or
weights contribute nothing; a degenerate (zero-area) square drop is skipped.

Kernel codes (shared with the CUDA twin): the positions in :data:`DRIZZLE_KERNELS`,
0 square, 1 turbo, 2 point, 3 gaussian, 4 tophat, 5 lanczos2, 6 lanczos3.
"""

import math

import numpy as np
from numba import njit, prange

#: The drizzle kernels, the one table every layer derives its list from: each kernel's name and
#: its entry point in ``kernels/drizzle.cu`` and here (the two Lanczos orders share one).  A
#: kernel's code is its position (the ``DZ_*`` enum of the CUDA source).
DRIZZLE_KERNELS = (
    ("square", "drizzle_square"),
    ("turbo", "drizzle_turbo"),
    ("point", "drizzle_point"),
    ("gaussian", "drizzle_gaussian"),
    ("tophat", "drizzle_tophat"),
    ("lanczos2", "drizzle_lanczos"),
    ("lanczos3", "drizzle_lanczos"),
)

#: Kernel names, in code order.
KERNEL_NAMES = tuple(name for name, _ in DRIZZLE_KERNELS)

#: Kernel name -> code.
KERNEL_CODES = {name: code for code, name in enumerate(KERNEL_NAMES)}

#: Kernel name -> entry point of ``kernels/drizzle.cu`` (and of its twin here).
KERNEL_ENTRIES = dict(DRIZZLE_KERNELS)

#: Spacing of the Lanczos look-up table, in units of the kernel argument
#: (the value cdrizzle uses, so that the two agree to float32 rounding).
LANCZOS_LUT_DELTA = 0.003

#: Gaussian FWHM / sigma.
FWHM_SIGMA = 2.3548

#: Half-width of the Gaussian window in sigmas.
GAUSSIAN_NSIG = 2.5

#: A square drop whose mapped area is below this (output pixels squared) is
#: degenerate: its overlaps are pure rounding noise, so it is skipped.
MIN_DROP_AREA = 1e-12

# Module constants (Numba freezes them into the kernels) for the codes of the table above.
_SQUARE, _TURBO, _POINT, _GAUSSIAN, _TOPHAT, _LANCZOS2, _LANCZOS3 = (KERNEL_CODES[n] for n in KERNEL_NAMES)


def lanczos_lut(order):
    """Return the Lanczos look-up table ``L(k * delta)`` for ``k = 0 .. ceil(order/delta)``.

    ``L(x) = sinc(x) sinc(x / order)`` for ``x <= order``, else 0.
    """
    nlut = int(math.ceil(order / LANCZOS_LUT_DELTA)) + 1
    x = np.arange(nlut, dtype=np.float64) * LANCZOS_LUT_DELTA
    lut = np.zeros(nlut, dtype=np.float64)
    lut[0] = 1.0
    poff = np.pi * x[1:]
    r = poff / order
    vals = np.sin(poff) * np.sin(r) / (poff * r)
    lut[1:] = np.where(x[1:] <= order, vals, 0.0)
    return lut


# --------------------------------------------------------------------------
# Small geometric helpers
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def nint(x):
    """Round half away from zero (C's ``round``), as an integer."""
    if x >= 0.0:
        r = math.floor(x)
        return int(r) + 1 if x - r >= 0.5 else int(r)
    r = math.floor(-x)
    return -(int(r) + 1) if -x - r >= 0.5 else -int(r)


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _edge_area(x1, y1, x2, y2, dx, slope, islope):
    """Signed area under the segment (x1, y1)-(x2, y2) inside the unit square at the origin.

    cdrizzle's ``sgarea`` (the "boxer" algorithm) with the segment's slope and
    inverse slope precomputed: the square kernel evaluates each of a drop's
    four edges against every output pixel it may touch, and dividing once per
    edge instead of up to three times per (edge, pixel) pair is most of the
    kernel's speed.  Summed over a quadrilateral's edges it gives the signed
    overlap of the quadrilateral with the unit square.  ``dx`` is ``x2 - x1``;
    ``islope`` is unused (0) for horizontal edges, which never reach it.
    Inlined: in the square kernel's overlap pass (kept apart from the
    accumulation) that is ~40% faster than a call.
    """
    if dx == 0.0:
        return 0.0
    if dx < 0.0:
        sgn_dx = -1.0
        xlo = x2
        xhi = x1
    else:
        sgn_dx = 1.0
        xlo = x1
        xhi = x2
    if xlo >= 1.0 or xhi <= 0.0:
        return 0.0
    xlo = max(xlo, 0.0)
    xhi = min(xhi, 1.0)
    ylo = y1 + slope * (xlo - x1)
    yhi = y1 + slope * (xhi - x1)
    if ylo <= 0.0 and yhi <= 0.0:
        return 0.0
    if ylo >= 1.0 and yhi >= 1.0:
        return sgn_dx * (xhi - xlo)
    if ylo < 0.0:
        ylo = 0.0
        xlo = x1 - y1 * islope
    if yhi < 0.0:
        yhi = 0.0
        xhi = x1 - y1 * islope
    if ylo <= 1.0:
        if yhi <= 1.0:
            return sgn_dx * 0.5 * (xhi - xlo) * (yhi + ylo)
        xtop = x1 + (1.0 - y1) * islope
        return sgn_dx * (0.5 * (xtop - xlo) * (1.0 + ylo) + xhi - xtop)
    xtop = x1 + (1.0 - y1) * islope
    return sgn_dx * (0.5 * (xhi - xtop) * (1.0 + yhi) + xtop - xlo)


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _edge_slopes(xa, ya, xb, yb):
    """``(dx, slope, inverse slope)`` of the edge a->b (0 where undefined)."""
    dx = xb - xa
    dy = yb - ya
    slope = dy / dx if dx != 0.0 else 0.0
    islope = dx / dy if dy != 0.0 else 0.0
    return dx, slope, islope


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def over(ii, jj, xmin, xmax, ymin, ymax):
    """Overlap area of an axis-aligned box with output pixel (ii, jj)."""
    dx = min(xmax, ii + 0.5) - max(xmin, ii - 0.5)
    dy = min(ymax, jj + 0.5) - max(ymin, jj - 0.5)
    if dx > 0.0 and dy > 0.0:
        return dx * dy
    return 0.0


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _interp_point(pixmap, xin, yin):
    """Bilinear interpolation of the pixmap at (xin, yin), extrapolating at the border."""
    ny = pixmap.shape[0]
    nx = pixmap.shape[1]
    i0 = int(xin)  # truncation toward zero, then clamped: extrapolates linearly
    j0 = int(yin)
    if i0 < 0:
        i0 = 0
    elif i0 > nx - 2:
        i0 = nx - 2
    if j0 < 0:
        j0 = 0
    elif j0 > ny - 2:
        j0 = ny - 2
    x = xin - i0
    y = yin - j0
    x1 = 1.0 - x
    y1 = 1.0 - y
    xo = (
        pixmap[j0, i0, 0] * x1 * y1
        + pixmap[j0, i0 + 1, 0] * x * y1
        + pixmap[j0 + 1, i0, 0] * x1 * y
        + pixmap[j0 + 1, i0 + 1, 0] * x * y
    )
    yo = (
        pixmap[j0, i0, 1] * x1 * y1
        + pixmap[j0, i0 + 1, 1] * x * y1
        + pixmap[j0 + 1, i0, 1] * x1 * y
        + pixmap[j0 + 1, i0 + 1, 1] * x * y
    )
    return xo, yo


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def square_corners(pixmap, i, j, h):
    """Output-frame corners of input pixel (i, j) shrunk to half-size h.

    Returns ``(ok, x0, x1, x2, x3, y0, y1, y2, y3)`` for the corners
    (i-h, j+h), (i+h, j+h), (i+h, j-h), (i-h, j-h); ``ok`` is False when a
    corner is NaN.  Interior pixels use the nine-node form of the bilinear
    interpolation (the same arithmetic as cdrizzle, hence the same rounding).
    """
    ny = pixmap.shape[0]
    nx = pixmap.shape[1]
    if i > 0 and i < nx - 2 and j > 0 and j < ny - 2:
        fc = (1.0 - h) * (1.0 - h)
        fe = (1.0 - h) * h
        fk = h * h
        # f[a][b]: node (i - 1 + a, j - 1 + b) times its bilinear weight
        f00 = pixmap[j - 1, i - 1, 0] * fk
        f10 = pixmap[j - 1, i, 0] * fe
        f20 = pixmap[j - 1, i + 1, 0] * fk
        f01 = pixmap[j, i - 1, 0] * fe
        f11 = pixmap[j, i, 0] * fc
        f21 = pixmap[j, i + 1, 0] * fe
        f02 = pixmap[j + 1, i - 1, 0] * fk
        f12 = pixmap[j + 1, i, 0] * fe
        f22 = pixmap[j + 1, i + 1, 0] * fk
        g00 = pixmap[j - 1, i - 1, 1] * fk
        g10 = pixmap[j - 1, i, 1] * fe
        g20 = pixmap[j - 1, i + 1, 1] * fk
        g01 = pixmap[j, i - 1, 1] * fe
        g11 = pixmap[j, i, 1] * fc
        g21 = pixmap[j, i + 1, 1] * fe
        g02 = pixmap[j + 1, i - 1, 1] * fk
        g12 = pixmap[j + 1, i, 1] * fe
        g22 = pixmap[j + 1, i + 1, 1] * fk
        x0 = f01 + f11 + f02 + f12
        y0 = g01 + g11 + g02 + g12
        x1 = f11 + f21 + f12 + f22
        y1 = g11 + g21 + g12 + g22
        x2 = f10 + f20 + f11 + f21
        y2 = g10 + g20 + g11 + g21
        x3 = f00 + f10 + f01 + f11
        y3 = g00 + g10 + g01 + g11
    else:
        x0, y0 = _interp_point(pixmap, i - h, j + h)
        x1, y1 = _interp_point(pixmap, i + h, j + h)
        x2, y2 = _interp_point(pixmap, i + h, j - h)
        x3, y3 = _interp_point(pixmap, i - h, j - h)
    ok = not (
        math.isnan(x0)
        or math.isnan(x1)
        or math.isnan(x2)
        or math.isnan(x3)
        or math.isnan(y0)
        or math.isnan(y1)
        or math.isnan(y2)
        or math.isnan(y3)
    )
    return ok, x0, x1, x2, x3, y0, y1, y2, y3


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _clip_window(ii0, ii1, jj0, jj1, cx0, cx1, cy0, cy1):
    """Clip a window to the box cx0..cx1, cy0..cy1; ``ok`` is False when nothing is left."""
    ii0 = max(ii0, cx0)
    jj0 = max(jj0, cy0)
    ii1 = min(ii1, cx1)
    jj1 = min(jj1, cy1)
    return ii0 <= ii1 and jj0 <= jj1, ii0, ii1, jj0, jj1


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _quad_window(x0, x1, x2, x3, y0, y1, y2, y3, cx0, cx1, cy0, cy1):
    """Output pixels a quadrilateral can overlap, clipped to a box (possibly empty)."""
    ii0 = max(nint(min(min(x0, x1), min(x2, x3))), cx0)
    ii1 = min(nint(max(max(x0, x1), max(x2, x3))), cx1)
    jj0 = max(nint(min(min(y0, y1), min(y2, y3))), cy0)
    jj1 = min(nint(max(max(y0, y1), max(y2, y3))), cy1)
    return ii0, ii1, jj0, jj1


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _center_window(kcode, pixmap, i, j, pf, s, cx0, cx1, cy0, cy1):
    """Output window of a kernel centred on the mapped pixel centre (not square).

    Returns ``(ok, ii0, ii1, jj0, jj1)``; ``ok`` is False when the centre is
    NaN or the window misses the output.
    """
    ox = pixmap[j, i, 0]
    oy = pixmap[j, i, 1]
    if math.isnan(ox) or math.isnan(oy):
        return False, 0, -1, 0, -1
    if kcode == _POINT:
        ii = nint(ox)
        jj = nint(oy)
        return _clip_window(ii, ii, jj, jj, cx0, cx1, cy0, cy1)
    if kcode == _LANCZOS2 or kcode == _LANCZOS3:
        pfo = (2.0 if kcode == _LANCZOS2 else 3.0) / s
        return _clip_window(
            int(math.floor(ox - pfo)) + 1,
            int(math.floor(ox + pfo)),
            int(math.floor(oy - pfo)) + 1,
            int(math.floor(oy + pfo)),
            cx0,
            cx1,
            cy0,
            cy1,
        )
    if kcode == _GAUSSIAN:
        pfo = max(GAUSSIAN_NSIG * pf / FWHM_SIGMA / s, 1.2 / s)
    else:  # turbo, tophat
        pfo = pf / s / 2.0
    return _clip_window(nint(ox - pfo), nint(ox + pfo), nint(oy - pfo), nint(oy + pfo),
                        cx0, cx1, cy0, cy1)  # fmt: skip


# --------------------------------------------------------------------------
# Accumulation into a band's private buffer
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _accumulate(acc_sw, acc_var, acc_flag, acc_dq, idx, d, dow, data2, dq, i, j, iscale2):
    """Add one contribution of weight ``dow`` and value ``d`` to buffer cell ``idx``.

    Variances and DQ are read here, per contribution.  Absent ones are passed
    as None, which Numba prunes at compile time: a loop over zero variances
    left in the pixel loop costs several times the kernel's own work.
    ``acc_flag`` (some ``dow > 0``) is None when no weight can be negative:
    then the flag is simply ``weight > 0``.
    """
    if dow == 0.0:
        return
    # Sum and weight side by side: one cache line per contribution.
    acc_sw[idx, 0] += dow * d
    acc_sw[idx, 1] += dow
    if acc_flag is not None and dow > 0.0:
        acc_flag[idx] = 1
    if data2 is not None:
        dow2 = dow * dow
        for k in range(data2.shape[0]):
            acc_var[k, idx] += dow2 * np.float32(data2[k, j, i] * iscale2)
    if dq is not None:
        acc_dq[idx] |= dq[j, i]


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _load_pixel(data, weights, i, j, iscale, wht_scale):
    """Scaled data and weight of input pixel (i, j); ``ok`` is False if either is NaN/inf.

    Non-finite variances were folded into the weights (as NaN) by the host.
    """
    d = np.float32(data[j, i] * iscale)
    wf = np.float32(weights[j, i] * wht_scale)
    return math.isfinite(d) and math.isfinite(wf), d, wf


# Every kernel below processes input rows j0..j1-1 (columns xmin..xmax) into a
# private buffer covering output box bx0..bx1 x by0..by1 (cell (ii, jj) at
# ``(jj - by0) * bw + ii - bx0``), clipping every window to that box, and
# records per row the pixels that reached nothing (row_miss) and those skipped
# as non-finite (row_bad), at index ``j - row_base``.  Their CUDA twins in
# kernels/drizzle.cu take one input pixel per thread and add atomically.


@njit(cache=True, nogil=True, error_model="numpy")
def drizzle_square(
    data, weights, pixmap, data2, dq, xmin, xmax, j0, j1,
    iscale, iscale2, wht_scale, pf, s, lut,
    bx0, bx1, by0, by1, acc_sw, acc_var, acc_flag, acc_dq, row_miss, row_bad, row_base,
):  # fmt: skip
    """Square kernel: exact overlap of the mapped, pixfrac-shrunk input pixel."""
    bw = bx1 - bx0 + 1  # row length of the band buffer
    h = 0.5 * pf
    scratch = np.empty(64, dtype=np.float64)
    for j in range(j0, j1):
        nmiss = 0
        nbad = 0
        for i in range(xmin, xmax + 1):
            ok, d, wf = _load_pixel(data, weights, i, j, iscale, wht_scale)
            if not ok:
                nbad += 1
                nmiss += 1
                continue
            ok, x0, x1, x2, x3, y0, y1, y2, y3 = square_corners(pixmap, i, j, h)
            # Signed area of the drop; the edge areas carry the same sign.
            jaco = 0.5 * ((x1 - x3) * (y0 - y2) - (x0 - x2) * (y1 - y3))
            if not ok or not (abs(jaco) > MIN_DROP_AREA):
                nmiss += 1
                continue
            ii0, ii1, jj0, jj1 = _quad_window(x0, x1, x2, x3, y0, y1, y2, y3, bx0, bx1, by0, by1)
            w = wf / jaco
            dx0, m0, k0 = _edge_slopes(x0, y0, x1, y1)
            dx1, m1, k1 = _edge_slopes(x1, y1, x2, y2)
            dx2, m2, k2 = _edge_slopes(x2, y2, x3, y3)
            dx3, m3, k3 = _edge_slopes(x3, y3, x0, y0)
            # Two passes: overlaps into a small scratch array, then the
            # accumulation; kept apart, the overlap loop stays small enough
            # to take the inlined edge areas.
            nw = ii1 - ii0 + 1
            nwin = nw * (jj1 - jj0 + 1)
            if nwin > scratch.shape[0]:
                scratch = np.empty(2 * nwin, dtype=np.float64)
            for jj in range(jj0, jj1 + 1):
                ys = jj - 0.5
                qy0 = y0 - ys
                qy1 = y1 - ys
                qy2 = y2 - ys
                qy3 = y3 - ys
                base = (jj - jj0) * nw - ii0
                for ii in range(ii0, ii1 + 1):
                    # signed overlap of the quad with pixel (ii, jj), edge by edge
                    xs = ii - 0.5
                    qx0 = x0 - xs
                    qx1 = x1 - xs
                    qx2 = x2 - xs
                    qx3 = x3 - xs
                    a = _edge_area(qx0, qy0, qx1, qy1, dx0, m0, k0)
                    a += _edge_area(qx1, qy1, qx2, qy2, dx1, m1, k1)
                    a += _edge_area(qx2, qy2, qx3, qy3, dx2, m2, k2)
                    a += _edge_area(qx3, qy3, qx0, qy0, dx3, m3, k3)
                    scratch[base + ii] = a
            nhit = 0
            for jj in range(jj0, jj1 + 1):
                row = (jj - by0) * bw - bx0
                base = (jj - jj0) * nw - ii0
                for ii in range(ii0, ii1 + 1):
                    dover = scratch[base + ii]
                    if dover != 0.0:
                        nhit += 1
                        _accumulate(acc_sw, acc_var, acc_flag, acc_dq, row + ii, d,
                                    np.float32(dover * w), data2, dq, i, j, iscale2)  # fmt: skip
            if nhit == 0:
                nmiss += 1
        row_miss[j - row_base] += nmiss
        row_bad[j - row_base] += nbad


@njit(cache=True, nogil=True, error_model="numpy")
def drizzle_point(
    data, weights, pixmap, data2, dq, xmin, xmax, j0, j1,
    iscale, iscale2, wht_scale, pf, s, lut,
    bx0, bx1, by0, by1, acc_sw, acc_var, acc_flag, acc_dq, row_miss, row_bad, row_base,
):  # fmt: skip
    """Point kernel: all of the pixel's weight to the nearest output pixel."""
    bw = bx1 - bx0 + 1  # row length of the band buffer
    for j in range(j0, j1):
        nmiss = 0
        nbad = 0
        for i in range(xmin, xmax + 1):
            ok, d, wf = _load_pixel(data, weights, i, j, iscale, wht_scale)
            if not ok:
                nbad += 1
                nmiss += 1
                continue
            ok, ii0, ii1, jj0, jj1 = _center_window(_POINT, pixmap, i, j, pf, s, bx0, bx1, by0, by1)
            if not ok:
                nmiss += 1
                continue
            _accumulate(acc_sw, acc_var, acc_flag, acc_dq,
                        (jj0 - by0) * bw + ii0 - bx0, d, wf, data2, dq, i, j, iscale2)  # fmt: skip
        row_miss[j - row_base] += nmiss
        row_bad[j - row_base] += nbad


@njit(cache=True, nogil=True, error_model="numpy")
def drizzle_turbo(
    data, weights, pixmap, data2, dq, xmin, xmax, j0, j1,
    iscale, iscale2, wht_scale, pf, s, lut,
    bx0, bx1, by0, by1, acc_sw, acc_var, acc_flag, acc_dq, row_miss, row_bad, row_base,
):  # fmt: skip
    """Turbo kernel: an axis-aligned box of side pf/s output pixels."""
    bw = bx1 - bx0 + 1  # row length of the band buffer
    pfo = pf / s / 2.0
    dover_scale = (1.0 / (pf * pf)) * s * s
    for j in range(j0, j1):
        nmiss = 0
        nbad = 0
        for i in range(xmin, xmax + 1):
            ok, d, wf = _load_pixel(data, weights, i, j, iscale, wht_scale)
            if not ok:
                nbad += 1
                nmiss += 1
                continue
            ok, ii0, ii1, jj0, jj1 = _center_window(_TURBO, pixmap, i, j, pf, s, bx0, bx1, by0, by1)
            if not ok:
                nmiss += 1
                continue
            ox = pixmap[j, i, 0]
            oy = pixmap[j, i, 1]
            nhit = 0
            for jj in range(jj0, jj1 + 1):
                row = (jj - by0) * bw - bx0
                for ii in range(ii0, ii1 + 1):
                    dover = over(ii, jj, ox - pfo, ox + pfo, oy - pfo, oy + pfo)
                    if dover > 0.0:
                        nhit += 1
                        _accumulate(acc_sw, acc_var, acc_flag, acc_dq, row + ii, d,
                                    np.float32(dover * dover_scale * wf), data2, dq, i, j, iscale2)  # fmt: skip
            if nhit == 0:
                nmiss += 1
        row_miss[j - row_base] += nmiss
        row_bad[j - row_base] += nbad


@njit(cache=True, nogil=True, error_model="numpy")
def drizzle_gaussian(
    data, weights, pixmap, data2, dq, xmin, xmax, j0, j1,
    iscale, iscale2, wht_scale, pf, s, lut,
    bx0, bx1, by0, by1, acc_sw, acc_var, acc_flag, acc_dq, row_miss, row_bad, row_base,
):  # fmt: skip
    """Gaussian kernel: weight (efac/pi) exp(-r^2 efac), sigma = pf/(2.3548 s)."""
    bw = bx1 - bx0 + 1  # row length of the band buffer
    efac = (FWHM_SIGMA * FWHM_SIGMA) * (s * s) * (1.0 / (pf * pf)) / 2.0
    es = efac / math.pi
    for j in range(j0, j1):
        nmiss = 0
        nbad = 0
        for i in range(xmin, xmax + 1):
            ok, d, wf = _load_pixel(data, weights, i, j, iscale, wht_scale)
            if not ok:
                nbad += 1
                nmiss += 1
                continue
            ok, ii0, ii1, jj0, jj1 = _center_window(_GAUSSIAN, pixmap, i, j, pf, s, bx0, bx1,
                                                    by0, by1)  # fmt: skip
            if not ok:
                nmiss += 1
                continue
            ox = pixmap[j, i, 0]
            oy = pixmap[j, i, 1]
            for jj in range(jj0, jj1 + 1):
                row = (jj - by0) * bw - bx0
                ddy = oy - jj
                for ii in range(ii0, ii1 + 1):
                    ddx = ox - ii
                    dover = es * math.exp(-(ddx * ddx + ddy * ddy) * efac)
                    _accumulate(acc_sw, acc_var, acc_flag, acc_dq, row + ii, d,
                                np.float32(dover * wf), data2, dq, i, j, iscale2)  # fmt: skip
        row_miss[j - row_base] += nmiss
        row_bad[j - row_base] += nbad


@njit(cache=True, nogil=True, error_model="numpy")
def drizzle_tophat(
    data, weights, pixmap, data2, dq, xmin, xmax, j0, j1,
    iscale, iscale2, wht_scale, pf, s, lut,
    bx0, bx1, by0, by1, acc_sw, acc_var, acc_flag, acc_dq, row_miss, row_bad, row_base,
):  # fmt: skip
    """Tophat kernel: full weight to every output pixel centred within pf/(2s)."""
    bw = bx1 - bx0 + 1  # row length of the band buffer
    pfo = pf / s / 2.0
    pfo2 = pfo * pfo
    for j in range(j0, j1):
        nmiss = 0
        nbad = 0
        for i in range(xmin, xmax + 1):
            ok, d, wf = _load_pixel(data, weights, i, j, iscale, wht_scale)
            if not ok:
                nbad += 1
                nmiss += 1
                continue
            ok, ii0, ii1, jj0, jj1 = _center_window(_TOPHAT, pixmap, i, j, pf, s, bx0, bx1, by0, by1)
            if not ok:
                nmiss += 1
                continue
            ox = pixmap[j, i, 0]
            oy = pixmap[j, i, 1]
            nhit = 0
            for jj in range(jj0, jj1 + 1):
                row = (jj - by0) * bw - bx0
                ddy = oy - jj
                for ii in range(ii0, ii1 + 1):
                    ddx = ox - ii
                    if ddx * ddx + ddy * ddy <= pfo2:
                        nhit += 1
                        _accumulate(acc_sw, acc_var, acc_flag, acc_dq, row + ii, d,
                                    wf, data2, dq, i, j, iscale2)  # fmt: skip
            if nhit == 0:
                nmiss += 1
        row_miss[j - row_base] += nmiss
        row_bad[j - row_base] += nbad


@njit(cache=True, nogil=True, error_model="numpy")
def drizzle_lanczos(
    data, weights, pixmap, data2, dq, xmin, xmax, j0, j1,
    iscale, iscale2, wht_scale, pf, s, lut,
    bx0, bx1, by0, by1, acc_sw, acc_var, acc_flag, acc_dq, row_miss, row_bad, row_base,
):  # fmt: skip
    """Lanczos kernels: separable weights L(dx s) L(dy s) from the look-up table.

    The order (2 or 3) is carried by the table ``lut`` (see :func:`lanczos_lut`).
    """
    bw = bx1 - bx0 + 1  # row length of the band buffer
    order = (lut.shape[0] - 1) * LANCZOS_LUT_DELTA
    kcode = _LANCZOS2 if order < 2.5 else _LANCZOS3
    sdp = s / LANCZOS_LUT_DELTA
    nlut = lut.shape[0]
    for j in range(j0, j1):
        nmiss = 0
        nbad = 0
        for i in range(xmin, xmax + 1):
            ok, d, wf = _load_pixel(data, weights, i, j, iscale, wht_scale)
            if not ok:
                nbad += 1
                nmiss += 1
                continue
            ok, ii0, ii1, jj0, jj1 = _center_window(kcode, pixmap, i, j, pf, s, bx0, bx1, by0, by1)
            if not ok:
                nmiss += 1
                continue
            ox = pixmap[j, i, 0]
            oy = pixmap[j, i, 1]
            nhit = 0
            for jj in range(jj0, jj1 + 1):
                row = (jj - by0) * bw - bx0
                iy = nint(abs((oy - jj) * sdp))
                if iy >= nlut:
                    continue
                for ii in range(ii0, ii1 + 1):
                    ix = nint(abs((ox - ii) * sdp))
                    if ix >= nlut:
                        continue
                    nhit += 1
                    _accumulate(acc_sw, acc_var, acc_flag, acc_dq, row + ii, d,
                                np.float32(lut[ix] * lut[iy] * wf), data2, dq, i, j, iscale2)  # fmt: skip
            if nhit == 0:
                nmiss += 1
        row_miss[j - row_base] += nmiss
        row_bad[j - row_base] += nbad


# --------------------------------------------------------------------------
# Drivers: footprint, band accumulation, merge
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def drizzle_node_stats(pixmap, xmin, xmax, band_rows, stats):
    """Fill ``stats[b] = (xlo, xhi, ylo, yhi, step, ninf)`` over the pixmap nodes band ``b`` can use.

    The nodes of the band's rows, of the row on each side and of the column
    on each side of the input box, skipping NaN nodes; ``step`` is the
    largest ``|dx| + |dy|`` between two neighbouring such nodes, ``xlo > xhi``
    when there is none.  ``ninf`` counts nodes with an infinite coordinate:
    the host then unmaps them (:func:`gpudriz.backend.host.finite_pixmap`)
    and asks again, so that checking for them costs no pass of its own.
    :func:`gpudriz.backend.host.footprint_box` turns the rest into the
    band's output box, for this driver and the CUDA one alike.
    """
    ny = pixmap.shape[0]
    nx = pixmap.shape[1]
    nb = band_rows.shape[0] - 1
    for b in prange(nb):
        j0 = max(band_rows[b] - 1, 0)
        j1 = min(band_rows[b + 1], ny - 1)
        i0 = max(xmin - 1, 0)
        i1 = min(xmax + 1, nx - 1)
        xlo = np.inf
        xhi = -np.inf
        ylo = np.inf
        yhi = -np.inf
        step = 0.0
        ninf = 0
        for j in range(j0, j1 + 1):
            for i in range(i0, i1 + 1):
                x = pixmap[j, i, 0]
                y = pixmap[j, i, 1]
                if math.isnan(x) or math.isnan(y):
                    continue
                if math.isinf(x) or math.isinf(y):
                    ninf += 1
                xlo = min(xlo, x)
                xhi = max(xhi, x)
                ylo = min(ylo, y)
                yhi = max(yhi, y)
                if i < i1:
                    d = abs(pixmap[j, i + 1, 0] - x) + abs(pixmap[j, i + 1, 1] - y)
                    if d > step:  # a NaN neighbour compares false: ignored
                        step = d
                if j < j1:
                    d = abs(pixmap[j + 1, i, 0] - x) + abs(pixmap[j + 1, i, 1] - y)
                    if d > step:
                        step = d
        stats[b, 0] = xlo
        stats[b, 1] = xhi
        stats[b, 2] = ylo
        stats[b, 3] = yhi
        stats[b, 4] = step
        stats[b, 5] = ninf


#: Input pixels are visited in TILE x TILE blocks: whatever the rotation
#: between input and output, a block's output footprint stays in cache
#: (row by row, a chip rotated by 90 degrees writes down output columns and
#: misses the cache at every contribution).
TILE = 64


# Not inlined: Numba prunes an ``is None`` branch on a function's own arguments only, and the
# optional buffers reach _drizzle_band inside a tuple.
@njit(cache=True, nogil=True, error_model="numpy")
def _from_offset(acc, o):
    """``acc[o:]``, or None for an absent buffer."""
    if acc is None:
        return None
    return acc[o:]


@njit(cache=True, nogil=True, error_model="numpy")
def _dq_from_offset(dq, acc_dq, o):
    """The band's DQ buffer from ``o``; the one-cell placeholder itself when there is no DQ."""
    if dq is None:
        return acc_dq
    return acc_dq[o:]


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _drizzle_band(kernel_fn, b, band):
    """Drizzle band ``b`` of input rows into its private buffer with ``kernel_fn``, tile by tile.

    ``band`` is the tuple of :func:`drizzle_bands`' arguments.  Inlined into each kernel's band
    function, so that ``kernel_fn`` is a direct call there (see :data:`BAND_FUNCTIONS`).
    """
    (data, weights, pixmap, data2, dq, xmin, xmax, band_rows, iscale, iscale2, wht_scale, pf, s,
     lut, out_nx, out_ny, boxes, offsets, acc_sw, acc_var, acc_flag, acc_dq, row_miss,
     row_bad) = band  # fmt: skip
    base_row = band_rows[0]
    bx0 = boxes[b, 0]
    bx1 = boxes[b, 1]
    by0 = boxes[b, 2]
    by1 = boxes[b, 3]
    o = offsets[b]
    sw = acc_sw[o:]
    var = acc_var[:, o:]
    flag = _from_offset(acc_flag, o)
    bdq = _dq_from_offset(dq, acc_dq, o)
    for tj in range(band_rows[b], band_rows[b + 1], TILE):
        tj1 = min(tj + TILE, band_rows[b + 1])
        for ti in range(xmin, xmax + 1, TILE):
            ti1 = min(ti + TILE - 1, xmax)
            kernel_fn(data, weights, pixmap, data2, dq, ti, ti1, tj, tj1,
                      iscale, iscale2, wht_scale, pf, s, lut, bx0, bx1, by0, by1,
                      sw, var, flag, bdq, row_miss, row_bad, base_row)  # fmt: skip


# One band function per kernel, bands in parallel: each calls its kernel directly, so a run
# compiles (and caches) only the kernels it uses, where one function switching on the kernel
# code compiled all seven on first use.
@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def bands_square(band):
    for b in prange(band[7].shape[0] - 1):
        _drizzle_band(drizzle_square, b, band)


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def bands_turbo(band):
    for b in prange(band[7].shape[0] - 1):
        _drizzle_band(drizzle_turbo, b, band)


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def bands_point(band):
    for b in prange(band[7].shape[0] - 1):
        _drizzle_band(drizzle_point, b, band)


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def bands_gaussian(band):
    for b in prange(band[7].shape[0] - 1):
        _drizzle_band(drizzle_gaussian, b, band)


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def bands_tophat(band):
    for b in prange(band[7].shape[0] - 1):
        _drizzle_band(drizzle_tophat, b, band)


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def bands_lanczos(band):
    for b in prange(band[7].shape[0] - 1):
        _drizzle_band(drizzle_lanczos, b, band)


#: The band function of each kernel's entry point (:data:`KERNEL_ENTRIES`).
BAND_FUNCTIONS = {
    "drizzle_square": bands_square,
    "drizzle_turbo": bands_turbo,
    "drizzle_point": bands_point,
    "drizzle_gaussian": bands_gaussian,
    "drizzle_tophat": bands_tophat,
    "drizzle_lanczos": bands_lanczos,
}


def drizzle_bands(
    kcode, data, weights, pixmap, data2, dq, xmin, xmax, band_rows,
    iscale, iscale2, wht_scale, pf, s, lut, out_nx, out_ny,
    boxes, offsets, acc_sw, acc_var, acc_flag, acc_dq, row_miss, row_bad,
):  # fmt: skip
    """Drizzle every band of input rows into its private buffer, bands in parallel.

    Runs the band function of kernel ``kcode`` (:data:`BAND_FUNCTIONS`).
    """
    band = (data, weights, pixmap, data2, dq, xmin, xmax, band_rows, iscale, iscale2, wht_scale, pf,
            s, lut, out_nx, out_ny, boxes, offsets, acc_sw, acc_var, acc_flag, acc_dq, row_miss,
            row_bad)  # fmt: skip
    BAND_FUNCTIONS[DRIZZLE_KERNELS[kcode][1]](band)


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _band_row(boxes, offsets, b, y):
    """``(ok, x0, x1, base)``: band ``b``'s cells on output row ``y`` are ``base + x0 .. base + x1``."""
    bi0 = boxes[b, 0]
    bi1 = boxes[b, 1]
    if bi0 > bi1 or y < boxes[b, 2] or y > boxes[b, 3]:
        return False, 0, -1, 0
    return True, bi0, bi1, offsets[b] + (y - boxes[b, 2]) * (bi1 - bi0 + 1) - bi0


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def drizzle_merge_var(boxes, offsets, acc_sw, acc_var_k, out_wht, out_var, x0, x1, y0, y1,
                      do_fill, fill):  # fmt: skip
    """Fold one variance sum into ``out_var`` (before ``out_wht`` is updated).

    ``out_var`` holds ``sum(w**2 v) / (sum w)**2``; each band's sums ``dW``,
    ``S2`` update it as ``(out_var W**2 + S2) / (W + dW)**2``, bands in the
    same order as :func:`drizzle_merge` so that both see the same ``W``.
    """
    for y in prange(y0, y1 + 1):
        wrun = out_wht[y, x0 : x1 + 1].astype(np.float64)
        for b in range(boxes.shape[0]):
            ok, bi0, bi1, base = _band_row(boxes, offsets, b, y)
            if not ok:
                continue
            for x in range(bi0, bi1 + 1):
                dw = np.float32(acc_sw[base + x, 1])
                if dw == 0.0:
                    continue
                wold = wrun[x - x0]
                wnew = np.float64(np.float32(wold + dw))
                wrun[x - x0] = wnew
                if wnew == 0.0:
                    if do_fill:
                        out_var[y, x] = fill
                elif wold == 0.0:
                    out_var[y, x] = acc_var_k[base + x] / (wnew * wnew)
                else:
                    out_var[y, x] = (out_var[y, x] * wold * wold + acc_var_k[base + x]) / (
                        wnew * wnew
                    )


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def drizzle_merge(
    boxes, offsets, acc_sw, acc_flag, acc_dq, out_img, out_wht,
    ctx, ctx_bit, out_dq, x0, x1, y0, y1, do_fill, fill,
):  # fmt: skip
    """Fold the band sums into the running weighted mean ``out_img``/``out_wht``.

    Band by band: ``out_img = (out_img W + S) / (W + dW)``, the weighted mean
    of what was there and the band's contributions.  Threads own output rows,
    so no two write the same pixel.  ``ctx`` (int32, shape (1, 1) when
    disabled) gets ``ctx_bit`` where some contribution had positive weight
    (``acc_flag``, or ``dW > 0`` when no weight can be negative and
    ``acc_flag`` is None); ``out_dq`` (shape (1, 1) when disabled) is OR-ed
    with the contributing DQ flags.  A pixel whose total weight returns to
    exactly zero (cancelling Lanczos lobes) gets ``fill`` when ``do_fill``:
    the merge is the only writer of ``out_img``, so the caller never needs
    another pass over the whole output.
    """
    use_ctx = ctx.shape[0] == out_img.shape[0] and ctx.shape[1] == out_img.shape[1]
    use_dq = out_dq.shape[0] == out_img.shape[0] and out_dq.shape[1] == out_img.shape[1]
    for y in prange(y0, y1 + 1):
        for b in range(boxes.shape[0]):
            ok, bi0, bi1, base = _band_row(boxes, offsets, b, y)
            if not ok:
                continue
            for x in range(bi0, bi1 + 1):
                k = base + x
                dw = np.float32(acc_sw[k, 1])
                if use_ctx:
                    if acc_flag is None:
                        if dw > 0.0:
                            ctx[y, x] |= ctx_bit
                    elif acc_flag[k] != 0:
                        ctx[y, x] |= ctx_bit
                if use_dq:
                    out_dq[y, x] |= acc_dq[k]
                if dw == 0.0:
                    continue
                wold = np.float64(out_wht[y, x])
                wnew = wold + dw
                if np.float32(wnew) == 0.0:
                    out_wht[y, x] = 0.0
                    if do_fill:
                        out_img[y, x] = fill
                    continue
                if wold == 0.0:
                    out_img[y, x] = acc_sw[k, 0] / dw
                else:
                    out_img[y, x] = (out_img[y, x] * wold + acc_sw[k, 0]) / wnew
                out_wht[y, x] = wnew
