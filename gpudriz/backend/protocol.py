"""The operations every backend implements, with their signatures: :class:`Operations`.

A :class:`gpudriz.backend.Backend` holds its operations in ``ops``: the module
:mod:`gpudriz.backend.cpu` (the Numba drivers) or a :class:`gpudriz.backend.cuda.ops.KernelOps`
(the CUDA drivers, one module per ``kernels/X.cu``).  Both satisfy :class:`Operations` with the
same parameter names, order and defaults (``tests/backend/test_protocol.py`` checks it), so the
engine and the pipeline call ``backend.ops.X(...)`` without knowing which runs.

Every array argument is a C-contiguous array of the backend's array module (``Backend.xp``), of
the dtype given; the callers (:class:`gpudriz.Drizzle`, :func:`gpudriz.blot_image`,
:func:`gpudriz.calc_pixmap`, the pipeline's steps) validate and convert the arguments first.
Adding an operation means adding it here, to :mod:`gpudriz.backend.cpu` and to
:class:`~gpudriz.backend.cuda.ops.KernelOps`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["Operations", "OPERATIONS"]


@runtime_checkable
class Operations(Protocol):
    """The operations of a backend (the ``ops`` of :class:`gpudriz.backend.Backend`)."""

    def drizzle_add(
        self, kernel, data, weights, pixmap, out_img, out_wht, ctx, ctx_bit,
        data2=None, out_img2=None, dq=None, out_dq=None,
        iscale=1.0, pscale_ratio=1.0, pixfrac=1.0, wht_scale=1.0,
        xmin=0, xmax=None, ymin=0, ymax=None, fillval=None, fillval2=None, nbands=None,
    ):  # fmt: skip
        """Drizzle one image onto the output arrays, in place (``kernels/drizzle.cu``).

        ``kernel`` is one of :data:`gpudriz.fallback.drizzle.KERNEL_NAMES`; ``data``,
        ``weights`` float32 (ny, nx), ``pixmap`` float64 (ny, nx, 2), ``out_img``, ``out_wht``
        float32 (Ny, Nx), ``ctx`` an int32 context plane or None receiving ``ctx_bit``.
        Returns ``(nmiss, nskip, nbad)``.  See :func:`gpudriz.backend.cpu.drizzle_add`.
        """

    def blot(self, data, pixmap, out, interp, fillval, iscale, sinscl):
        """Interpolate ``data`` at every position of ``pixmap`` into ``out`` (``kernels/blot.cu``).

        See :func:`gpudriz.fallback.blot.blot`.
        """

    def interpolate_pixmap(self, grid, x0, y0, step, out):
        """Fill the pixmap ``out`` from its node ``grid`` (``kernels/pixmap.cu``).

        See :func:`gpudriz.fallback.pixmap.interpolate_pixmap`.
        """

    def interpolate_pixmap_tables(self, grid, jac, x0, y0, step, tables, tparams, out):
        """Fill the pixmap ``out`` of a WCS with D2IM/NPOL lookup tables (``kernels/pixmap.cu``).

        See :func:`gpudriz.fallback.pixmap.interpolate_pixmap_tables`.
        """

    def combine(self, sci, wht, wht_min, out, combine_type, *, nlow=0, nhigh=0, lthresh=None,
                hthresh=None, exptime=None, sky=None, rdnoise=None, nsigma=(6.0, 3.0), grow=0,
                fill=0.0, count=None, nimages=None):  # fmt: skip
        """Combine a row section of single-drizzled images into ``out`` (``kernels/combine.cu``).

        See :func:`gpudriz.fallback.combine.combine`.
        """

    def driz_cr(self, data, blot, rdnoise, out_mask, *, gain=1.0, snr=(3.0, 2.5),
                scale=(1.2, 0.7), grow=0, good=None, median_var=None):  # fmt: skip
        """Flag the cosmic rays of one chip into ``out_mask`` (``kernels/crreject.cu``).

        See :func:`gpudriz.fallback.crreject.driz_cr`.
        """

    def sample_moments(self, data, mask, lower, upper, ref):
        """Count, sums of ``v - ref`` and ``(v - ref)**2``, min and max of a sample (``kernels/stats.cu``).

        The sample is the finite values of ``data`` (float32 or float64) where ``mask`` (uint8,
        or None) is non-zero, inside ``[lower, upper]``.  Returns ``(n, s1, s2, min, max)`` as
        Python numbers (NaN min/max when empty).  See :mod:`gpudriz.fallback.stats`.
        """

    def window_histogram(self, data, mask, lower, upper, lo, width, nbins, ref):
        """Histogram of a sample in ``nbins`` bins of ``width`` from ``lo`` (``kernels/stats.cu``).

        Returns host arrays ``(counts, sums, sumsq)``: per bin the count (int64) and the sums of
        ``v - ref`` and ``(v - ref)**2`` (float64).  See :mod:`gpudriz.fallback.stats`.
        """

    def free_bytes(self):
        """Bytes of the backend's memory available to new allocations, or None (unknown)."""

    def check_memory(self, nbytes, what):
        """Raise a MemoryError (:class:`gpudriz.backend.DeviceMemoryError` on a device) naming
        ``what`` if ``nbytes`` more would not fit in the backend's free memory."""


#: The names of the operations.
OPERATIONS = tuple(name for name in vars(Operations) if not name.startswith("_"))
