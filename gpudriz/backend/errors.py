"""The errors a backend raises, in a module of their own so that every backend module can import
them without importing the selection (which imports the backends)."""

from __future__ import annotations

__all__ = ["BackendUnavailableError", "DeviceMemoryError"]


class BackendUnavailableError(RuntimeError):
    """An explicitly requested backend cannot be used on this machine."""


class DeviceMemoryError(MemoryError):
    """A device allocation would not fit in the GPU's free memory."""
