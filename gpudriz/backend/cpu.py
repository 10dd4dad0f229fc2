"""The CPU backend's operations: the Numba drivers in :mod:`gpudriz.fallback`,
with the signatures every backend shares, and a memory check."""

from __future__ import annotations

from gpudriz.backend.cuda.ops import require_memory
from gpudriz.fallback.blot import blot  # noqa: F401
from gpudriz.fallback.combine import combine  # noqa: F401
from gpudriz.fallback.crreject import driz_cr  # noqa: F401
from gpudriz.fallback.drizzle import drizzle_add  # noqa: F401
from gpudriz.fallback.pixmap import interpolate_pixmap, interpolate_pixmap_tables  # noqa: F401


def free_bytes():
    """Bytes of memory available to new allocations (Linux ``MemAvailable``), or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_memory(nbytes, what):
    """Raise MemoryError if ``nbytes`` more would not fit in the available memory.

    Parameters
    ----------
    nbytes : int
        Size of the allocation about to be made.
    what : str
        What it is for, quoted in the error.
    """
    require_memory(nbytes, free_bytes(), what, "memory", MemoryError)
