"""The CUDA driver of ``kernels/stats.cu``: the pixel passes of the clipped statistics.

Twin of :func:`gpudriz.backend.cpu.sample_moments` and :func:`gpudriz.backend.cpu.window_histogram`
(the Numba passes of :mod:`gpudriz.fallback.stats`), with the same arguments after ``ops`` (a
:class:`gpudriz.backend.cuda.launch.Launcher` whose ``xp`` holds the data).  Only the five moments
and the histogram (a few hundred kilobytes) come back to the host.
"""

from __future__ import annotations

from gpudriz.backend import host
from gpudriz.backend.arrays import to_host
from gpudriz.backend.cuda.launch import F64, I64, as_i32
from gpudriz.backend.cuda.loader import needs_index64

__all__ = ["sample_moments", "window_histogram"]


def _flat_sample(xp, data, mask):
    flat = xp.ascontiguousarray(data).reshape(-1)
    if flat.dtype not in (xp.float32, xp.float64):
        flat = flat.astype(xp.float64)
    suffix = "f32" if flat.dtype == xp.float32 else "f64"
    m = None if mask is None else xp.ascontiguousarray(mask).reshape(-1).view(xp.uint8)
    return flat, m, suffix


def _index(n, index64):
    return I64(n) if index64 else as_i32(n, "number of pixels")


def sample_moments(ops, data, mask, lower, upper, ref):
    """Count, sums of ``v - ref`` and ``(v - ref)**2``, min and max of the sample, on the device.

    Kernel ``sample_moments_f32`` (or ``_f64``): one partial per thread of the launch, summed on
    the device by :func:`gpudriz.backend.host.reduce_moments`.
    """
    xp = ops.xp
    flat, m, suffix = _flat_sample(xp, data, mask)
    n = flat.size
    index64 = needs_index64(flat)
    partials = xp.zeros((ops.grid_for(n) * ops.block, 5), dtype=xp.float64)
    args = (flat, m, _index(n, index64), F64(lower), F64(upper), F64(ref), partials)
    ops.launch("stats", f"sample_moments_{suffix}", n, args, index64)
    return host.reduce_moments(partials)


def window_histogram(ops, data, mask, lower, upper, lo, width, nbins, ref):
    """Per-bin count and sums of the sample in ``nbins`` bins of ``width`` from ``lo``, on the device.

    Kernel ``window_histogram_f32`` (or ``_f64``), atomically into one histogram; returns host
    arrays ``(counts, sums, sumsq)`` (int64, float64, float64).
    """
    xp = ops.xp
    flat, m, suffix = _flat_sample(xp, data, mask)
    n = flat.size
    index64 = needs_index64(flat)
    counts = xp.zeros(int(nbins), dtype=xp.uint64)
    sums = xp.zeros(int(nbins), dtype=xp.float64)
    sumsq = xp.zeros(int(nbins), dtype=xp.float64)
    args = (flat, m, _index(n, index64), F64(lower), F64(upper), F64(lo), F64(width), F64(ref),
            as_i32(nbins, "number of bins"), counts, sums, sumsq)  # fmt: skip
    ops.launch("stats", f"window_histogram_{suffix}", n, args, index64)
    return to_host(counts).astype("int64"), to_host(sums), to_host(sumsq)
