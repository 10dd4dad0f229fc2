"""Numba in this process: how many threads the CPU backend's kernels use, per calling thread, and its start."""

from __future__ import annotations

import numba
import numpy as np

from gpudriz.backend import cpu

__all__ = ["limit_threads", "start_numba"]


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


def start_numba() -> None:
    """Start Numba in this process: its CPU target, its thread pool, and the kernel that steps call first.

    The first Numba kernel a process calls costs it ~1 s (measured on a Dask
    worker: Numba loading its compiler's registries and starting its threads,
    then the kernel from its cache), whichever kernel it is; the next ones
    load in tens of milliseconds.  The mosaic mode's local workers run this
    while the main process reads the inputs' headers, instead of in their
    first task.  The arguments are those of a chip's statistics (float32
    data, no mask), so that the kernel loaded is the one the steps use.
    """
    cpu.sample_moments(np.zeros(8, dtype=np.float32), None, -np.inf, np.inf, 0.0)
