"""Backend selection: which engine runs the per-pixel operations.

The public functions (:class:`gpudriz.Drizzle`, :func:`gpudriz.blot_image`,
:func:`gpudriz.calc_pixmap`) never import Numba or CuPy themselves: they ask
:func:`get_backend` for a :class:`Backend` and call its operations.  This
keeps one orchestration path for every engine (design principle 2).

Backends
--------
``"cpu"``
    Numba kernels in :mod:`gpudriz.fallback`, parallel over all cores.
``"cuda"``
    CuPy raw kernels from :mod:`gpudriz.kernels` (:mod:`gpudriz.backend.cuda`
    drives them).  Needs CuPy (``pip install "gpudriz[cuda]"``), an NVIDIA
    driver and a device; asking for it where one of these is missing raises
    :class:`BackendUnavailableError` saying which.
``"auto"``
    CUDA when CuPy imports and a device answers, else the CPU; the choice
    and its reason are logged once.

The environment variable ``GPUDRIZ_BACKEND`` sets the default used when a
caller passes ``backend=None``.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from gpudriz.backend import cpu
from gpudriz.backend.cuda.loader import get_module
from gpudriz.backend.cuda.ops import KernelOps
from gpudriz.backend.errors import BackendUnavailableError, DeviceMemoryError

__all__ = [
    "Backend",
    "BackendUnavailableError",
    "DeviceMemoryError",
    "get_backend",
    "cuda_status",
    "BACKEND_NAMES",
]

log = logging.getLogger("gpudriz")

BACKEND_NAMES = ("auto", "cpu", "cuda")
ENV_VAR = "GPUDRIZ_BACKEND"


@dataclass(frozen=True)
class Backend:
    """An engine for the per-pixel operations.

    Attributes
    ----------
    name : str
        ``"cpu"`` or ``"cuda"``.
    xp : module
        The array module whose arrays the backend takes and returns.
    ops : module or object
        Holds the operations of :class:`gpudriz.backend.protocol.Operations`
        (``drizzle_add``, ``blot``, ``interpolate_pixmap``, ``combine``,
        ``check_memory``, ...), with the same signatures on every backend:
        the module :mod:`gpudriz.backend.cpu`, or a
        :class:`gpudriz.backend.cuda.ops.KernelOps`.
    """

    name: str
    xp: ModuleType
    ops: object

    def __repr__(self) -> str:
        return f"Backend({self.name!r})"


_auto_reported = False


@functools.cache
def cuda_status() -> tuple[bool, str]:
    """Return ``(ok, reason)``: can the CUDA backend run here, and why (not)?

    Checked once per process: CuPy imports, the driver answers, a device
    exists and accepts an allocation.  ``reason`` names the device when
    ``ok``, else the first thing missing.
    """
    try:
        import cupy
    except ImportError as exc:
        if exc.name in (None, "cupy"):
            return False, "CuPy is not installed (pip install \"gpudriz[cuda]\")"
        return False, f"CuPy failed to import: it needs {exc.name!r} ({exc})"
    except Exception as exc:  # a broken CUDA install fails in many ways
        return False, f"CuPy failed to import ({type(exc).__name__}: {exc})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return False, f"no NVIDIA driver answered ({type(exc).__name__}: {exc})"
    if count < 1:
        return False, "the NVIDIA driver sees no CUDA device"
    try:
        cupy.zeros(1, dtype=cupy.float32).sum().item()
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    except Exception as exc:
        return False, f"the CUDA device did not answer ({type(exc).__name__}: {exc})"
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    return True, f"CuPy {cupy.__version__} found {name}"


def _cpu_backend() -> Backend:
    return Backend("cpu", np, cpu)


@functools.cache
def _cuda_backend() -> Backend:
    import cupy

    dev = cupy.cuda.Device()
    sms = dev.attributes["MultiProcessorCount"]
    pool = cupy.get_default_memory_pool()

    def free_memory():
        # Blocks CuPy's pool holds but does not use are free for us too.
        return cupy.cuda.runtime.memGetInfo()[0] + pool.free_bytes()

    # 32 blocks of 256 threads per multiprocessor keep every SM busy; the
    # grid-stride loops cover larger arrays.
    ops = KernelOps(get_module, cupy, block=256, max_grid=32 * sms, free_memory=free_memory)
    return Backend("cuda", cupy, ops)


def get_backend(name: str | Backend | None = None) -> Backend:
    """Return the backend called ``name``.

    Parameters
    ----------
    name : {"auto", "cpu", "cuda"}, Backend or None
        The backend to use.  ``None`` reads the ``GPUDRIZ_BACKEND``
        environment variable and falls back to ``"auto"``.  A `Backend`
        instance is returned unchanged.

    Returns
    -------
    Backend

    Raises
    ------
    ValueError
        If ``name`` is not one of the backend names.
    BackendUnavailableError
        If ``"cuda"`` is asked for explicitly and cannot be provided; the
        message says why.
    """
    global _auto_reported
    if isinstance(name, Backend):
        return name
    source = "argument"
    if name is None:
        name = os.environ.get(ENV_VAR, "auto")
        source = f"environment variable {ENV_VAR}"
    if not isinstance(name, str) or name.strip().lower() not in BACKEND_NAMES:
        raise ValueError(
            f"backend {name!r} (from the {source}) is not one of "
            f"{', '.join(repr(b) for b in BACKEND_NAMES)}."
        )
    name = name.strip().lower()
    if name == "cpu":
        return _cpu_backend()
    ok, reason = cuda_status()
    if name == "cuda":
        if not ok:
            raise BackendUnavailableError(f"backend 'cuda' was requested but {reason}.")
        return _cuda_backend()
    if not _auto_reported:
        if ok:
            log.info("gpudriz backend 'auto' chose CUDA: %s.", reason)
        else:
            log.info("gpudriz backend 'auto' chose the CPU: %s.", reason)
        _auto_reported = True
    return _cuda_backend() if ok else _cpu_backend()
