"""The CUDA backend: NVRTC loading of :mod:`gpudriz.kernels` through CuPy, and one driver per kernel.

Nothing here imports CuPy at import time; :func:`gpudriz.backend.get_backend` does, when the CUDA
backend is asked for.
"""
