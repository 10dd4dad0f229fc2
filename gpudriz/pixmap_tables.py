"""Lookup-table distortions (D2IM, NPOL) of an astropy WCS, as the fast pixmap applies them.

The "from" WCS's tables are not smooth (bilinear, a kink at every table pixel), so the fast
pixmap interpolates the nodes of the WCS without them (:func:`without_tables`) and the backend
applies them exactly at every pixel (``interpolate_pixmap_tables``), from the packed tables
(:func:`pack_tables`) and the Jacobians of the smooth map at the nodes (:func:`table_jacobians`).
"""

from __future__ import annotations

import copy

import numpy as np
from astropy.wcs import WCS

from gpudriz.fallback.pixmap import TABLE_PARAMS
from gpudriz.pixmap_grid import world_to_pixel_nodes

__all__ = ["TABLE_NAMES", "lookup_tables", "without_tables", "pack_tables", "table_jacobians"]

#: astropy's lookup-table distortions, in the kernels' order: D2IM (detector
#: to image, applied first) and NPOL (the distortion paper's CPDIS, added in
#: the focal plane with SIP).
TABLE_NAMES = ("det2im1", "det2im2", "cpdis1", "cpdis2")


def lookup_tables(wcs):
    """Names of the lookup-table distortions (D2IM, NPOL) an astropy WCS carries."""
    if not isinstance(wcs, WCS):
        return []
    return [n for n in TABLE_NAMES if getattr(wcs, n, None) is not None]


def without_tables(wcs):
    """A copy of an astropy WCS without its lookup tables: SIP and the core WCS only, smooth."""
    smooth = copy.deepcopy(wcs)
    for name in TABLE_NAMES:
        setattr(smooth, name, None)
    return smooth


def pack_tables(wcs, origin=(0, 0)):
    """The lookup tables of ``wcs`` as the kernels take them: ``(tables, tparams)``.

    ``tables`` holds every table's values (row-major, float64) one after the
    other; row ``k`` of ``tparams`` describes table ``TABLE_NAMES[k]`` (see
    :data:`gpudriz.fallback.pixmap.TABLE_PARAMS`), all zeros when absent.
    ``origin`` ``(ox, oy)``: the kernels' pixel ``(i, j)`` is the image's
    ``(i + ox, j + oy)`` (a part of the image, :func:`gpudriz.calc_pixmap`'s ``part``).
    """
    chunks = []
    tparams = np.zeros((len(TABLE_NAMES), TABLE_PARAMS), dtype=np.float64)
    offset = 0
    for k, name in enumerate(TABLE_NAMES):
        table = getattr(wcs, name, None)
        if table is None:
            continue
        data = np.asarray(table.data, dtype=np.float64)
        tny, tnx = data.shape
        (p1, p2), (v1, v2), (c1, c2) = table.crpix, table.crval, table.cdelt
        # astropy's table coordinate (x - crval) / cdelt + crpix - 1 as x * a + b
        # and the part's origin folded into b: (i + ox) * a + b = i * a + (b + ox * a)
        ox, oy = origin
        tparams[k] = (offset, tnx, tny, 1.0 / c1, p1 - 1.0 - (v1 - ox) / c1, 1.0 / c2, p2 - 1.0 - (v2 - oy) / c2)
        chunks.append(data.ravel())
        offset += data.size
    tables = np.concatenate(chunks) if chunks else np.zeros(1, dtype=np.float64)
    return tables, tparams


def table_jacobians(smooth, wcs_to, gx, gy, x0, y0, step):
    """``J_L`` and ``J_K`` at the nodes of a ``(gy, gx)`` grid from ``(x0, y0)`` every ``step`` px.

    ``J_L`` is the Jacobian of the table-free map (``smooth`` to ``wcs_to``),
    ``J_K`` that of the map from ``smooth``'s focal plane (where NPOL adds
    its offsets) to ``wcs_to``; central differences of 1 px, whose error
    (the map's third derivative) is far below 1e-6 of the Jacobian.
    """
    xg, yg = np.meshgrid(np.arange(gx, dtype=np.float64) * step + x0,
                         np.arange(gy, dtype=np.float64) * step + y0)  # fmt: skip
    px, py = xg.ravel(), yg.ravel()

    def through_wcs(x, y):
        return np.stack(world_to_pixel_nodes(wcs_to, smooth.pixel_to_world_values(x, y)), -1)

    def through_focal_plane(fx, fy):
        world = smooth.wcs_pix2world(np.column_stack([fx, fy]), 0)
        return np.stack(world_to_pixel_nodes(wcs_to, (world[:, 0], world[:, 1])), -1)

    foc = smooth.pix2foc(np.column_stack([px, py]), 0)
    fx, fy = foc[:, 0], foc[:, 1]
    jac = np.empty((gy * gx, 8), dtype=np.float64)
    for base, fn, u, v in ((0, through_wcs, px, py), (4, through_focal_plane, fx, fy)):
        ddx = (fn(u + 1.0, v) - fn(u - 1.0, v)) * 0.5
        ddy = (fn(u, v + 1.0) - fn(u, v - 1.0)) * 0.5
        jac[:, base + 0] = ddx[:, 0]
        jac[:, base + 1] = ddy[:, 0]
        jac[:, base + 2] = ddx[:, 1]
        jac[:, base + 3] = ddy[:, 1]
    return jac.reshape(gy, gx, 8)
