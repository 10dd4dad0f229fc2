"""Slow, obviously correct NumPy twins of the drizzle kernels.

Written independently of :mod:`gpudriz.fallback.drizzle`: the square kernel
clips the mapped quadrilateral against each output pixel with
Sutherland-Hodgman and measures the clipped polygon with the shoelace formula
(no boxer/sgarea); the other kernels follow their textbook definitions.
Output is ``sum(w d) / sum(w)`` accumulated in float64; pixels without weight
are NaN.  Only for small images.
"""

import math

import numpy as np

LUT_DELTA = 0.003


def bilinear(pixmap, x, y):
    """Pixmap at (x, y), bilinear inside, linear extrapolation from the border cells."""
    ny, nx = pixmap.shape[:2]
    i0 = min(max(int(math.trunc(x)), 0), nx - 2)
    j0 = min(max(int(math.trunc(y)), 0), ny - 2)
    fx, fy = x - i0, y - j0
    p = pixmap
    return (
        p[j0, i0] * (1 - fx) * (1 - fy)
        + p[j0, i0 + 1] * fx * (1 - fy)
        + p[j0 + 1, i0] * (1 - fx) * fy
        + p[j0 + 1, i0 + 1] * fx * fy
    )


def polygon_area(poly):
    """Signed shoelace area."""
    if len(poly) < 3:
        return 0.0
    a = 0.0
    for k in range(len(poly)):
        x1, y1 = poly[k]
        x2, y2 = poly[(k + 1) % len(poly)]
        a += x1 * y2 - x2 * y1
    return 0.5 * a


def clip(poly, inside, intersect):
    out = []
    for k in range(len(poly)):
        cur, prev = poly[k], poly[k - 1]
        if inside(cur):
            if not inside(prev):
                out.append(intersect(prev, cur))
            out.append(cur)
        elif inside(prev):
            out.append(intersect(prev, cur))
    return out


def clip_to_box(poly, x0, x1, y0, y1):
    """Sutherland-Hodgman clipping of a polygon to an axis-aligned box."""

    def ix(xc):
        return lambda p, q: (xc, p[1] + (q[1] - p[1]) * (xc - p[0]) / (q[0] - p[0]))

    def iy(yc):
        return lambda p, q: (p[0] + (q[0] - p[0]) * (yc - p[1]) / (q[1] - p[1]), yc)

    for inside, inter in (
        (lambda p: p[0] >= x0, ix(x0)),
        (lambda p: p[0] <= x1, ix(x1)),
        (lambda p: p[1] >= y0, iy(y0)),
        (lambda p: p[1] <= y1, iy(y1)),
    ):
        poly = clip(poly, inside, inter)
        if not poly:
            return []
    return poly


def lanczos_lut(order):
    n = int(math.ceil(order / LUT_DELTA)) + 1
    lut = np.zeros(n)
    for k in range(n):
        x = k * LUT_DELTA
        lut[k] = 1.0 if k == 0 else (np.sinc(x) * np.sinc(x / order) if x <= order else 0.0)
    return lut


def nint(x):
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def naive_drizzle(data, pixmap, out_shape, kernel="square", pixfrac=1.0, scale=1.0,
                  weights=None, iscale=1.0):  # fmt: skip
    """Drizzle one image; returns (img, wht, touched) with img NaN where wht == 0.

    ``touched`` marks output pixels that received a positive weight.
    """
    ny, nx = data.shape
    oy, ox = out_shape
    s_img = np.zeros(out_shape)
    s_wht = np.zeros(out_shape)
    touched = np.zeros(out_shape, bool)
    w_in = np.ones_like(data, dtype=np.float64) if weights is None else weights
    lut = lanczos_lut(2 if kernel == "lanczos2" else 3) if kernel.startswith("lanczos") else None

    def add(ii, jj, w, d):
        if 0 <= ii < ox and 0 <= jj < oy and w != 0:
            s_img[jj, ii] += w * d
            s_wht[jj, ii] += w
            touched[jj, ii] |= w > 0

    for j in range(ny):
        for i in range(nx):
            d = float(data[j, i]) * iscale
            w = float(w_in[j, i])
            if not (np.isfinite(d) and np.isfinite(w)):
                continue
            cx, cy = pixmap[j, i]
            if kernel == "square":
                h = pixfrac / 2
                quad = [tuple(bilinear(pixmap, i + a, j + b)) for a, b in
                        ((-h, -h), (h, -h), (h, h), (-h, h))]  # fmt: skip
                area = abs(polygon_area(quad))
                xs = [p[0] for p in quad]
                ys = [p[1] for p in quad]
                for jj in range(int(math.floor(min(ys))) - 1, int(math.ceil(max(ys))) + 2):
                    for ii in range(int(math.floor(min(xs))) - 1, int(math.ceil(max(xs))) + 2):
                        part = clip_to_box(quad, ii - 0.5, ii + 0.5, jj - 0.5, jj + 0.5)
                        a = abs(polygon_area(part))
                        if a > 0:
                            add(ii, jj, w * a / area, d)
            elif kernel == "point":
                add(nint(cx), nint(cy), w, d)
            elif kernel == "turbo":
                hw = pixfrac / scale / 2
                for jj in range(nint(cy - hw) - 1, nint(cy + hw) + 2):
                    for ii in range(nint(cx - hw) - 1, nint(cx + hw) + 2):
                        dx = min(cx + hw, ii + 0.5) - max(cx - hw, ii - 0.5)
                        dy = min(cy + hw, jj + 0.5) - max(cy - hw, jj - 0.5)
                        if dx > 0 and dy > 0:
                            add(ii, jj, w * dx * dy / (2 * hw) ** 2, d)
            elif kernel == "tophat":
                r = pixfrac / scale / 2
                for jj in range(int(cy - r) - 2, int(cy + r) + 3):
                    for ii in range(int(cx - r) - 2, int(cx + r) + 3):
                        if (cx - ii) ** 2 + (cy - jj) ** 2 <= r * r:
                            add(ii, jj, w, d)
            elif kernel == "gaussian":
                sig = pixfrac / 2.3548 / scale
                efac = 1.0 / (2 * sig * sig)
                hw = max(2.5 * sig, 1.2 / scale)
                for jj in range(nint(cy - hw), nint(cy + hw) + 1):
                    for ii in range(nint(cx - hw), nint(cx + hw) + 1):
                        r2 = (cx - ii) ** 2 + (cy - jj) ** 2
                        add(ii, jj, w * efac / math.pi * math.exp(-r2 * efac), d)
            else:  # lanczos2/3 from the same table spacing cdrizzle uses
                order = 2 if kernel == "lanczos2" else 3
                hw = order / scale
                for jj in range(int(math.floor(cy - hw)) + 1, int(math.floor(cy + hw)) + 1):
                    for ii in range(int(math.floor(cx - hw)) + 1, int(math.floor(cx + hw)) + 1):
                        kx = nint(abs(cx - ii) * scale / LUT_DELTA)
                        ky = nint(abs(cy - jj) * scale / LUT_DELTA)
                        if kx < lut.size and ky < lut.size:
                            add(ii, jj, w * lut[kx] * lut[ky], d)
    with np.errstate(invalid="ignore", divide="ignore"):
        img = np.where(s_wht != 0, s_img / np.where(s_wht != 0, s_wht, 1), np.nan)
    return img, s_wht, touched
