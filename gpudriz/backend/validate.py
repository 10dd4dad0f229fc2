"""Argument checks shared by the public functions: one sentence naming the parameter."""

from __future__ import annotations

import math
import numbers

import numpy as np

from gpudriz.backend.arrays import is_device_array

__all__ = ["real_number", "real_array"]


def real_number(value, name, *, positive=False, nonnegative=False):
    """Return ``value`` as a finite float, or raise naming ``name``.

    Raises
    ------
    TypeError
        If ``value`` is not a real number (strings and booleans included).
    ValueError
        If it is not finite, or not positive / non-negative when required.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"'{name}' must be a real number; got {value!r}.")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"'{name}' must be finite; got {v}.")
    if positive and not v > 0.0:
        raise ValueError(f"'{name}' must be positive; got {v}.")
    if nonnegative and not v >= 0.0:
        raise ValueError(f"'{name}' must be non-negative; got {v}.")
    return v


def real_array(arr, name, *, ndim=None):
    """Return ``arr`` as an array of real numbers, or raise naming ``name``.

    Device (CuPy) arrays are returned as they are, never copied to the host.

    Raises
    ------
    TypeError
        If the array does not hold booleans, integers or floats.
    ValueError
        If it has not ``ndim`` dimensions, or is empty.
    """
    a = arr if is_device_array(arr) else np.asarray(arr)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"'{name}' must hold real numbers; got dtype {a.dtype}.")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"'{name}' must be a {ndim}-D array; got {a.ndim} dimension(s).")
    if a.size == 0:
        raise ValueError(f"'{name}' must not be empty; got shape {a.shape}.")
    return a
