"""The CUDA backend's operations: host-side drivers of the kernels in ``kernels/*.cu``.

:class:`KernelOps` has the same operations, with the same signatures, as the
CPU backend (:mod:`gpudriz.backend.cpu`): ``drizzle_add``, ``blot`` and
``interpolate_pixmap``, and the pipeline's ``combine`` and ``driz_cr``.  It is written against an array module ``xp`` and a
module loader ``get_module(name, index64)`` returning objects with CuPy
``RawModule``'s ``get_function``; with CuPy and
:func:`gpudriz.backend.cuda.loader.get_module` it drives a GPU.  The test suite
builds the same class on NumPy and the g++-compiled kernel sources
(``tests/cuda_host.py``), so this driver and the kernel sources both run in
CI, which has no GPU.

Every kernel is launched 1-D with a grid-stride loop: ``block`` threads per
block, at most ``max_grid`` blocks.  Scalars are passed as NumPy scalars of
the exact C parameter type (CuPy packs arguments by their Python type; a
Python int would be passed as 64 bits).

Drizzle on the device (design principle 4): one thread per input pixel adds
``w*d``, ``w`` (and ``w**2 v``, DQ and context flags) atomically into
buffers covering the chip's output footprint; then one thread per footprint
pixel folds them into the running weighted mean, exactly as the CPU merge
does for one band.  When the buffers would not fit in free device memory the
input rows are split into bands, each with its own (smaller) footprint,
accumulated and merged in turn; if even a single row's footprint does not
fit, :class:`gpudriz.backend.DeviceMemoryError` says so.
"""

from __future__ import annotations

import numpy as np

from gpudriz.backend import DeviceMemoryError
from gpudriz.backend import host as host
from gpudriz.backend.cuda.loader import needs_index64
from gpudriz.fallback.blot import LANCZOS5, interp_code
from gpudriz.fallback.blot import lanczos_lut as blot_lanczos_lut

__all__ = ["KernelOps", "DRIZZLE_ENTRY"]

#: CUDA entry point of each drizzle kernel.
DRIZZLE_ENTRY = {
    "square": "drizzle_square",
    "turbo": "drizzle_turbo",
    "point": "drizzle_point",
    "gaussian": "drizzle_gaussian",
    "tophat": "drizzle_tophat",
    "lanczos2": "drizzle_lanczos",
    "lanczos3": "drizzle_lanczos",
}

#: Fraction of the free device memory the drizzle buffers may take.
MEMORY_FRACTION = 0.8

_I32 = np.int32
_I64 = np.int64
_F32 = np.float32
_F64 = np.float64


def format_bytes(n):
    """``n`` bytes in the largest binary unit that keeps a leading digit (e.g. ``1.50 GiB``)."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{int(n)} bytes"


def require_memory(nbytes, free, what, where, error):
    """Raise ``error`` if ``nbytes`` exceed ``free`` (None: unknown, nothing is raised)."""
    if free is not None and nbytes > free:
        raise error(
            f"{what} needs {format_bytes(nbytes)} of {where} but only {format_bytes(free)} "
            "are free."
        )


def as_i32(v, what):
    v = int(v)
    if not -(2**31) <= v < 2**31:
        raise ValueError(f"{what} = {v} does not fit the kernels' 32-bit coordinates.")
    return _I32(v)


class KernelOps:
    """Drivers of the CUDA kernels for one array module and one kernel loader.

    Parameters
    ----------
    get_module : callable
        ``get_module(name, index64)`` returns the compiled ``kernels/<name>.cu``
        (an object with ``get_function(entry)``; the function is called as
        ``fn(grid, block, args)``).
    xp : module
        Array module of the arrays the kernels read and write (``cupy``, or
        ``numpy`` for the host-compiled sources in the tests).
    block : int
        Threads per block.
    max_grid : int
        Largest number of blocks per launch (grid-stride loops do the rest).
    free_memory : callable, optional
        Returns the bytes of device memory available for new buffers; None
        means unlimited.
    """

    def __init__(self, get_module, xp, *, block=256, max_grid=4096, free_memory=None):
        self._get_module = get_module
        self.xp = xp
        self.block = int(block)
        self.max_grid = int(max_grid)
        self._free_memory = free_memory

    # -- plumbing ----------------------------------------------------------------

    def _launch(self, source, entry, n, args, index64):
        if n <= 0:
            return
        fn = self._get_module(source, index64).get_function(entry)
        grid = max(1, min(-(-int(n) // self.block), self.max_grid))
        fn((grid,), (self.block,), tuple(args))

    def free_bytes(self):
        """Bytes of device memory available for new buffers (None: unknown/unlimited)."""
        return None if self._free_memory is None else int(self._free_memory())

    def check_memory(self, nbytes, what):
        """Raise :class:`DeviceMemoryError` if ``nbytes`` more would not fit on the device.

        Parameters
        ----------
        nbytes : int
            Size of the allocation about to be made.
        what : str
            What it is for, quoted in the error.
        """
        require_memory(nbytes, self.free_bytes(), what, "device memory", DeviceMemoryError)

    # -- blot ----------------------------------------------------------------------

    def blot(self, data, pixmap, out, interp, fillval, iscale, sinscl):
        """Interpolate ``data`` at every position of ``pixmap`` into ``out`` (kernel ``blot_kernel``).

        Same contract as :func:`gpudriz.fallback.blot.blot`; all arrays are
        C-contiguous ``xp`` arrays (float32 data/out, float64 pixmap).
        """
        xp = self.xp
        code = interp_code(interp)
        lut = xp.asarray(blot_lanczos_lut(5 if code == LANCZOS5 else 3))
        ny, nx = data.shape
        ony, onx = out.shape
        args = (
            data, as_i32(nx, "data width"), as_i32(ny, "data height"), pixmap, out,
            as_i32(onx, "output width"), as_i32(ony, "output height"), _I32(code),
            _F32(fillval), _F64(iscale), _F64(sinscl), lut, _I32(lut.shape[0]),
        )  # fmt: skip
        self._launch("blot", "blot_kernel", onx * ony, args, needs_index64(data, pixmap))
        return out

    # -- pipeline: median combine and cosmic rays -------------------------------------

    def combine(self, sci, wht, wht_min, out, combine_type, **kw):
        """Median step on the device; see :func:`gpudriz.backend.cuda.pipeline_ops.combine`."""
        from gpudriz.backend.cuda import pipeline_ops as _cuda_pipeline_ops

        return _cuda_pipeline_ops.combine(self, sci, wht, wht_min, out, combine_type, **kw)

    def driz_cr(self, data, blot, rdnoise, out_mask, **kw):
        """Cosmic-ray test on the device; see :func:`gpudriz.backend.cuda.pipeline_ops.driz_cr`."""
        from gpudriz.backend.cuda import pipeline_ops as _cuda_pipeline_ops

        return _cuda_pipeline_ops.driz_cr(self, data, blot, rdnoise, out_mask, **kw)

    # -- pixmap --------------------------------------------------------------------

    def interpolate_pixmap(self, grid, x0, y0, step, out):
        """Fill ``out`` by bicubic interpolation of the node ``grid`` (kernel ``pixmap_cubic``).

        Same contract as :func:`gpudriz.fallback.pixmap.interpolate_pixmap`.
        """
        gy, gx = grid.shape[:2]
        ny, nx = out.shape[:2]
        args = (
            grid, _I32(gx), _I32(gy), as_i32(x0, "x0"), as_i32(y0, "y0"), as_i32(step, "step"),
            out, as_i32(nx, "pixmap width"), as_i32(ny, "pixmap height"),
        )  # fmt: skip
        self._launch("pixmap", "pixmap_cubic", nx * ny, args, needs_index64(out, grid))
        return out

    def interpolate_pixmap_tables(self, grid, jac, x0, y0, step, tables, tparams, out):
        """Fill ``out`` for a WCS with D2IM/NPOL tables (kernel ``pixmap_cubic_lookup``).

        Same contract as :func:`gpudriz.fallback.pixmap.interpolate_pixmap_tables`.
        """
        gy, gx = grid.shape[:2]
        ny, nx = out.shape[:2]
        args = (
            grid, jac, _I32(gx), _I32(gy), as_i32(x0, "x0"), as_i32(y0, "y0"),
            as_i32(step, "step"), tables, tparams, out, as_i32(nx, "pixmap width"),
            as_i32(ny, "pixmap height"),
        )  # fmt: skip
        index64 = needs_index64(out, jac, tables)
        self._launch("pixmap", "pixmap_cubic_lookup", nx * ny, args, index64)
        return out

    # -- drizzle -------------------------------------------------------------------

    def _footprint(self, params, pixmap, xmin, xmax, r0, r1, out_nx, out_ny):
        """Output box ``(ii0, ii1, jj0, jj1)`` holding every write of input rows ``r0 .. r1-1``.

        The node statistics of :func:`gpudriz.fallback.drizzle.drizzle_node_stats`,
        from reductions over the band's pixmap nodes (and their neighbours),
        turned into a box by the bound both drivers share
        (:func:`gpudriz.backend.host.footprint_box`).  None when the band
        can reach no output pixel.
        """
        xp = self.xp
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

    @staticmethod
    def _cell_bytes(n2, flag, dq):
        return 16 + 8 * n2 + (4 if flag else 0) + (4 if dq else 0)

    def _plan_bands(self, params, pixmap, xmin, xmax, ymin, ymax, out_nx, out_ny,
                    nbands, cell_bytes):  # fmt: skip
        """Split rows ``ymin .. ymax`` into bands whose buffers fit; returns ``[(r0, r1, box)]``."""
        budget = self.free_bytes()
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
                box = self._footprint(params, pixmap, xmin, xmax, r0, r1, out_nx, out_ny)
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
        self, kernel, data, weights, pixmap, out_img, out_wht, ctx, ctx_bit,
        data2=None, out_img2=None, dq=None, out_dq=None,
        iscale=1.0, pscale_ratio=1.0, pixfrac=1.0, wht_scale=1.0,
        xmin=0, xmax=None, ymin=0, ymax=None, fillval=None, fillval2=None, nbands=None,
    ):  # fmt: skip
        """Drizzle one image onto the output arrays, in place, on the device.

        Same contract as :func:`gpudriz.fallback.drizzle.drizzle_add` (see
        its parameters and returns); every array is a C-contiguous ``xp``
        array.  ``nbands`` forces at least that many row bands (tests);
        by default there is one unless memory requires more.
        """
        xp = self.xp
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
        cell_bytes = self._cell_bytes(n2, use_flag, dq is not None)

        width = xmax - xmin + 1
        nrows = ymax - ymin + 1
        row_miss = xp.zeros(nrows, dtype=xp.uint64)
        row_bad = xp.zeros(nrows, dtype=xp.uint64)
        bands = self._plan_bands(p, pixmap, xmin, xmax, ymin, ymax,
                                 out_nx, out_ny, nbands, cell_bytes)  # fmt: skip
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

        self.check_memory(largest * cell_bytes, "drizzle's accumulation buffers")
        acc_sw_all = xp.empty(2 * largest, dtype=xp.float64)
        acc_var_all = xp.empty(n2 * largest, dtype=xp.float64) if n2 else None
        acc_flag_all = xp.empty(largest, dtype=xp.uint32) if use_flag else None
        acc_dq_all = xp.empty(largest, dtype=xp.uint32) if dq is not None else None
        index64 = needs_index64(pixmap, data2, out_img, 2 * largest, n2 * largest)
        entry = DRIZZLE_ENTRY[kernel]
        do_fill = _I32(fillval is not None)
        fill = _F32(np.nan if fillval is None else fillval)
        do_fill2 = _I32(fillval2 is not None)
        fill2 = _F32(np.nan if fillval2 is None else fillval2)

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
            boxargs = (_I32(bx0), _I32(bx1), _I32(by0), _I32(by1))
            args = (
                data, weights, pixmap, as_i32(nx, "data width"), as_i32(ny, "data height"),
                data2, _I32(n2), dq,
                _I32(xmin), _I32(xmax), _I32(r0), _I32(r1),
                _F64(p.iscale), _F64(p.iscale2), _F64(p.wht_scale), _F64(p.pf), _F64(p.s),
                lut, _I32(lut.shape[0]),
                *boxargs, _I64(nacc),
                acc_sw, acc_var, acc_flag, acc_dq, row_miss, row_bad, _I32(ymin),
            )  # fmt: skip
            self._launch("drizzle", entry, (r1 - r0) * width, args, index64)
            for k in range(n2):
                args = (
                    acc_sw, acc_var[k * nacc : (k + 1) * nacc], *boxargs,
                    out_wht, out_img2[k], as_i32(out_nx, "output width"), do_fill2, fill2,
                )  # fmt: skip
                self._launch("drizzle", "drizzle_merge_var", nacc, args, index64)
            args = (
                acc_sw, acc_flag, acc_dq, *boxargs,
                out_img, out_wht, as_i32(out_nx, "output width"),
                ctx, _I32(ctx_bit), out_dq, do_fill, fill,
            )  # fmt: skip
            self._launch("drizzle", "drizzle_merge", nacc, args, index64)

        nmiss = int(row_miss.sum())
        nskip = int((row_miss == width).sum())
        return nmiss, nskip, int(row_bad.sum())
