"""The :class:`Drizzle` class: resample and co-add images onto one output grid.

A drop-in replacement for ``drizzle.resample.Drizzle`` (drizzle 3.x): the same
constructor, :meth:`Drizzle.add_image` signature, properties and output
conventions, so ``from gpudriz import Drizzle`` is the only change a user of
STScI's package makes.  Beyond it: the ``tophat`` kernel, a ``backend``
keyword, exact handling of drops that straddle the output edge, and NaN/inf
input that contributes nothing instead of poisoning the output
(see ``docs/differences.md``).

References
----------
Fruchter, A. S. & Hook, R. N. 2002, PASP 114, 144 (drizzle).
MultiDrizzle manual, section 1.4, steps 4 and 8 (separate and final drizzle).
"""

from __future__ import annotations

import logging

import numpy as np

from gpudriz.backend import get_backend
from gpudriz.backend.arrays import is_device_array
from gpudriz.backend.validate import real_number
from gpudriz.fallback.drizzle import KERNEL_NAMES
from gpudriz.resample_checks import (
    MISMATCH_IMG2_MSG,
    FluxNotConservedWarning,
    as_2d_real,
    as_array,
    as_uint32_flags,
    check_add_scalars,
    check_ctx_ids,
    check_dq,
    check_exptime,
    check_kernel,
    check_out_shape,
    check_pixmap,
    check_weights,
    common_shape,
    deprecated_scale,
    effective_kernel,
    estimate_scale_ratio,
    input_box,
    parse_fillval,
    pixmap_extent,
    stack_data2,
)
from gpudriz.resample_io import OutputKinds

__all__ = ["Drizzle", "SUPPORTED_DRIZZLE_KERNELS", "EXTRA_KERNELS", "FluxNotConservedWarning"]

log = logging.getLogger("gpudriz")

#: The kernels :class:`Drizzle` accepts: every kernel of the drizzle kernels' table
#: (:data:`gpudriz.fallback.drizzle.DRIZZLE_KERNELS`), in its order.
SUPPORTED_DRIZZLE_KERNELS = KERNEL_NAMES

#: Those of them that drizzle 3.x does not have.
EXTRA_KERNELS = ("tophat",)

CTX_PLANE_BITS = 32

_DEPRECATED_ARG = object()


class Drizzle:
    """Resample and co-add images onto a common output grid with the drizzle algorithm.

    The API mirrors ``drizzle.resample.Drizzle`` (drizzle 3.x).  Each call of
    :meth:`add_image` maps every input pixel through a ``pixmap`` and shares
    its flux among the output pixels it overlaps; the outputs are the weighted
    mean image ``out_img``, the total weight ``out_wht``, the context image
    ``out_ctx`` (bit ``k % 32`` of plane ``k // 32`` set where image ``k``
    contributed with positive weight), optionally the squared-weight co-adds
    ``out_img2`` (variances) and the OR-ed DQ ``out_dq``.

    Parameters
    ----------
    kernel : {"square", "turbo", "point", "gaussian", "tophat", "lanczos2", "lanczos3"}
        How an input pixel's flux is distributed.  square (default): the
        pixel shrunk by ``pixfrac`` and mapped exactly; turbo: an
        axis-aligned box; point: all flux to one pixel; gaussian, tophat,
        lanczos2/3 do not conserve flux (each :meth:`add_image` says so with a
        `FluxNotConservedWarning`, as drizzle 3.x does).
    fillval, fillval2 : float, str or None
        Value of output pixels that received no weight, in ``out_img`` and
        ``out_img2``.  None or "INDEF" leaves them untouched (NaN in newly
        allocated arrays).
    out_shape : tuple of int, optional
        ``(ny, nx)`` of the output, when no output array is given.
    out_img, out_wht : 2-D float32 arrays, optional
        Output arrays from earlier co-adds; used in place when already float32.
    out_ctx : 2-D or 3-D int32 array, optional
        Context image from earlier co-adds.
    out_img2 : 2-D float32 array or list of them, optional
        Squared-weight co-add arrays, one per ``data2`` array.
    out_dq : 2-D uint32 array, optional
        DQ of earlier co-adds.
    exptime : float
        Total exposure time of the images already in the output arrays.
    begin_ctx_id : int
        Context ID (0-based) of the first image added.
    max_ctx_id : int, optional
        Largest context ID expected, to pre-allocate context planes.
    disable_ctx : bool
        Do not compute a context image.
    backend : {"auto", "cpu", "cuda"} or None
        Engine for the kernels (see :func:`gpudriz.get_backend`).

    Notes
    -----
    Arrays: NumPy in, NumPy out; CuPy in, CuPy out.  On the CUDA backend the
    outputs live on the device; the properties return them as device arrays
    when the first array given (an output array here, else the first
    ``add_image`` data) was a device array, and as NumPy copies otherwise.
    NumPy output arrays given here are updated in place after every
    :meth:`add_image`, as on the CPU.  The CPU backend accepts device arrays
    (copying them to the host) and always returns NumPy arrays.

    Output flux is ``sum(out_img * out_wht)``: for square, turbo and point it
    equals ``sum(iscale * data * weight)`` over contributing input pixels.
    """

    def __init__(
        self,
        kernel="square",
        fillval=None,
        fillval2=None,
        out_shape=None,
        out_img=None,
        out_wht=None,
        out_ctx=None,
        out_img2=None,
        out_dq=None,
        exptime=0.0,
        begin_ctx_id=0,
        max_ctx_id=None,
        disable_ctx=False,
        backend=None,
    ):
        self._backend = get_backend(backend)
        self._xp = self._backend.xp
        # Host or device outputs, as the caller's first array; their NumPy
        # output arrays on a device backend, updated after each add_image.
        self._io = OutputKinds(self._xp)
        self._kernel = check_kernel(kernel)
        out_img, out_wht, out_ctx, out_dq = map(as_array, (out_img, out_wht, out_ctx, out_dq))

        self._disable_ctx = bool(disable_ctx)
        if self._disable_ctx:
            self._ctx_id = None
            self._max_ctx_id = None
        else:
            self._ctx_id, self._max_ctx_id = check_ctx_ids(begin_ctx_id, max_ctx_id)
        self._texptime = check_exptime(exptime, out_img, out_wht, out_ctx)

        self._fillval = parse_fillval(fillval, "fillval", out_img is not None)
        self._fillval2 = parse_fillval(fillval2, "fillval2", out_img2 is not None)
        self._ncoadds = 0
        self._nonfinite = 0

        shapes = set()
        if out_img is not None:
            out_img = self._io.own(out_img, "out_img", np.float32, 2)
            shapes.add(out_img.shape)
        if out_wht is not None:
            out_wht = self._io.own(out_wht, "out_wht", np.float32, 2)
            shapes.add(out_wht.shape)
        if out_ctx is not None and not self._disable_ctx:
            if out_ctx.ndim not in (2, 3):
                raise ValueError(
                    f"'out_ctx' must be either a 2D or 3D array. It has {out_ctx.ndim} dimension(s)."
                )
            out_ctx = self._io.own(out_ctx, "out_ctx", np.int32, (2, 3))
            if out_ctx.ndim == 2:
                out_ctx = out_ctx[None, :, :]
            shapes.add(out_ctx.shape[1:])
        self._out_dq = None
        if out_dq is not None:
            self._io.note(out_dq)
            out_dq = as_uint32_flags(out_dq, "out_dq", self._xp)
            shapes.add(out_dq.shape)
            self._out_dq = out_dq
        if out_img2 is not None:
            if isinstance(out_img2, np.ndarray) or is_device_array(out_img2):
                out_img2 = [out_img2]
            out_img2 = [
                None if a is None else self._io.own(a, f"out_img2[{k}]", np.float32, 2)
                for k, a in enumerate(out_img2)
            ]
            shapes.update(a.shape for a in out_img2 if a is not None)
        if out_shape is not None:
            shapes.add(check_out_shape(out_shape))
        self._out_shape = common_shape(shapes)
        self._out_img = self._out_wht = self._out_ctx = None
        self._out_img2 = out_img2
        if self._out_shape is not None:
            self._alloc_outputs(out_img, out_wht, out_ctx)

    # -- construction helpers ------------------------------------------------

    def _output_by_name(self, name):
        if name.startswith("out_img2["):
            k = int(name[len("out_img2[") : -1])
            return self._out_img2[k] if self._out_img2 is not None else None
        return {
            "out_img": self._out_img,
            "out_wht": self._out_wht,
            "out_ctx": self._out_ctx,
            "out_dq": self._out_dq,
        }[name]

    def _alloc_outputs(self, out_img, out_wht, out_ctx):
        xp = self._xp
        shape = self._out_shape
        nplanes = 0 if self._disable_ctx else self._max_ctx_id // CTX_PLANE_BITS + 1
        self._backend.ops.check_memory(
            shape[0] * shape[1] * (8 + 4 * nplanes),
            f"the {shape[0]}x{shape[1]} drizzle output (image, weight, context)",
        )
        self._out_wht = xp.zeros(shape, np.float32) if out_wht is None else out_wht
        if not self._disable_ctx:
            if out_ctx is None:
                out_ctx = xp.zeros((nplanes,) + shape, dtype=np.int32)
            elif out_wht is not None and bool(
                ((self._out_wht > 0) != (out_ctx != 0).any(axis=0)).any()
            ):
                raise ValueError(
                    "Inconsistent values of supplied 'out_wht' and 'out_ctx' arrays: pixels "
                    "with non-zero context must have positive weight and vice versa."
                )
            self._out_ctx = out_ctx
        if out_img is None:
            fill = np.nan if self._fillval is None else self._fillval
            out_img = xp.full(shape, fill, dtype=np.float32)
        self._out_img = out_img

    def _alloc_img2(self, n2):
        """Make sure there are exactly ``n2`` squared-weight output arrays."""
        fill = np.nan if self._fillval2 is None else self._fillval2
        if self._out_img2 is None:
            if n2 == 0:
                return
            if self._ncoadds > 0:
                raise ValueError(
                    f"{MISMATCH_IMG2_MSG} and the number of inputs: 'data2' given now but "
                    "not for the images already added, so the squared-weight co-add would "
                    "be incomplete."
                )
            self._out_img2 = [self._xp.full(self._out_shape, fill, np.float32) for _ in range(n2)]
            return
        for k, a in enumerate(self._out_img2):
            if a is None:
                self._out_img2[k] = self._xp.full(self._out_shape, fill, np.float32)
            elif a.shape != self._out_shape:
                raise ValueError(
                    f"'out_img2[{k}]' has shape {a.shape}, the output has {self._out_shape}."
                )
        if n2 != len(self._out_img2):
            raise ValueError(
                f"{MISMATCH_IMG2_MSG} previously set and the number of inputs: 'data2' "
                f"holds {n2} array(s) but there are {len(self._out_img2)} 'out_img2' "
                "output array(s)."
            )

    # -- properties ------------------------------------------------------------

    @property
    def kernel(self):
        """Resampling kernel name."""
        return self._kernel

    @property
    def fillval(self):
        """Fill value of ``out_img`` pixels without contributions (None: left as is)."""
        return self._fillval

    @property
    def fillval2(self):
        """Fill value of ``out_img2`` pixels without contributions (None: left as is)."""
        return self._fillval2

    @property
    def backend(self):
        """The :class:`gpudriz.backend.Backend` running the kernels."""
        return self._backend

    @property
    def ctx_id(self):
        """Context ID (0-based) of the next image to be added."""
        return self._ctx_id

    @property
    def out_img(self):
        """Output image: weighted mean of the contributions."""
        return self._io.give("out_img", self._out_img)

    @property
    def out_wht(self):
        """Output weight image: total weight per pixel."""
        return self._io.give("out_wht", self._out_wht)

    @property
    def out_ctx(self):
        """Output context image, int32 of shape (nplanes, ny, nx), or None."""
        return self._io.give("out_ctx", self._out_ctx)

    @property
    def out_img2(self):
        """Squared-weight co-adds: a list of 2-D arrays, or None."""
        if self._out_img2 is None:
            return None
        return [self._io.give(f"out_img2[{k}]", a) for k, a in enumerate(self._out_img2)]

    @property
    def out_dq(self):
        """Bitwise OR of the DQ of contributing input pixels, or None."""
        return self._io.give("out_dq", self._out_dq)

    @property
    def total_exptime(self):
        """Total exposure time of all images added."""
        return self._texptime

    @property
    def nonfinite_skipped(self):
        """Number of input pixels skipped because data, weight or variance was NaN/inf."""
        return self._nonfinite

    # -- the work ------------------------------------------------------------------

    def add_image(
        self,
        data,
        exptime,
        pixmap,
        data2=None,
        dq=None,
        scale=_DEPRECATED_ARG,
        iscale=1.0,
        pixel_scale_ratio=1.0,
        weight_map=None,
        wht_scale=1.0,
        pixfrac=1.0,
        in_units="cps",
        xmin=None,
        xmax=None,
        ymin=None,
        ymax=None,
    ):
        """Resample ``data`` onto the output and co-add it.

        Parameters
        ----------
        data : 2-D array
            The input image.
        exptime : float
            Its exposure time (positive); divides the data when
            ``in_units="counts"`` and adds to `total_exptime`.
        pixmap : array of shape (ny, nx, 2)
            Output-frame (x, y) of every input pixel centre, e.g. from
            :func:`gpudriz.calc_pixmap`.  NaN entries mark unmapped pixels.
        data2 : 2-D array or list of 2-D arrays (or None items), optional
            Arrays co-added with squared weights, e.g. variances; their
            results are in `out_img2`.  They are scaled by ``iscale**2``
            (and ``1/exptime**2`` for counts).
        dq : 2-D integer array, optional
            DQ flags OR-ed into `out_dq` wherever a pixel contributes.
        scale : float, optional
            Deprecated: sets ``iscale = scale**2`` and ``pixel_scale_ratio = scale``.
        iscale : float
            Multiplies the data.
        pixel_scale_ratio : float or None
            Output pixel size in input pixels; sizes the turbo, gaussian,
            tophat and lanczos kernels.  None estimates it from the pixmap.
        weight_map : 2-D array, optional
            Per-pixel weights (default 1).
        wht_scale : float
            Multiplies the weights.
        pixfrac : float
            Linear size of the drop relative to the input pixel, in (0, 1];
            below 0.001 the point kernel is used.
        in_units : {"cps", "counts"}
            Units of ``data``.
        xmin, xmax, ymin, ymax : int, optional
            Inclusive box of input pixels to use (default: all).

        Returns
        -------
        nmiss : int
            Input pixels that contributed nothing (off the output, unmapped,
            or non-finite).
        nskip : int
            Input rows of which no pixel contributed.
        """
        if scale is not _DEPRECATED_ARG:
            iscale, pixel_scale_ratio = deprecated_scale(scale)

        xp = self._xp
        self._io.note(data)
        data = as_2d_real(data, "data", xp)
        ny, nx = data.shape
        pixmap = check_pixmap(pixmap, data.shape, xp)
        # drizzle 3.x checks 'data2' before everything below; its tests rely on it.
        stack2, n2 = stack_data2(data2, data.shape, xp)
        exptime, iscale, wht_scale, pixfrac = check_add_scalars(exptime, iscale, wht_scale,
                                                                pixfrac, in_units)  # fmt: skip
        xmin, xmax, ymin, ymax = input_box(nx, ny, xmin, xmax, ymin, ymax)
        weights = check_weights(weight_map, data, xp)
        dq = check_dq(dq, data.shape, xp)
        kernel = effective_kernel(self._kernel, pixfrac, nx, ny)

        if self._out_shape is None:
            # Size the output to hold every mapped pixel centre.
            pixmap, self._out_shape = pixmap_extent(pixmap, xp)
            self._alloc_outputs(None, None, None)
        self._alloc_img2(n2)
        if dq is not None and self._out_dq is None:
            self._out_dq = xp.zeros(self._out_shape, dtype=np.uint32)

        if pixel_scale_ratio is None:
            pixel_scale_ratio = estimate_scale_ratio(pixmap, xmin, xmax, ymin, ymax)
        else:
            pixel_scale_ratio = real_number(pixel_scale_ratio, "pixel_scale_ratio", positive=True)

        # Data are in output units after 'iscale', and per second for counts.
        eff_iscale = float(np.float32(iscale) / np.float32(exptime if in_units == "counts" else 1.0))

        ctx_plane, ctx_bit = self._next_ctx_plane()
        nmiss, nskip, nbad = self._backend.ops.drizzle_add(
            kernel,
            data,
            weights,
            pixmap,
            self._out_img,
            self._out_wht,
            ctx_plane,
            ctx_bit,
            data2=stack2,
            out_img2=self._out_img2 if n2 else None,
            dq=dq,
            out_dq=self._out_dq if dq is not None else None,
            iscale=eff_iscale,
            pscale_ratio=pixel_scale_ratio,
            pixfrac=pixfrac,
            wht_scale=wht_scale,
            xmin=xmin,
            xmax=xmax,
            ymin=ymin,
            ymax=ymax,
            fillval=self._fillval,
            fillval2=self._fillval2,
        )
        if self._ncoadds == 0:
            # Caller-supplied arrays may hold anything where the weight is
            # zero; after this, the backend's merge keeps the fill up to date.
            self._apply_fill()
        if self._io.host_outputs:
            self._io.sync(self._output_by_name)
        self._texptime += exptime
        self._ncoadds += 1
        if nbad:
            self._nonfinite += nbad
            log.info("add_image: %d input pixel(s) with NaN/inf data or weight ignored.", nbad)
        return nmiss, nskip

    # -- add_image helpers ---------------------------------------------------------

    def _next_ctx_plane(self):
        if self._disable_ctx:
            return None, 0
        plane = self._ctx_id // CTX_PLANE_BITS
        if plane >= self._out_ctx.shape[0]:
            xp = self._xp
            extra = xp.zeros((plane + 1 - self._out_ctx.shape[0],) + self._out_shape, np.int32)
            self._out_ctx = xp.concatenate([self._out_ctx, extra], axis=0)
        bit = self._ctx_id % CTX_PLANE_BITS
        self._ctx_id += 1
        bitval = np.array(1 << bit, dtype=np.uint32).view(np.int32)[()]
        return self._out_ctx[plane], int(bitval)

    def _apply_fill(self):
        empty = None
        if self._fillval is not None:
            empty = self._out_wht == 0
            self._out_img[empty] = self._fillval
        if self._fillval2 is not None and self._out_img2 is not None:
            if empty is None:
                empty = self._out_wht == 0
            for a in self._out_img2:
                a[empty] = self._fillval2

