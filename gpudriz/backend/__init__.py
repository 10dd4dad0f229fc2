"""The backend layer: which engine runs the per-pixel operations, and the plumbing every engine shares.

Lowest layer of the package: it imports :mod:`gpudriz.kernels` and :mod:`gpudriz.fallback` and
nothing above it (see ``docs/architecture.md``).

- :mod:`~gpudriz.backend.selection`: :func:`get_backend`, :class:`Backend`, :func:`cuda_status`;
- :mod:`~gpudriz.backend.errors`: :class:`BackendUnavailableError`, :class:`DeviceMemoryError`;
- :mod:`~gpudriz.backend.protocol`: the operations every backend implements, and their signatures;
- :mod:`~gpudriz.backend.cpu`: the Numba drivers of :mod:`gpudriz.fallback`;
- :mod:`~gpudriz.backend.cuda`: the CuPy drivers of the CUDA kernels in :mod:`gpudriz.kernels`,
  one module per ``kernels/X.cu``;
- :mod:`~gpudriz.backend.host`: the host-side preparation both drizzle drivers share;
- :mod:`~gpudriz.backend.memory`: the memory checks of both backends and the memory available to
  the process;
- :mod:`~gpudriz.backend.arrays` and :mod:`~gpudriz.backend.validate`: array-module plumbing and
  argument checks used by the layers above.
"""

# Modules inside the backend import its submodules, never this package, so that importing it
# (which imports the selection, which imports both backends) is no cycle.
from gpudriz.backend.errors import BackendUnavailableError, DeviceMemoryError
from gpudriz.backend.selection import BACKEND_NAMES, Backend, cuda_status, get_backend

__all__ = ["Backend", "BackendUnavailableError", "DeviceMemoryError", "get_backend", "cuda_status",
           "BACKEND_NAMES"]  # fmt: skip
