"""The CPU backend's operations: thin re-exports of the Numba drivers in
:mod:`gpudriz.fallback`, with the signatures every backend shares."""

from gpudriz.fallback.blot import blot  # noqa: F401
from gpudriz.fallback.drizzle import drizzle_add  # noqa: F401
from gpudriz.fallback.pixmap import interpolate_pixmap  # noqa: F401
