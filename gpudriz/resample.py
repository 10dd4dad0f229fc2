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
import math
import warnings

import numpy as np

from gpudriz.backend import get_backend
from gpudriz.backend.arrays import is_device_array, to_host, to_xp
from gpudriz.backend.host import finite_pixmap
from gpudriz.backend.validate import real_array, real_number
from gpudriz.fallback.drizzle import KERNEL_NAMES

__all__ = ["Drizzle", "SUPPORTED_DRIZZLE_KERNELS", "EXTRA_KERNELS", "FluxNotConservedWarning"]

log = logging.getLogger("gpudriz")

#: The kernels :class:`Drizzle` accepts: every kernel of the drizzle kernels' table
#: (:data:`gpudriz.fallback.drizzle.DRIZZLE_KERNELS`), in its order.
SUPPORTED_DRIZZLE_KERNELS = KERNEL_NAMES

#: Those of them that drizzle 3.x does not have.
EXTRA_KERNELS = ("tophat",)
_NON_CONSERVING = ("gaussian", "tophat", "lanczos2", "lanczos3")

CTX_PLANE_BITS = 32

_DEPRECATED_ARG = object()


class FluxNotConservedWarning(UserWarning):
    """The chosen kernel does not conserve flux (gaussian, tophat, lanczos).

    Issued by every :meth:`Drizzle.add_image` with such a kernel, with
    drizzle 3.x's message "Kernel '...' is not a flux-conserving kernel.", so
    that ``pytest.warns(Warning, match=...)`` around ``add_image`` (as in
    drizzle's and its users' tests) holds for gpudriz too.
    """


# Messages of the validations whose text drizzle 3.x's own tests compare
# (``==`` or ``startswith``): gpudriz raises the same words, with detail after.
_SHAPES_MSG = "Inconsistent data shapes specified:"
_MISMATCH_IMG2_MSG = "Mismatch between the number of 'out_img2' images"
_DQ_TYPE_MSG = "must be of an unsigned integer type with itemsize of 4 bytes or less."


def _as_array(arr):
    """An output argument as an array: lists and tuples become NumPy arrays (as drizzle)."""
    if arr is None or isinstance(arr, np.ndarray) or is_device_array(arr):
        return arr
    return np.asarray(arr)


def _parse_fillval(fillval, name, have_out_img):
    """Return the fill value as a float, or None for 'leave untouched'.

    ``None``/``"INDEF"`` leave pixels without contributions as they are;
    without a caller-supplied output array they start as NaN (drizzle 3.x).
    """
    if fillval is None or (isinstance(fillval, str) and fillval.strip().upper() in ("", "INDEF")):
        return None if have_out_img else np.nan
    if isinstance(fillval, str):
        # float()'s own ValueError ("could not convert string to float: 'x'"),
        # the error drizzle 3.x raises and its tests compare.
        return float(fillval)
    try:
        return float(fillval)
    except (TypeError, ValueError):
        raise TypeError(
            f"'{name}' must be a number, 'NaN', 'INDEF' or None; got {fillval!r}."
        ) from None


def _as_2d_real(arr, name, xp, dtype=np.float32):
    return to_xp(real_array(arr, name, ndim=2), xp, dtype)


def _as_uint32_flags(arr, name, xp):
    a = arr if is_device_array(arr) else np.asarray(arr)
    if a.dtype.kind not in "iu" or a.dtype.itemsize > 4:
        raise TypeError(f"'{name}' {_DQ_TYPE_MSG} Got dtype {a.dtype}.")
    if a.dtype.kind == "i" and a.size and bool(a.min() < 0):
        raise ValueError(f"'{name}' holds negative DQ flags.")
    return to_xp(a, xp, np.uint32)


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
        # Whether outputs are handed back as device arrays (decided by the
        # first array the caller gives), and NumPy output arrays the caller
        # gave to a device backend, updated after each add_image.
        self._device_io = None
        self._host_outputs = {}
        if not isinstance(kernel, str) or kernel.lower() not in SUPPORTED_DRIZZLE_KERNELS:
            # drizzle 3.x's exact words (its tests compare them with ==); the
            # choices are in SUPPORTED_DRIZZLE_KERNELS and the docstring.
            raise ValueError(f"Kernel '{kernel}' is not supported.")
        self._kernel = kernel.lower()
        out_img, out_wht, out_ctx, out_dq = map(_as_array, (out_img, out_wht, out_ctx, out_dq))

        self._disable_ctx = bool(disable_ctx)
        if self._disable_ctx:
            self._ctx_id = None
            self._max_ctx_id = None
        else:
            begin_ctx_id = int(begin_ctx_id)
            if begin_ctx_id < 0:
                raise ValueError(
                    f"Invalid context image ID: 'begin_ctx_id' must be non-negative; "
                    f"got {begin_ctx_id}."
                )
            if max_ctx_id is None:
                max_ctx_id = begin_ctx_id
            elif int(max_ctx_id) < begin_ctx_id:
                raise ValueError("'max_ctx_id' cannot be smaller than 'begin_ctx_id'.")
            self._ctx_id = begin_ctx_id
            self._max_ctx_id = int(max_ctx_id)

        exptime = real_number(exptime, "exptime")
        if exptime < 0.0:
            raise ValueError("Exposure time must be non-negative.")
        if exptime > 0.0 and out_img is None and out_ctx is None and out_wht is None:
            raise ValueError(
                "Exposure time must be 0.0 for the first resampling (when no output "
                "resampled images have been provided): 'exptime' is the exposure time "
                "already in the output arrays."
            )
        if exptime == 0.0 and (
            (out_ctx is not None and bool((out_ctx != 0).any()))
            or (out_wht is not None and bool((out_wht != 0).any()))
        ):
            raise ValueError(
                "Inconsistent exposure time and context and/or weight images: "
                "'exptime' cannot be 0 when 'out_ctx' or 'out_wht' already hold contributions."
            )
        self._texptime = exptime

        self._fillval = _parse_fillval(fillval, "fillval", out_img is not None)
        self._fillval2 = _parse_fillval(fillval2, "fillval2", out_img2 is not None)
        self._ncoadds = 0
        self._nonfinite = 0

        shapes = set()
        if out_img is not None:
            out_img = self._own_output(out_img, "out_img", np.float32, 2)
            shapes.add(out_img.shape)
        if out_wht is not None:
            out_wht = self._own_output(out_wht, "out_wht", np.float32, 2)
            shapes.add(out_wht.shape)
        if out_ctx is not None and not self._disable_ctx:
            if out_ctx.ndim not in (2, 3):
                raise ValueError(
                    f"'out_ctx' must be either a 2D or 3D array. It has {out_ctx.ndim} dimension(s)."
                )
            out_ctx = self._own_output(out_ctx, "out_ctx", np.int32, (2, 3))
            if out_ctx.ndim == 2:
                out_ctx = out_ctx[None, :, :]
            shapes.add(out_ctx.shape[1:])
        self._out_dq = None
        if out_dq is not None:
            self._note_io(out_dq)
            out_dq = _as_uint32_flags(out_dq, "out_dq", self._xp)
            shapes.add(out_dq.shape)
            self._out_dq = out_dq
        if out_img2 is not None:
            if isinstance(out_img2, np.ndarray) or is_device_array(out_img2):
                out_img2 = [out_img2]
            out_img2 = [
                None if a is None else self._own_output(a, f"out_img2[{k}]", np.float32, 2)
                for k, a in enumerate(out_img2)
            ]
            shapes.update(a.shape for a in out_img2 if a is not None)
        if out_shape is not None:
            try:
                out_shape = tuple(int(n) for n in out_shape)
            except TypeError:
                raise TypeError(f"'out_shape' must be a pair of integers; got {out_shape!r}.") from None
            if len(out_shape) != 2 or min(out_shape) < 1:
                raise ValueError(f"'out_shape' must be two positive integers; got {out_shape}.")
            shapes.add(out_shape)
        if len(shapes) > 1:
            raise ValueError(
                f"{_SHAPES_MSG} 'out_shape', 'out_img', 'out_wht', 'out_ctx', "
                f"'out_img2' and 'out_dq' give {sorted(shapes)}."
            )
        self._out_shape = shapes.pop() if shapes else None
        self._out_img = self._out_wht = self._out_ctx = None
        self._out_img2 = out_img2
        if self._out_shape is not None:
            self._alloc_outputs(out_img, out_wht, out_ctx)

    # -- construction helpers ------------------------------------------------

    def _note_io(self, arr):
        """Outputs follow the kind (host or device) of the first array the caller gives."""
        if self._device_io is None:
            self._device_io = is_device_array(arr)

    def _own_output(self, arr, name, dtype, ndim):
        """An output array from the caller, on the backend, used in place when possible.

        On the CPU a C-contiguous, writeable array of ``dtype`` is used in
        place (as drizzle does).  On a device backend a device array of that
        kind is used in place; a NumPy array of that kind is copied to the
        device and kept to be updated after every :meth:`add_image`.
        """
        self._note_io(arr)
        a = arr if is_device_array(arr) else np.asarray(arr)
        ndims = (ndim,) if isinstance(ndim, int) else ndim
        if a.ndim not in ndims:
            want = " or ".join(f"{n}-D" for n in ndims)
            raise ValueError(f"'{name}' must be a {want} array; got {a.ndim} dimension(s).")
        in_place = a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
        if self._xp is np:
            a = to_host(a)
            return a if in_place and isinstance(a, np.ndarray) else np.ascontiguousarray(a, dtype)
        if is_device_array(a) and in_place:
            return a
        if isinstance(a, np.ndarray) and in_place:
            self._host_outputs[name] = a
        return to_xp(a, self._xp, dtype)

    def _sync_host_outputs(self):
        """Copy device results into the NumPy output arrays the caller gave (device backend)."""
        for name, host in self._host_outputs.items():
            dev = self._output_by_name(name)
            # A context array that gained planes is no longer the caller's shape.
            if dev is not None and dev.size == host.size:
                host[...] = to_host(dev).reshape(host.shape)

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

    def _give(self, name, arr):
        """An output as the caller should see it: device array, their own array, or a copy."""
        if arr is None or self._xp is np or self._device_io:
            return arr
        host = self._host_outputs.get(name)
        if host is not None and host.size == arr.size:
            return host.reshape(arr.shape)  # the caller's array (a view of it for 2-D context)
        return to_host(arr)

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
                    f"{_MISMATCH_IMG2_MSG} and the number of inputs: 'data2' given now but "
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
                f"{_MISMATCH_IMG2_MSG} previously set and the number of inputs: 'data2' "
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
        return self._give("out_img", self._out_img)

    @property
    def out_wht(self):
        """Output weight image: total weight per pixel."""
        return self._give("out_wht", self._out_wht)

    @property
    def out_ctx(self):
        """Output context image, int32 of shape (nplanes, ny, nx), or None."""
        return self._give("out_ctx", self._out_ctx)

    @property
    def out_img2(self):
        """Squared-weight co-adds: a list of 2-D arrays, or None."""
        if self._out_img2 is None:
            return None
        return [self._give(f"out_img2[{k}]", a) for k, a in enumerate(self._out_img2)]

    @property
    def out_dq(self):
        """Bitwise OR of the DQ of contributing input pixels, or None."""
        return self._give("out_dq", self._out_dq)

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
            warnings.warn(
                "Argument 'scale' is deprecated: use 'iscale=scale**2' and "
                "'pixel_scale_ratio=scale'.",
                DeprecationWarning,
                stacklevel=2,
            )
            scale = real_number(scale, "scale", positive=True)
            iscale = scale * scale
            pixel_scale_ratio = scale

        xp = self._xp
        self._note_io(data)
        data = _as_2d_real(data, "data", xp)
        ny, nx = data.shape
        pixmap = pixmap if is_device_array(pixmap) else np.asarray(pixmap)
        if pixmap.shape[:2] != data.shape:
            # drizzle 3.x's exact words (its tests compare them with ==).
            raise ValueError("'pixmap' shape is not consistent with 'data' shape.")
        if pixmap.ndim != 3 or pixmap.shape[2] != 2:
            raise ValueError(
                f"'pixmap' must have shape {(ny, nx, 2)} to match 'data'; got {pixmap.shape}."
            )
        if not np.issubdtype(pixmap.dtype, np.floating) and not np.issubdtype(
            pixmap.dtype, np.integer
        ):
            raise TypeError(f"'pixmap' must hold real numbers; got dtype {pixmap.dtype}.")
        pixmap = to_xp(pixmap, xp, np.float64)
        # drizzle 3.x checks 'data2' before everything below; its tests rely on it.
        stack2, n2 = self._stack_data2(data2, data.shape)
        exptime = real_number(exptime, "exptime")
        if exptime <= 0.0:
            raise ValueError("'exptime' *must* be a strictly positive number.")
        iscale = real_number(iscale, "iscale", positive=True)
        wht_scale = real_number(wht_scale, "wht_scale", positive=True)
        pixfrac = real_number(pixfrac, "pixfrac", positive=True)
        if in_units not in ("cps", "counts"):
            raise ValueError(f"'in_units' must be 'cps' or 'counts'; got {in_units!r}.")
        xmin, xmax, ymin, ymax = self._input_box(nx, ny, xmin, xmax, ymin, ymax)

        if weight_map is None:
            weights = xp.ones_like(data)
        else:
            weights = _as_2d_real(weight_map, "weight_map", xp)
            if weights.shape != data.shape:
                raise ValueError(
                    "'weight_map' shape is not consistent with 'data' shape. "
                    f"It is {weights.shape}, 'data' is {data.shape}."
                )

        if dq is not None:
            dq = _as_uint32_flags(dq, "dq", xp)
            if dq.shape != data.shape:
                raise ValueError(
                    "'dq' shape is not consistent with 'data' shape. "
                    f"It is {dq.shape}, 'data' is {data.shape}."
                )

        kernel = self._kernel
        if kernel in _NON_CONSERVING:
            # On every add_image and in drizzle 3.x's words, as drizzle does.
            warnings.warn(
                f"Kernel '{kernel}' is not a flux-conserving kernel.",
                FluxNotConservedWarning,
                stacklevel=2,
            )
        if kernel == "square" and (nx < 2 or ny < 2):
            raise ValueError(
                f"The square kernel needs an input of at least 2x2 pixels; 'data' is {ny}x{nx}."
            )
        if kernel in ("lanczos2", "lanczos3") and abs(pixfrac - 1.0) > 1e-5:
            warnings.warn(
                f"The {kernel} kernel ignores pixfrac ({pixfrac:g}) and uses 1.",
                UserWarning,
                stacklevel=2,
            )
        if pixfrac <= 0.001 and kernel != "point":
            warnings.warn(
                f"pixfrac {pixfrac:g} is too small for the {kernel} kernel: using 'point'.",
                UserWarning,
                stacklevel=2,
            )
            kernel = "point"

        if self._out_shape is None:
            pixmap = self._shape_from_pixmap(pixmap)
        self._alloc_img2(n2)
        if dq is not None and self._out_dq is None:
            self._out_dq = xp.zeros(self._out_shape, dtype=np.uint32)

        if pixel_scale_ratio is None:
            pixel_scale_ratio = _estimate_scale_ratio(pixmap, xmin, xmax, ymin, ymax)
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
        if self._host_outputs:
            self._sync_host_outputs()
        self._texptime += exptime
        self._ncoadds += 1
        if nbad:
            self._nonfinite += nbad
            log.info("add_image: %d input pixel(s) with NaN/inf data or weight ignored.", nbad)
        return nmiss, nskip

    # -- add_image helpers ---------------------------------------------------------

    @staticmethod
    def _input_box(nx, ny, xmin, xmax, ymin, ymax):
        """Inclusive input box: the whole image by default, clipped to it (as drizzle)."""

        def lim(v, default, hi):
            return default if v is None else min(max(int(v), 0), hi)

        xmin = lim(xmin, 0, nx - 1)
        ymin = lim(ymin, 0, ny - 1)
        xmax = lim(xmax, nx - 1, nx - 1)
        ymax = lim(ymax, ny - 1, ny - 1)
        if xmax < xmin or ymax < ymin:
            raise ValueError(
                f"Empty input box: xmin={xmin}, xmax={xmax}, ymin={ymin}, ymax={ymax}."
            )
        return xmin, xmax, ymin, ymax

    def _stack_data2(self, data2, shape):
        """Return data2 as one float32 (n2, ny, nx) array (None items as zeros) and n2."""
        if data2 is None:
            return None, 0
        single = isinstance(data2, np.ndarray) or is_device_array(data2)
        items = [data2] if single else list(data2)
        stack = self._xp.zeros((len(items),) + shape, dtype=np.float32)
        # drizzle 3.x's words, singular for one array and plural for a list.
        what = "'data2' shape is" if single else "'data2' shape(s) is"
        for k, a in enumerate(items):
            if a is None or (a.size if hasattr(a, "size") else np.size(a)) == 0:
                continue
            a = _as_2d_real(a, f"data2[{k}]", self._xp)
            if a.shape != shape:
                raise ValueError(
                    f"{what} not consistent with 'data' shape. 'data2[{k}]' has shape "
                    f"{a.shape}, 'data' has {shape}."
                )
            stack[k] = a
        return stack, len(items)

    def _shape_from_pixmap(self, pixmap):
        """Size the output to hold every mapped pixel centre (no output given).

        Returns the pixmap shifted so that the smallest coordinates land on 0.
        The shape is (ny, nx) in numpy order (drizzle 3.0 transposes it);
        nodes with an infinite coordinate do not count.
        """
        xp = self._xp
        # Nodes with an infinite coordinate are unmapped, as in the drivers.
        pixmap = finite_pixmap(pixmap, xp)
        if not bool(xp.isfinite(pixmap).any()):
            raise ValueError("'pixmap' is entirely NaN: it maps no pixel to the output.")
        xs = pixmap[..., 0]
        ys = pixmap[..., 1]
        x0 = int(math.floor(float(xp.nanmin(xs))))
        x1 = int(math.ceil(float(xp.nanmax(xs))))
        y0 = int(math.floor(float(xp.nanmin(ys))))
        y1 = int(math.ceil(float(xp.nanmax(ys))))
        pixmap = pixmap.copy()
        pixmap[..., 0] -= x0
        pixmap[..., 1] -= y0
        self._out_shape = (y1 - y0 + 1, x1 - x0 + 1)
        self._alloc_outputs(None, None, None)
        return pixmap

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


def _estimate_scale_ratio(pixmap, xmin, xmax, ymin, ymax):
    """Output pixel size in input pixels from the pixmap's Jacobian near the box centre."""
    ny, nx = pixmap.shape[:2]
    if nx < 2 or ny < 2:
        raise ValueError(
            "Cannot estimate 'pixel_scale_ratio' from a pixmap narrower than 2 pixels: give it."
        )
    i = min(max((xmin + xmax) // 2, 0), nx - 2)
    j = min(max((ymin + ymax) // 2, 0), ny - 2)
    cell = to_host(pixmap[j : j + 2, i : i + 2])
    p = cell[0, 0]
    px = cell[0, 1]
    py = cell[1, 0]
    det = (px[0] - p[0]) * (py[1] - p[1]) - (px[1] - p[1]) * (py[0] - p[0])
    if not np.isfinite(det) or det == 0:
        raise ValueError(
            "Cannot estimate 'pixel_scale_ratio': the pixmap is NaN or degenerate "
            "near the centre of the input; give it."
        )
    # One input pixel covers |det| output pixels, so an output pixel is
    # 1/sqrt(|det|) input pixels wide (cdrizzle returns sqrt(|det|) instead).
    return float(1.0 / np.sqrt(abs(det)))
