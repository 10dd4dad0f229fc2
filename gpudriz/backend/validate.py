"""Argument checks shared by the public functions: one sentence naming the parameter."""

from __future__ import annotations

import math
import numbers

import numpy as np

from gpudriz.backend.arrays import is_device_array

__all__ = [
    "is_bool",
    "is_real",
    "finite_real",
    "check_sign",
    "real_number",
    "positive_number",
    "optional_limit",
    "real_array",
]


def is_bool(value) -> bool:
    """Whether ``value`` is a boolean: Python's, NumPy's, or a 0-d boolean array.

    Booleans are `numbers.Integral` in Python, so every number check must
    turn them away first: ``exptime=True`` is a mistake, not 1 second.
    """
    if isinstance(value, (bool, np.bool_)):
        return True
    dtype = getattr(value, "dtype", None)
    return getattr(dtype, "kind", "") == "b" and getattr(value, "ndim", 1) == 0


def is_real(value) -> bool:
    """Whether ``value`` is a real number and not a boolean (NaN and infinities included)."""
    return isinstance(value, numbers.Real) and not is_bool(value)


def finite_real(value, *, text=False) -> float | None:
    """The finite float of ``value``, or None when it is not a finite real number.

    This is the one test of "is this a number" that the engine's, the
    pipeline's and the parameters' checks share; each words its own error.

    Parameters
    ----------
    value : object
        The value to check.
    text : bool, optional
        Whether numeric text (``"0.8"``, ``" 4 "``) is read as its number.

    Returns
    -------
    float or None
        None for booleans, non-numbers, unreadable text, NaN and infinities.
    """
    if text and isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not is_real(value):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def check_sign(v: float, name, *, positive=False, nonnegative=False) -> float:
    """Return ``v``, or raise naming ``name`` if it is not positive / non-negative when required.

    Raises
    ------
    ValueError
        ``"'name' must be positive; got v."`` or ``"... must be non-negative ..."``.
    """
    if positive and not v > 0.0:
        raise ValueError(f"'{name}' must be positive; got {v}.")
    if nonnegative and not v >= 0.0:
        raise ValueError(f"'{name}' must be non-negative; got {v}.")
    return v


def real_number(value, name, *, positive=False, nonnegative=False):
    """Return ``value`` as a finite float, or raise naming ``name``.

    Raises
    ------
    TypeError
        If ``value`` is not a real number (strings and booleans included).
    ValueError
        If it is not finite, or not positive / non-negative when required.
    """
    if not is_real(value):
        raise TypeError(f"'{name}' must be a real number; got {value!r}.")
    v = finite_real(value)
    if v is None:
        raise ValueError(f"'{name}' must be finite; got {float(value)}.")
    return check_sign(v, name, positive=positive, nonnegative=nonnegative)


def positive_number(value, name) -> float:
    """Return ``value`` as a float if it is a positive finite real number, or raise naming ``name``.

    Raises
    ------
    ValueError
        ``"'name' must be a positive finite number; got value."``
    """
    v = finite_real(value)
    if v is None or v <= 0:
        raise ValueError(f"'{name}' must be a positive finite number; got {value!r}.")
    return v


def optional_limit(value, name) -> float | None:
    """Return a data limit as a float (infinities allowed) or None, or raise naming ``name``.

    Raises
    ------
    ValueError
        ``"'name' must be a number or None; got value."`` for a non-number or NaN.
    """
    if value is None:
        return None
    if not is_real(value) or math.isnan(value):
        raise ValueError(f"'{name}' must be a number or None; got {value!r}.")
    return float(value)


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
