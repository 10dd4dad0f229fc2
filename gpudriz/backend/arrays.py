"""Host and device arrays: telling them apart and moving them, without importing CuPy.

The public functions follow one rule: NumPy in, NumPy out; CuPy in, CuPy out.
A backend computes on its own array module (``Backend.xp``); these helpers
convert at the boundary only, so that data already on the device never makes
a hidden round trip through the host (design principle 3).
"""

from __future__ import annotations

import numpy as np

__all__ = ["is_device_array", "to_xp", "to_host", "to_device", "copy_into"]


def is_device_array(a) -> bool:
    """True for a CUDA device array (CuPy, or anything exposing ``__cuda_array_interface__``)."""
    return not isinstance(a, np.ndarray) and hasattr(a, "__cuda_array_interface__")


def to_host(a):
    """``a`` as a NumPy array (a device array is copied to the host)."""
    if is_device_array(a):
        return a.get() if hasattr(a, "get") else np.asarray(a)
    return np.asarray(a)


def to_device(a):
    """``a`` as a CuPy array (a NumPy array is copied to the current device)."""
    if is_device_array(a):
        return a
    import cupy

    return cupy.asarray(a)


def to_xp(a, xp, dtype=None):
    """``a`` as a C-contiguous array of module ``xp`` (copied only when needed).

    Parameters
    ----------
    a : array_like
        NumPy or device array, or anything NumPy accepts.
    xp : module
        ``numpy`` or ``cupy``.
    dtype : dtype, optional
        Convert to this dtype.
    """
    if xp is np:
        return np.ascontiguousarray(to_host(a), dtype=dtype)
    return xp.ascontiguousarray(xp.asarray(a), dtype=dtype)


def copy_into(dst, src):
    """Copy ``src`` into the existing array ``dst``, across host and device as needed."""
    if is_device_array(dst):
        if not is_device_array(src):
            import cupy

            src = cupy.asarray(src)
        dst[...] = src
    else:
        dst[...] = to_host(src)
