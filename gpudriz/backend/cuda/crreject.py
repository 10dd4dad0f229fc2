"""The CUDA driver of ``kernels/crreject.cu``: driz_cr's cosmic-ray test of one chip.

Twin of the CPU driver :func:`gpudriz.fallback.crreject.driz_cr`, with the same arguments after
``ops`` (a :class:`gpudriz.backend.cuda.launch.Launcher` whose ``xp`` holds every array).
"""

from __future__ import annotations

from gpudriz.backend.cuda.launch import F64, as_i32
from gpudriz.backend.cuda.loader import needs_index64

__all__ = ["driz_cr"]


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
        data, blot, rdnoise, median_var, good, w, h, F64(gain), F64(snr[0]), F64(snr[1]),
        F64(scale[0]), F64(scale[1]), flags,
    )  # fmt: skip
    ops.launch("crreject", "crr_flags", npix, args, index64)
    if int(grow) <= 0:
        ops.launch("crreject", "crr_combine", npix, (flags, w, h, out_mask), index64)
        return out_mask
    cr = xp.empty((ny, nx), dtype=xp.uint8)
    ops.launch("crreject", "crr_combine", npix, (flags, w, h, cr), index64)
    args = (cr, good, w, h, as_i32(grow, "grow"), out_mask)
    ops.launch("crreject", "crr_grow", npix, args, index64)
    return out_mask
