"""The CUDA driver of ``kernels/drizzle.cu``: drizzle one image onto the output, on the device.

Twin of the CPU driver :func:`gpudriz.backend.cpu.drizzle_add`, with the same arguments after
``ops`` (a :class:`gpudriz.backend.cuda.launch.Launcher` whose ``xp`` holds every array).

One thread per input pixel adds ``w*d``, ``w`` (and ``w**2 v``, DQ and context flags) atomically
into buffers covering the chip's output footprint; then one thread per footprint pixel folds them
into the running weighted mean, exactly as the CPU merge does for one band (design principle 4).
When the buffers would not fit in free device memory the input rows are split into bands, each with
its own (smaller) footprint, accumulated and merged in turn; if even a single row's footprint does
not fit, :class:`gpudriz.backend.DeviceMemoryError` says so.
"""

from __future__ import annotations

import numpy as np

from gpudriz.backend import host
from gpudriz.backend.cuda.launch import F32, F64, I32, I64, as_i32
from gpudriz.backend.cuda.loader import needs_index64
from gpudriz.backend.errors import DeviceMemoryError
from gpudriz.backend.memory import format_bytes
from gpudriz.fallback.drizzle import KERNEL_ENTRIES

__all__ = ["drizzle_add", "MEMORY_FRACTION"]

#: Fraction of the free device memory the drizzle buffers may take.
MEMORY_FRACTION = 0.8


def _footprint(ops, params, pixmap, xmin, xmax, r0, r1, out_nx, out_ny):
    """Output box ``(ii0, ii1, jj0, jj1)`` holding every write of input rows ``r0 .. r1-1``.

    The node statistics of :func:`gpudriz.fallback.drizzle.drizzle_node_stats`,
    from reductions over the band's pixmap nodes (and their neighbours),
    turned into a box by the bound both drivers share
    (:func:`gpudriz.backend.host.footprint_box`).  None when the band
    can reach no output pixel.
    """
    xp = ops.xp
    ny, nx = pixmap.shape[:2]
    j0 = max(r0 - 1, 0)
    j1 = min(r1, ny - 1)
    i0 = max(xmin - 1, 0)
    i1 = min(xmax + 1, nx - 1)
    sub = pixmap[j0 : j1 + 1, i0 : i1 + 1]
    x = sub[..., 0]
    y = sub[..., 1]
    ok = ~(xp.isnan(x) | xp.isnan(y))  # every other node is finite (finite_pixmap)
    if not bool(ok.any()):
        return None
    xlo = float(xp.where(ok, x, xp.inf).min())
    xhi = float(xp.where(ok, x, -xp.inf).max())
    ylo = float(xp.where(ok, y, xp.inf).min())
    yhi = float(xp.where(ok, y, -xp.inf).max())
    step = 0.0
    if x.shape[1] > 1:
        d = xp.abs(x[:, 1:] - x[:, :-1]) + xp.abs(y[:, 1:] - y[:, :-1])
        both = ok[:, 1:] & ok[:, :-1]
        if bool(both.any()):
            step = max(step, float(xp.where(both, d, 0.0).max()))
    if x.shape[0] > 1:
        d = xp.abs(x[1:] - x[:-1]) + xp.abs(y[1:] - y[:-1])
        both = ok[1:] & ok[:-1]
        if bool(both.any()):
            step = max(step, float(xp.where(both, d, 0.0).max()))
    return host.footprint_box(xlo, xhi, ylo, yhi, step, params, out_nx, out_ny)


def _cell_bytes(n2, flag, dq):
    """Bytes per footprint pixel of the accumulation buffers."""
    return 16 + 8 * n2 + (4 if flag else 0) + (4 if dq else 0)


def _plan_bands(ops, params, pixmap, xmin, xmax, ymin, ymax, out_nx, out_ny, nbands,
                cell_bytes):  # fmt: skip
    """Split rows ``ymin .. ymax`` into bands whose buffers fit; returns ``[(r0, r1, box)]``."""
    budget = ops.free_bytes()
    if budget is not None:
        budget = int(budget * MEMORY_FRACTION)
    nrows = ymax - ymin + 1
    nb = 1 if nbands is None else max(1, min(int(nbands), nrows))
    while True:
        edges = np.linspace(ymin, ymax + 1, nb + 1).round().astype(np.int64)
        bands = []
        too_big = None
        for r0, r1 in zip(edges[:-1], edges[1:]):
            r0, r1 = int(r0), int(r1)
            if r1 <= r0:
                continue
            box = _footprint(ops, params, pixmap, xmin, xmax, r0, r1, out_nx, out_ny)
            if box is not None and budget is not None:
                cells = (box[1] - box[0] + 1) * (box[3] - box[2] + 1)
                if cells * cell_bytes > budget:
                    too_big = (r0, r1, cells * cell_bytes)
            bands.append((r0, r1, box))
        if too_big is None:
            return bands
        r0, r1, nbytes = too_big
        if r1 - r0 == 1:
            raise DeviceMemoryError(
                f"drizzle needs {format_bytes(nbytes)} of device memory for the output "
                f"footprint of input row {r0} alone, but only {format_bytes(budget)} are "
                "usable: the output frame is too large for this device."
            )
        nb = min(nrows, nb * 2)


def drizzle_add(
    ops, kernel, data, weights, pixmap, out_img, out_wht, ctx, ctx_bit,
    data2=None, out_img2=None, dq=None, out_dq=None,
    iscale=1.0, pscale_ratio=1.0, pixfrac=1.0, wht_scale=1.0,
    xmin=0, xmax=None, ymin=0, ymax=None, fillval=None, fillval2=None, nbands=None,
):  # fmt: skip
    """Drizzle one image onto the output arrays, in place, on the device.

    Same contract as :func:`gpudriz.backend.cpu.drizzle_add` (see
    its parameters and returns); every array is a C-contiguous ``xp``
    array.  ``nbands`` forces at least that many row bands (tests);
    by default there is one unless memory requires more.
    """
    xp = ops.xp
    ny, nx = data.shape
    out_ny, out_nx = out_img.shape
    xmax = nx - 1 if xmax is None else int(xmax)
    ymax = ny - 1 if ymax is None else int(ymax)
    xmin = int(xmin)
    ymin = int(ymin)
    # Parameters, NaN/inf rules and footprints: the host rules shared
    # with the Numba driver.
    p = host.drizzle_params(kernel, pixfrac, pscale_ratio, iscale, wht_scale)
    lut = xp.asarray(p.lut)
    pixmap = host.finite_pixmap(pixmap, xp)
    n2 = 0 if data2 is None else int(data2.shape[0])
    weights = host.fold_nonfinite_variance(weights, data2, xp)
    use_flag = host.may_have_negative_weights(p, weights, xp) and ctx is not None
    cell_bytes = _cell_bytes(n2, use_flag, dq is not None)

    width = xmax - xmin + 1
    nrows = ymax - ymin + 1
    row_miss = xp.zeros(nrows, dtype=xp.uint64)
    row_bad = xp.zeros(nrows, dtype=xp.uint64)
    bands = _plan_bands(ops, p, pixmap, xmin, xmax, ymin, ymax, out_nx, out_ny, nbands, cell_bytes)
    largest = max(
        ((b[1] - b[0] + 1) * (b[3] - b[2] + 1) for _, _, b in bands if b is not None),
        default=0,
    )
    if largest == 0:
        # Nothing lands on the output: every pixel of the box is a miss;
        # a non-finite pixel is still counted, even off the output.
        bad = ~xp.isfinite(data[ymin : ymax + 1, xmin : xmax + 1])
        nbad = int(bad.sum())
        return nrows * width, nrows, nbad

    ops.check_memory(largest * cell_bytes, "drizzle's accumulation buffers")
    acc_sw_all = xp.empty(2 * largest, dtype=xp.float64)
    acc_var_all = xp.empty(n2 * largest, dtype=xp.float64) if n2 else None
    acc_flag_all = xp.empty(largest, dtype=xp.uint32) if use_flag else None
    acc_dq_all = xp.empty(largest, dtype=xp.uint32) if dq is not None else None
    index64 = needs_index64(pixmap, data2, out_img, 2 * largest, n2 * largest)
    entry = KERNEL_ENTRIES[kernel]
    do_fill = I32(fillval is not None)
    fill = F32(np.nan if fillval is None else fillval)
    do_fill2 = I32(fillval2 is not None)
    fill2 = F32(np.nan if fillval2 is None else fillval2)

    for r0, r1, box in bands:
        if box is None:
            # No pixel of these rows can reach the output.
            row_miss[r0 - ymin : r1 - ymin] = width
            bad = ~xp.isfinite(data[r0:r1, xmin : xmax + 1])
            row_bad[r0 - ymin : r1 - ymin] = bad.sum(axis=1).astype(xp.uint64)
            continue
        bx0, bx1, by0, by1 = box
        nacc = (bx1 - bx0 + 1) * (by1 - by0 + 1)
        acc_sw = acc_sw_all[: 2 * nacc]
        acc_sw.fill(0)
        acc_var = None
        if n2:
            acc_var = acc_var_all[: n2 * nacc]
            acc_var.fill(0)
        acc_flag = None
        if use_flag:
            acc_flag = acc_flag_all[:nacc]
            acc_flag.fill(0)
        acc_dq = None
        if dq is not None:
            acc_dq = acc_dq_all[:nacc]
            acc_dq.fill(0)
        boxargs = (I32(bx0), I32(bx1), I32(by0), I32(by1))
        args = (
            data, weights, pixmap, as_i32(nx, "data width"), as_i32(ny, "data height"),
            data2, I32(n2), dq,
            I32(xmin), I32(xmax), I32(r0), I32(r1),
            F64(p.iscale), F64(p.iscale2), F64(p.wht_scale), F64(p.pf), F64(p.s),
            lut, I32(lut.shape[0]),
            *boxargs, I64(nacc),
            acc_sw, acc_var, acc_flag, acc_dq, row_miss, row_bad, I32(ymin),
        )  # fmt: skip
        ops.launch("drizzle", entry, (r1 - r0) * width, args, index64)
        for k in range(n2):
            args = (
                acc_sw, acc_var[k * nacc : (k + 1) * nacc], *boxargs,
                out_wht, out_img2[k], as_i32(out_nx, "output width"), do_fill2, fill2,
            )  # fmt: skip
            ops.launch("drizzle", "drizzle_merge_var", nacc, args, index64)
        args = (
            acc_sw, acc_flag, acc_dq, *boxargs,
            out_img, out_wht, as_i32(out_nx, "output width"),
            ctx, I32(ctx_bit), out_dq, do_fill, fill,
        )  # fmt: skip
        ops.launch("drizzle", "drizzle_merge", nacc, args, index64)

    nmiss = int(row_miss.sum())
    nskip = int((row_miss == width).sum())
    return nmiss, nskip, int(row_bad.sum())
