"""The backend layer: which engine runs the per-pixel operations, and the plumbing every engine shares.

Lowest layer of the package: it imports :mod:`gpudriz.kernels` and :mod:`gpudriz.fallback` and
nothing above it (see ``docs/architecture.md``).

- :mod:`~gpudriz.backend.selection`: :func:`get_backend`, :class:`Backend`, :func:`cuda_status`;
- :mod:`~gpudriz.backend.cpu`: the Numba drivers of :mod:`gpudriz.fallback`;
- :mod:`~gpudriz.backend.cuda`: the CuPy drivers of the CUDA kernels in :mod:`gpudriz.kernels`;
- :mod:`~gpudriz.backend.host`: the host-side preparation both drivers share;
- :mod:`~gpudriz.backend.arrays` and :mod:`~gpudriz.backend.validate`: array-module plumbing and
  argument checks used by the layers above.
"""

from gpudriz.backend.selection import (
    BACKEND_NAMES,
    Backend,
    BackendUnavailableError,
    DeviceMemoryError,
    cuda_status,
    get_backend,
)

__all__ = ["Backend", "BackendUnavailableError", "DeviceMemoryError", "get_backend", "cuda_status",
           "BACKEND_NAMES"]  # fmt: skip
