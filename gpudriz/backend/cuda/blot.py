"""The CUDA driver of ``kernels/blot.cu``: interpolate an image at the positions of a pixmap.

Twin of the CPU driver :func:`gpudriz.fallback.blot.blot`, with the same arguments after ``ops``
(a :class:`gpudriz.backend.cuda.launch.Launcher`).
"""

from __future__ import annotations

from gpudriz.backend.cuda.launch import F32, F64, I32, as_i32
from gpudriz.backend.cuda.loader import needs_index64
from gpudriz.fallback.blot import LANCZOS5, interp_code, lanczos_lut

__all__ = ["blot"]


def blot(ops, data, pixmap, out, interp, fillval, iscale, sinscl):
    """Interpolate ``data`` at every position of ``pixmap`` into ``out`` (kernel ``blot_kernel``).

    Same contract as :func:`gpudriz.fallback.blot.blot`; all arrays are
    C-contiguous ``ops.xp`` arrays (float32 data/out, float64 pixmap).
    """
    xp = ops.xp
    code = interp_code(interp)
    lut = xp.asarray(lanczos_lut(5 if code == LANCZOS5 else 3))
    ny, nx = data.shape
    ony, onx = out.shape
    args = (
        data, as_i32(nx, "data width"), as_i32(ny, "data height"), pixmap, out,
        as_i32(onx, "output width"), as_i32(ony, "output height"), I32(code),
        F32(fillval), F64(iscale), F64(sinscl), lut, I32(lut.shape[0]),
    )  # fmt: skip
    ops.launch("blot", "blot_kernel", onx * ony, args, needs_index64(data, pixmap))
    return out
