"""The argument checks and conversions of :class:`gpudriz.Drizzle`, in drizzle 3.x's words.

Where drizzle 3.x's own tests compare an error message (``==`` or ``startswith``), gpudriz raises
the same words, with detail after; the order in which :class:`~gpudriz.resample.Drizzle` calls
these checks is drizzle's too, so the same bad call fails with the same error.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from gpudriz.backend.arrays import is_device_array, to_host, to_xp
from gpudriz.backend.host import finite_pixmap
from gpudriz.backend.validate import real_array, real_number
from gpudriz.fallback.drizzle import KERNEL_NAMES

__all__ = ["SHAPES_MSG", "MISMATCH_IMG2_MSG", "DQ_TYPE_MSG", "check_kernel", "check_ctx_ids",
           "check_exptime", "check_out_shape", "common_shape", "as_array", "parse_fillval",
           "as_2d_real", "as_uint32_flags", "deprecated_scale", "check_pixmap", "input_box",
           "stack_data2", "estimate_scale_ratio", "check_add_scalars", "check_weights",
           "check_dq", "effective_kernel", "pixmap_extent", "FluxNotConservedWarning",
           "NON_CONSERVING"]  # fmt: skip

#: The kernels that do not conserve flux.
NON_CONSERVING = ("gaussian", "tophat", "lanczos2", "lanczos3")


class FluxNotConservedWarning(UserWarning):
    """The chosen kernel does not conserve flux (gaussian, tophat, lanczos).

    Issued by every :meth:`Drizzle.add_image` with such a kernel, with
    drizzle 3.x's message "Kernel '...' is not a flux-conserving kernel.", so
    that ``pytest.warns(Warning, match=...)`` around ``add_image`` (as in
    drizzle's and its users' tests) holds for gpudriz too.
    """


# Messages of the validations whose text drizzle 3.x's own tests compare
# (``==`` or ``startswith``): gpudriz raises the same words, with detail after.
SHAPES_MSG = "Inconsistent data shapes specified:"
MISMATCH_IMG2_MSG = "Mismatch between the number of 'out_img2' images"
DQ_TYPE_MSG = "must be of an unsigned integer type with itemsize of 4 bytes or less."


# --------------------------------------------------------------------------
# the constructor
# --------------------------------------------------------------------------


def check_kernel(kernel):
    """The kernel's name in lower case, or drizzle 3.x's ValueError."""
    if not isinstance(kernel, str) or kernel.lower() not in KERNEL_NAMES:
        # drizzle 3.x's exact words (its tests compare them with ==); the
        # choices are in SUPPORTED_DRIZZLE_KERNELS and the docstring.
        raise ValueError(f"Kernel '{kernel}' is not supported.")
    return kernel.lower()


def check_ctx_ids(begin_ctx_id, max_ctx_id):
    """``(begin_ctx_id, max_ctx_id)`` as ints (``max_ctx_id`` defaults to ``begin_ctx_id``)."""
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
    return begin_ctx_id, int(max_ctx_id)


def check_exptime(exptime, out_img, out_wht, out_ctx):
    """The exposure time already in the output arrays, consistent with them."""
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
    return exptime


def check_out_shape(out_shape):
    """``out_shape`` as a tuple of two positive ints."""
    try:
        out_shape = tuple(int(n) for n in out_shape)
    except TypeError:
        raise TypeError(f"'out_shape' must be a pair of integers; got {out_shape!r}.") from None
    if len(out_shape) != 2 or min(out_shape) < 1:
        raise ValueError(f"'out_shape' must be two positive integers; got {out_shape}.")
    return out_shape


def common_shape(shapes):
    """The one output shape in the set ``shapes`` (None if empty), or drizzle 3.x's ValueError."""
    if len(shapes) > 1:
        raise ValueError(
            f"{SHAPES_MSG} 'out_shape', 'out_img', 'out_wht', 'out_ctx', "
            f"'out_img2' and 'out_dq' give {sorted(shapes)}."
        )
    return next(iter(shapes)) if shapes else None


def as_array(arr):
    """An output argument as an array: lists and tuples become NumPy arrays (as drizzle)."""
    if arr is None or isinstance(arr, np.ndarray) or is_device_array(arr):
        return arr
    return np.asarray(arr)


def parse_fillval(fillval, name, have_out_img):
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


# --------------------------------------------------------------------------
# add_image
# --------------------------------------------------------------------------


def as_2d_real(arr, name, xp, dtype=np.float32):
    """``arr`` as a 2-D C-contiguous ``xp`` array of ``dtype``, or an error naming ``name``."""
    return to_xp(real_array(arr, name, ndim=2), xp, dtype)


def as_uint32_flags(arr, name, xp):
    """DQ flags as a uint32 ``xp`` array (unsigned or non-negative integers of 4 bytes or less)."""
    a = arr if is_device_array(arr) else np.asarray(arr)
    if a.dtype.kind not in "iu" or a.dtype.itemsize > 4:
        raise TypeError(f"'{name}' {DQ_TYPE_MSG} Got dtype {a.dtype}.")
    if a.dtype.kind == "i" and a.size and bool(a.min() < 0):
        raise ValueError(f"'{name}' holds negative DQ flags.")
    return to_xp(a, xp, np.uint32)


def deprecated_scale(scale):
    """``(iscale, pixel_scale_ratio)`` of the deprecated ``scale``, with its DeprecationWarning.

    The warning points at the caller of :meth:`~gpudriz.resample.Drizzle.add_image`.
    """
    warnings.warn(
        "Argument 'scale' is deprecated: use 'iscale=scale**2' and "
        "'pixel_scale_ratio=scale'.",
        DeprecationWarning,
        stacklevel=3,
    )
    scale = real_number(scale, "scale", positive=True)
    return scale * scale, scale


def check_pixmap(pixmap, shape, xp):
    """The pixmap of a ``shape`` image as a float64 ``xp`` array of shape ``shape + (2,)``."""
    ny, nx = shape
    pixmap = pixmap if is_device_array(pixmap) else np.asarray(pixmap)
    if pixmap.shape[:2] != shape:
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
    return to_xp(pixmap, xp, np.float64)


def input_box(nx, ny, xmin, xmax, ymin, ymax):
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


def stack_data2(data2, shape, xp):
    """Return data2 as one float32 (n2, ny, nx) ``xp`` array (None items as zeros) and n2."""
    if data2 is None:
        return None, 0
    single = isinstance(data2, np.ndarray) or is_device_array(data2)
    items = [data2] if single else list(data2)
    stack = xp.zeros((len(items),) + shape, dtype=np.float32)
    # drizzle 3.x's words, singular for one array and plural for a list.
    what = "'data2' shape is" if single else "'data2' shape(s) is"
    for k, a in enumerate(items):
        if a is None or (a.size if hasattr(a, "size") else np.size(a)) == 0:
            continue
        a = as_2d_real(a, f"data2[{k}]", xp)
        if a.shape != shape:
            raise ValueError(
                f"{what} not consistent with 'data' shape. 'data2[{k}]' has shape "
                f"{a.shape}, 'data' has {shape}."
            )
        stack[k] = a
    return stack, len(items)


def estimate_scale_ratio(pixmap, xmin, xmax, ymin, ymax):
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


def check_add_scalars(exptime, iscale, wht_scale, pixfrac, in_units):
    """``(exptime, iscale, wht_scale, pixfrac)`` of one image as positive floats."""
    exptime = real_number(exptime, "exptime")
    if exptime <= 0.0:
        raise ValueError("'exptime' *must* be a strictly positive number.")
    iscale = real_number(iscale, "iscale", positive=True)
    wht_scale = real_number(wht_scale, "wht_scale", positive=True)
    pixfrac = real_number(pixfrac, "pixfrac", positive=True)
    if in_units not in ("cps", "counts"):
        raise ValueError(f"'in_units' must be 'cps' or 'counts'; got {in_units!r}.")
    return exptime, iscale, wht_scale, pixfrac


def check_weights(weight_map, data, xp):
    """The per-pixel weights of ``data`` (ones when ``weight_map`` is None) as float32."""
    if weight_map is None:
        return xp.ones_like(data)
    weights = as_2d_real(weight_map, "weight_map", xp)
    if weights.shape != data.shape:
        raise ValueError(
            "'weight_map' shape is not consistent with 'data' shape. "
            f"It is {weights.shape}, 'data' is {data.shape}."
        )
    return weights


def check_dq(dq, shape, xp):
    """The input DQ as uint32 flags of ``shape`` (None stays None)."""
    if dq is None:
        return None
    dq = as_uint32_flags(dq, "dq", xp)
    if dq.shape != shape:
        raise ValueError(
            "'dq' shape is not consistent with 'data' shape. "
            f"It is {dq.shape}, 'data' is {shape}."
        )
    return dq


def effective_kernel(kernel, pixfrac, nx, ny):
    """The kernel that drizzles an ``ny`` x ``nx`` image at ``pixfrac``, with drizzle 3.x's warnings.

    The warnings point at the caller of :meth:`~gpudriz.resample.Drizzle.add_image`.
    """
    if kernel in NON_CONSERVING:
        # On every add_image and in drizzle 3.x's words, as drizzle does.
        warnings.warn(
            f"Kernel '{kernel}' is not a flux-conserving kernel.",
            FluxNotConservedWarning,
            stacklevel=3,
        )
    if kernel == "square" and (nx < 2 or ny < 2):
        raise ValueError(
            f"The square kernel needs an input of at least 2x2 pixels; 'data' is {ny}x{nx}."
        )
    if kernel in ("lanczos2", "lanczos3") and abs(pixfrac - 1.0) > 1e-5:
        warnings.warn(
            f"The {kernel} kernel ignores pixfrac ({pixfrac:g}) and uses 1.",
            UserWarning,
            stacklevel=3,
        )
    if pixfrac <= 0.001 and kernel != "point":
        warnings.warn(
            f"pixfrac {pixfrac:g} is too small for the {kernel} kernel: using 'point'.",
            UserWarning,
            stacklevel=3,
        )
        kernel = "point"
    return kernel


def pixmap_extent(pixmap, xp):
    """The output that holds every mapped pixel centre (when no output is given).

    Returns ``(pixmap, shape)``: the pixmap shifted so that the smallest
    coordinates land on 0, and the (ny, nx) shape in numpy order (drizzle 3.0
    transposes it); nodes with an infinite coordinate do not count.
    """
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
    return pixmap, (y1 - y0 + 1, x1 - x0 + 1)
