"""CUDA drivers of the pipeline's per-pixel steps: the median combine and driz_cr.

Twins of the CPU drivers :func:`gpudriz.fallback.combine.combine` and
:func:`gpudriz.fallback.crreject.driz_cr`, with the same arguments after
``ops``, a :class:`gpudriz.backend.cuda.ops.KernelOps` whose array module
(``ops.xp``) holds every array and whose ``_launch`` runs the kernels of
``kernels/combine.cu`` and ``kernels/crreject.cu``.  As in
:mod:`gpudriz.backend.cuda.ops`, scalars go to the kernels as NumPy scalars of the
exact C parameter type and None stands for a NULL pointer, so the test suite
runs these drivers unchanged on NumPy with the host-compiled sources.
"""

from __future__ import annotations

import numpy as np

from gpudriz.backend.arrays import to_host
from gpudriz.backend.cuda.loader import needs_index64
from gpudriz.backend.cuda.ops import as_i32
from gpudriz.fallback.combine import MINMED, combine_code, minmed_vectors, needs_scratch

__all__ = ["combine", "driz_cr"]

_I32 = np.int32
_F32 = np.float32
_F64 = np.float64


def combine(ops, sci, wht, wht_min, out, combine_type, *, nlow=0, nhigh=0, lthresh=None,
            hthresh=None, exptime=None, sky=None, rdnoise=None, nsigma=(6.0, 3.0), grow=0,
            fill=0.0, count=None):  # fmt: skip
    """Combine a row section of single-drizzled images into ``out`` on the device.

    Same contract as :func:`gpudriz.fallback.combine.combine` (see its
    parameters); ``sci``, ``wht`` (n, ny, nx) float32 and ``out`` (ny, nx)
    float32 and ``count`` (ny, nx) int32 are C-contiguous ``ops.xp`` arrays,
    the per-image vectors may be host or device arrays.  Kernels
    ``combine_pixels`` and, for minmed with ``grow > 0``, ``combine_grow``.

    Raises
    ------
    gpudriz.backend.DeviceMemoryError
        If the scratch stack used for sorting does not fit in device memory.
    """
    xp = ops.xp
    code = combine_code(combine_type)
    n, ny, nx = sci.shape
    npix = ny * nx
    wht_min = xp.ascontiguousarray(xp.asarray(wht_min, dtype=xp.float32))
    scratch = None
    if needs_scratch(code, nlow, nhigh):
        ops.check_memory(4 * n * npix, "the median's sorting stack")
        scratch = xp.empty((n, ny, nx), dtype=xp.float32)
    exp_v = sky_v = rn_v = med = mn = flags = None
    if code == MINMED:
        vecs = minmed_vectors(n, _host(exptime), _host(sky), _host(rdnoise))
        exp_v, sky_v, rn_v = (xp.asarray(v) for v in vecs)
        med = xp.empty((ny, nx), dtype=xp.float32)
        mn = xp.empty((ny, nx), dtype=xp.float32)
        flags = xp.empty((ny, nx), dtype=xp.uint8)
    index64 = needs_index64(sci, wht)
    args = (
        sci, wht, wht_min, as_i32(n, "number of images"), as_i32(nx, "section width"),
        as_i32(ny, "section height"), _I32(code), as_i32(nlow, "nlow"),
        as_i32(nhigh, "nhigh"),
        _I32(lthresh is not None), _F32(0.0 if lthresh is None else lthresh),
        _I32(hthresh is not None), _F32(0.0 if hthresh is None else hthresh),
        exp_v, sky_v, rn_v, _F64(nsigma[0]), _F64(nsigma[1]), _F32(fill),
        scratch, out, med, mn, flags, count,
    )  # fmt: skip
    ops._launch("combine", "combine_pixels", npix, args, index64)
    if code == MINMED and int(grow) > 0:
        args = (
            flags, med, mn, as_i32(nx, "section width"), as_i32(ny, "section height"),
            as_i32(grow, "grow"), _F32(fill), out,
        )  # fmt: skip
        ops._launch("combine", "combine_grow", npix, args, index64)
    return out


def driz_cr(ops, data, blot, rdnoise, out_mask, *, gain=1.0, snr=(3.0, 2.5), scale=(1.2, 0.7),
            grow=0, good=None, median_var=None):  # fmt: skip
    """Flag the cosmic rays of one chip into ``out_mask`` on the device.

    Same contract as :func:`gpudriz.fallback.crreject.driz_cr` (see its
    parameters); every array is a C-contiguous ``ops.xp`` array (float32
    images and ``median_var``, uint8 ``good`` and ``out_mask``).  Kernels ``crr_flags``,
    ``crr_combine`` and, for ``grow > 0``, ``crr_grow``.
    """
    xp = ops.xp
    ny, nx = data.shape
    npix = ny * nx
    index64 = needs_index64(data)
    w, h = as_i32(nx, "chip width"), as_i32(ny, "chip height")
    flags = xp.empty((ny, nx), dtype=xp.uint8)
    args = (
        data, blot, rdnoise, median_var, good, w, h, _F64(gain), _F64(snr[0]), _F64(snr[1]),
        _F64(scale[0]), _F64(scale[1]), flags,
    )  # fmt: skip
    ops._launch("crreject", "crr_flags", npix, args, index64)
    if int(grow) <= 0:
        ops._launch("crreject", "crr_combine", npix, (flags, w, h, out_mask), index64)
        return out_mask
    cr = xp.empty((ny, nx), dtype=xp.uint8)
    ops._launch("crreject", "crr_combine", npix, (flags, w, h, cr), index64)
    args = (cr, good, w, h, as_i32(grow, "grow"), out_mask)
    ops._launch("crreject", "crr_grow", npix, args, index64)
    return out_mask


def _host(v):
    """``v`` as a NumPy array (None stays None); per-image vectors are tiny."""
    return None if v is None else to_host(v)
