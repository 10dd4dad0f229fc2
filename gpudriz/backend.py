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
    CuPy raw kernels from :mod:`gpudriz.kernels`.  Not part of this release:
    asking for it raises :class:`BackendUnavailableError` saying so.
``"auto"``
    CUDA when it is available, else the CPU; the choice and its reason are
    logged once.

The environment variable ``GPUDRIZ_BACKEND`` sets the default used when a
caller passes ``backend=None``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from types import ModuleType

import numpy as np

__all__ = ["Backend", "BackendUnavailableError", "get_backend", "BACKEND_NAMES"]

log = logging.getLogger("gpudriz")

BACKEND_NAMES = ("auto", "cpu", "cuda")
ENV_VAR = "GPUDRIZ_BACKEND"


class BackendUnavailableError(RuntimeError):
    """An explicitly requested backend cannot be used on this machine."""


@dataclass(frozen=True)
class Backend:
    """An engine for the per-pixel operations.

    Attributes
    ----------
    name : str
        ``"cpu"`` or ``"cuda"``.
    xp : module
        The array module whose arrays the backend takes and returns.
    ops : module
        The module holding the operations (``drizzle_add``, ``blot``,
        ``interpolate_pixmap``), with the same signatures on every backend.
    """

    name: str
    xp: ModuleType
    ops: ModuleType

    def __repr__(self) -> str:
        return f"Backend({self.name!r})"


_auto_reported = False


def _cuda_status() -> tuple[bool, str]:
    """Return ``(ok, reason)`` for the CUDA backend."""
    return False, "the CUDA backend is not part of this gpudriz release (CPU only)"


def _cpu_backend() -> Backend:
    from gpudriz import _cpu_ops

    return Backend("cpu", np, _cpu_ops)


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
    ok, reason = _cuda_status()
    if name == "cuda":
        if not ok:
            raise BackendUnavailableError(f"backend 'cuda' was requested but {reason}.")
    if not _auto_reported:
        log.info("gpudriz backend 'auto' chose the CPU: %s.", reason)
        _auto_reported = True
    return _cpu_backend()
