"""Top-level task functions for tests/pipeline/test_execution.py (importable by Dask workers)."""

import os
import sys
import time
from pathlib import Path

import numpy as np


def work(item, scale=1.0):
    return float(np.random.default_rng(item).normal(size=1000).sum() * scale)


def pid(item):
    return os.getpid()


def fail(item):
    if item == 2:
        raise ValueError(f"task {item} failed")
    return item


def die_once(item, folder):
    marker = Path(folder) / "died"
    if item == 1 and not marker.exists():
        marker.write_text("x")
        os._exit(1)
    return item * 10


def numba_threads(item):
    """The Numba threads a task runs its kernels on."""
    import numba

    return numba.get_num_threads()


def environment(item, name):
    return os.environ.get(name)


def imported(name):
    """Whether module ``name`` is imported in this process."""
    return name in sys.modules


def numba_started():
    """Whether this process has loaded the kernel the steps call first (gpudriz.backend.cpu_threads.start_numba)."""
    from gpudriz.fallback import stats

    return bool(stats.sample_moments.signatures)


def results_held(item, last, stage):
    """On a Dask worker, for item ``last``: how many of ``stage``'s batch results the worker still holds.

    Waits up to 10 s for the releases of the batches gathered before (they reach the worker
    a moment after the client has the results); other items return 0.
    """
    import distributed

    if item != last:
        return 0
    worker = distributed.get_worker()
    deadline = time.monotonic() + 10.0
    while True:
        held = sum(1 for key in list(worker.data) if str(key).startswith(f"{stage}-"))
        if held == 0 or time.monotonic() > deadline:
            return held
        time.sleep(0.05)


def held_result_types(stage, dask_worker):
    """The types of ``stage``'s batch results a Dask worker holds (``client.run`` passes the worker)."""
    return [type(value).__name__ for key, value in list(dask_worker.data.items()) if str(key).startswith(f"{stage}-")]


def echo(item):
    return item
