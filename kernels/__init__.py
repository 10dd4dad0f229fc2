"""CUDA sources of gpudriz's kernels (package data, read with importlib.resources).

Each ``X.cu`` here has a Numba twin ``gpudriz/fallback/X.py`` with the same entry
names, argument order and constants, and a driver ``gpudriz/backend/cuda/X.py``.
"""

__all__ = ["KERNEL_FILES"]

#: The CUDA sources ``X.cu``, one per Numba twin in :mod:`gpudriz.fallback` and per driver in
#: :mod:`gpudriz.backend.cuda`: the one list of them.
KERNEL_FILES = ("drizzle", "blot", "pixmap", "combine", "crreject", "stats")
