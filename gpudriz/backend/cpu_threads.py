"""How many threads the CPU backend's Numba kernels use, per calling thread."""

from __future__ import annotations

import numba

__all__ = ["limit_threads"]


def limit_threads(n: int) -> int:
    """Let the Numba kernels called from this thread use at most ``n`` threads; returns the number set.

    ``NUMBA_NUM_THREADS`` is read once, when Numba is first imported: a Dask
    worker process that imported it before its environment was applied (a
    spawned process re-imports the main script) keeps one thread per core,
    and N such workers on a machine spin N times more threads than it has
    cores.  Numba's thread count is per calling thread, so a task calls this
    in the thread that runs it.
    """
    n = max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(n)
    return n
