"""The CUDA backend's operations: :class:`KernelOps`, one driver module per ``kernels/X.cu``.

:class:`KernelOps` is a :class:`~gpudriz.backend.cuda.launch.Launcher` whose methods are the
drivers of :mod:`gpudriz.backend.cuda.drizzle`, :mod:`~gpudriz.backend.cuda.blot`,
:mod:`~gpudriz.backend.cuda.pixmap`, :mod:`~gpudriz.backend.cuda.combine`,
:mod:`~gpudriz.backend.cuda.crreject` and :mod:`~gpudriz.backend.cuda.stats`: each driver takes the launcher as its first argument, so it
is bound here as a method, with the signature of :class:`gpudriz.backend.protocol.Operations`.
With CuPy and :func:`gpudriz.backend.cuda.loader.get_module` it drives a GPU.  The test suite
builds the same class on NumPy and the g++-compiled kernel sources (``tests/helpers/cuda_host.py``),
so these drivers and the kernel sources both run in CI, which has no GPU.
"""

from __future__ import annotations

from gpudriz.backend.cuda import blot as blot_driver
from gpudriz.backend.cuda import combine as combine_driver
from gpudriz.backend.cuda import crreject as crreject_driver
from gpudriz.backend.cuda import drizzle as drizzle_driver
from gpudriz.backend.cuda import pixmap as pixmap_driver
from gpudriz.backend.cuda import stats as stats_driver
from gpudriz.backend.cuda.launch import Launcher

__all__ = ["KernelOps"]


class KernelOps(Launcher):
    """The operations of the CUDA backend for one array module and one kernel loader.

    Parameters are those of :class:`~gpudriz.backend.cuda.launch.Launcher`.
    """

    drizzle_add = drizzle_driver.drizzle_add
    blot = blot_driver.blot
    interpolate_pixmap = pixmap_driver.interpolate_pixmap
    interpolate_pixmap_tables = pixmap_driver.interpolate_pixmap_tables
    combine = combine_driver.combine
    driz_cr = crreject_driver.driz_cr
    sample_moments = stats_driver.sample_moments
    window_histogram = stats_driver.window_histogram
