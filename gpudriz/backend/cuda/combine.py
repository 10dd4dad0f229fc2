"""The CUDA driver of ``kernels/combine.cu``: the median step's combine of single-drizzled images.

Twin of the CPU driver :func:`gpudriz.fallback.combine.combine`, with the same arguments after
``ops`` (a :class:`gpudriz.backend.cuda.launch.Launcher` whose ``xp`` holds every array).
"""

from __future__ import annotations

from gpudriz.backend.arrays import to_host
from gpudriz.backend.cuda.launch import F32, F64, I32, as_i32
from gpudriz.backend.cuda.loader import needs_index64
from gpudriz.fallback.combine import MINMED, combine_code, counted_images, minmed_vectors, needs_scratch

__all__ = ["combine"]


def combine(ops, sci, wht, wht_min, out, combine_type, *, nlow=0, nhigh=0, lthresh=None,
            hthresh=None, exptime=None, sky=None, rdnoise=None, nsigma=(6.0, 3.0), grow=0,
            fill=0.0, count=None, nimages=None):  # fmt: skip
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
    ValueError
        ``nimages`` is fewer than the images in the stack.
    """
    xp = ops.xp
    code = combine_code(combine_type)
    n, ny, nx = sci.shape
    nimages = counted_images(n, nimages)
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
        as_i32(ny, "section height"), I32(code), as_i32(nlow, "nlow"),
        as_i32(nhigh, "nhigh"), as_i32(nimages, "nimages"),
        I32(lthresh is not None), F32(0.0 if lthresh is None else lthresh),
        I32(hthresh is not None), F32(0.0 if hthresh is None else hthresh),
        exp_v, sky_v, rn_v, F64(nsigma[0]), F64(nsigma[1]), F32(fill),
        scratch, out, med, mn, flags, count,
    )  # fmt: skip
    ops.launch("combine", "combine_pixels", npix, args, index64)
    if code == MINMED and int(grow) > 0:
        args = (
            flags, med, mn, as_i32(nx, "section width"), as_i32(ny, "section height"),
            as_i32(grow, "grow"), F32(fill), out,
        )  # fmt: skip
        ops.launch("combine", "combine_grow", npix, args, index64)
    return out


def _host(v):
    """``v`` as a NumPy array (None stays None); per-image vectors are tiny."""
    return None if v is None else to_host(v)
