"""The CPU backend's operations: the Numba drivers of :mod:`gpudriz.fallback`.

The operations of :class:`gpudriz.backend.protocol.Operations`, with the signatures every backend
shares.  Blot, the pixmap interpolation, the median combine and the cosmic-ray test are the
drivers in :mod:`gpudriz.fallback` themselves; drizzle's driver is here, because it applies the
host-side rules it shares with the CUDA driver (:mod:`gpudriz.backend.host`) around the Numba
kernels of :mod:`gpudriz.fallback.drizzle`.
"""

from __future__ import annotations

import numba
import numpy as np

from gpudriz.backend import host
from gpudriz.backend.memory import host_free_bytes, require_memory
from gpudriz.fallback import stats as fallback_stats
from gpudriz.fallback.blot import blot
from gpudriz.fallback.combine import combine
from gpudriz.fallback.crreject import driz_cr
from gpudriz.fallback.drizzle import (
    drizzle_bands,
    drizzle_merge,
    drizzle_merge_var,
    drizzle_node_stats,
)
from gpudriz.fallback.pixmap import interpolate_pixmap, interpolate_pixmap_tables

__all__ = ["drizzle_add", "blot", "interpolate_pixmap", "interpolate_pixmap_tables", "combine",
           "driz_cr", "sample_moments", "window_histogram", "free_bytes", "check_memory"]  # fmt: skip


def free_bytes():
    """Bytes of host memory available to new allocations (Linux ``MemAvailable``), or None."""
    return host_free_bytes()


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


def _band_rows(ymin, ymax, nbands):
    nrows = ymax - ymin + 1
    nbands = max(1, min(nbands, nrows))
    return np.linspace(ymin, ymax + 1, nbands + 1).round().astype(np.int64)


def drizzle_add(
    kernel, data, weights, pixmap, out_img, out_wht, ctx, ctx_bit,
    data2=None, out_img2=None, dq=None, out_dq=None,
    iscale=1.0, pscale_ratio=1.0, pixfrac=1.0, wht_scale=1.0,
    xmin=0, xmax=None, ymin=0, ymax=None, fillval=None, fillval2=None, nbands=None,
):  # fmt: skip
    """Drizzle one image onto the output arrays, in place, with the Numba kernels.

    The kernels of :mod:`gpudriz.fallback.drizzle`, one private buffer per row band, then the
    row-parallel merge.

    Parameters
    ----------
    kernel : str
        One of :data:`gpudriz.fallback.drizzle.KERNEL_NAMES`.
    data, weights : ndarray, float32, shape (ny, nx)
        Input image (already in the output's units) and its weights.
    pixmap : ndarray, float64, shape (ny, nx, 2)
        Output-frame (x, y) of every input pixel centre.
    out_img, out_wht : ndarray, float32, shape (Ny, Nx)
        Running weighted mean and total weight, updated in place.
    ctx : ndarray of int32, shape (Ny, Nx), or None
        Context plane receiving ``ctx_bit`` (an int32 with one bit set).
    data2 : ndarray, float32, shape (n2, ny, nx), or None
        Arrays co-added with squared weights (variances).
    out_img2 : sequence of n2 float32 (Ny, Nx) arrays, or None
    dq, out_dq : uint32 arrays or None
        Input DQ flags, OR-ed into ``out_dq`` where a pixel contributes.
    iscale, pscale_ratio, pixfrac, wht_scale : float
        Data scale (units already folded in), kernel size scale, drop size,
        weight scale.
    xmin, xmax, ymin, ymax : int
        Inclusive box of input pixels to use.
    fillval, fillval2 : float or None
        Value given to ``out_img`` / ``out_img2`` pixels whose total weight
        becomes zero here (None: leave them).  Pixels this image does not
        reach are not touched.
    nbands : int, optional
        Number of row bands (default: Numba's thread count).  Tests set it to
        exercise many bands on small inputs.

    Returns
    -------
    nmiss, nskip, nbad : int
        Input pixels that reached no output pixel, input rows of which no
        pixel did, and pixels skipped for non-finite data/weight/variance.
    """
    p = host.drizzle_params(kernel, pixfrac, pscale_ratio, iscale, wht_scale)
    kcode = p.kcode
    ny, nx = data.shape
    out_ny, out_nx = out_img.shape
    xmax = nx - 1 if xmax is None else xmax
    ymax = ny - 1 if ymax is None else ymax
    if nbands is None:
        nbands = numba.get_num_threads()
    n2 = 0 if data2 is None else data2.shape[0]
    weights = host.fold_nonfinite_variance(weights, data2, np)

    rows = _band_rows(ymin, ymax, nbands)
    nb = rows.shape[0] - 1
    stats = np.empty((nb, 6), dtype=np.float64)
    drizzle_node_stats(pixmap, xmin, xmax, rows, stats)
    if stats[:, 5].any():
        # Infinite nodes: unmapped as NaN (the shared rule), then measured again.
        pixmap = host.finite_pixmap(pixmap, np)
        drizzle_node_stats(pixmap, xmin, xmax, rows, stats)
    boxes = np.empty((nb, 4), dtype=np.int64)
    for b in range(nb):
        box = host.footprint_box(*stats[b, :5], p, out_nx, out_ny)
        # An empty band clips every window away (bx1 < bx0): it writes nothing.
        boxes[b] = (0, -1, 0, -1) if box is None else box
    sizes = np.where(
        (boxes[:, 0] <= boxes[:, 1]) & (boxes[:, 2] <= boxes[:, 3]),
        (boxes[:, 1] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 2] + 1),
        0,
    )
    offsets = np.zeros(nb, dtype=np.int64)
    offsets[1:] = np.cumsum(sizes)[:-1]
    total = int(sizes.sum())
    row_miss = np.zeros(ymax - ymin + 1, dtype=np.int64)
    row_bad = np.zeros(ymax - ymin + 1, dtype=np.int64)
    if total > 0:
        acc_sw = np.zeros((total, 2), dtype=np.float64)
        acc_var = np.zeros((n2, total if n2 else 1), dtype=np.float64)
        # Context needs its own flag only where a weight can be negative.
        negative = host.may_have_negative_weights(p, weights, np)
        acc_flag = np.zeros(total, dtype=np.uint8) if negative and ctx is not None else None
        acc_dq = np.zeros(total if dq is not None else 1, dtype=np.uint32)
        drizzle_bands(
            kcode, data, weights, pixmap, data2, dq, xmin, xmax, rows,
            p.iscale, p.iscale2, p.wht_scale, p.pf, p.s, p.lut, out_nx, out_ny,
            boxes, offsets, acc_sw, acc_var, acc_flag, acc_dq, row_miss, row_bad,
        )  # fmt: skip
        live = sizes > 0
        x0 = int(boxes[live, 0].min())
        x1 = int(boxes[live, 1].max())
        y0 = int(boxes[live, 2].min())
        y1 = int(boxes[live, 3].max())
        for k in range(n2):
            drizzle_merge_var(boxes, offsets, acc_sw, acc_var[k], out_wht, out_img2[k],
                              x0, x1, y0, y1, fillval2 is not None,
                              np.nan if fillval2 is None else float(fillval2))  # fmt: skip
        ctx_arr = ctx if ctx is not None else np.zeros((1, 1), dtype=np.int32)
        # Without input DQ there is nothing to OR in (and acc_dq is a 1-cell stub).
        odq = out_dq if out_dq is not None and dq is not None else np.zeros((1, 1), np.uint32)
        drizzle_merge(
            boxes, offsets, acc_sw, acc_flag, acc_dq, out_img, out_wht,
            ctx_arr, np.int32(ctx_bit), odq, x0, x1, y0, y1,
            fillval is not None, np.nan if fillval is None else float(fillval),
        )  # fmt: skip
    else:
        # Nothing lands on the output: every pixel of the box is a miss.
        row_miss[:] = xmax - xmin + 1
        # A non-finite pixel is still counted, even off the output.
        bad = ~np.isfinite(data[ymin : ymax + 1, xmin : xmax + 1])
        row_bad[:] = bad.sum(axis=1)
    nmiss = int(row_miss.sum())
    nskip = int(np.count_nonzero(row_miss == (xmax - xmin + 1)))
    return nmiss, nskip, int(row_bad.sum())


#: Chunks of the moments pass and (at most) of the histogram pass: fixed by the sample's size,
#: never by the thread count, so the float64 sums are added in the same order, and the results
#: are the same, on every machine.
MOMENT_CHUNKS = 64
HISTOGRAM_CHUNKS = 16
#: Pixels per bin a histogram chunk holds at least: each chunk clears and adds its own
#: ``nbins`` bins, which for a small sample cost far more than the pass (16 chunks of 65,536
#: bins are 24 MB to clear and add for the 8,192 pixels of a 64 x 128 chip).
HISTOGRAM_PIXELS_PER_BIN = 4


def histogram_chunks(npix: int, nbins: int) -> int:
    """Chunks of the histogram pass over ``npix`` values in ``nbins`` bins (1 to :data:`HISTOGRAM_CHUNKS`)."""
    return max(1, min(HISTOGRAM_CHUNKS, npix // (HISTOGRAM_PIXELS_PER_BIN * nbins)))


def _flat_sample(data, mask):
    flat = np.ascontiguousarray(data).reshape(-1)
    if flat.dtype not in (np.float32, np.float64):
        flat = flat.astype(np.float64)
    if mask is None:
        return flat, np.zeros(1, dtype=np.uint8), False
    return flat, np.ascontiguousarray(mask).reshape(-1).view(np.uint8), True


def sample_moments(data, mask, lower, upper, ref):
    """Count, sums of ``v - ref`` and ``(v - ref)**2``, min and max of the sample (see :mod:`gpudriz.fallback.stats`)."""
    flat, m, use = _flat_sample(data, mask)
    partials = np.empty((MOMENT_CHUNKS, 5))
    fallback_stats.sample_moments(flat, m, use, float(lower), float(upper), float(ref), partials)
    return host.reduce_moments(partials)


def window_histogram(data, mask, lower, upper, lo, width, nbins, ref):
    """Per-bin count and sums of the sample in ``nbins`` bins of ``width`` from ``lo``."""
    flat, m, use = _flat_sample(data, mask)
    chunks = histogram_chunks(flat.size, nbins)
    counts = np.empty((chunks, nbins), dtype=np.int64)
    sums = np.empty((chunks, nbins))
    sumsq = np.empty((chunks, nbins))
    fallback_stats.window_histogram(flat, m, use, float(lower), float(upper), float(lo), float(width), float(ref),
                             counts, sums, sumsq)
    return counts.sum(axis=0), sums.sum(axis=0), sumsq.sum(axis=0)
