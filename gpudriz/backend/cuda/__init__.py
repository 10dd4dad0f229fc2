"""The CUDA backend: NVRTC loading of :mod:`gpudriz.kernels` through CuPy, and one driver per kernel.

- :mod:`~gpudriz.backend.cuda.loader`: compiles ``kernels/X.cu`` (memoised per index width and
  device);
- :mod:`~gpudriz.backend.cuda.launch`: :class:`~gpudriz.backend.cuda.launch.Launcher` (grid,
  memory check) and the kernels' argument types;
- :mod:`~gpudriz.backend.cuda.drizzle`, :mod:`~gpudriz.backend.cuda.blot`,
  :mod:`~gpudriz.backend.cuda.pixmap`, :mod:`~gpudriz.backend.cuda.combine`,
  :mod:`~gpudriz.backend.cuda.crreject`: the driver of ``kernels/X.cu``, one module each;
- :mod:`~gpudriz.backend.cuda.ops`: :class:`~gpudriz.backend.cuda.ops.KernelOps`, the drivers
  bound as the backend's operations.

Nothing here imports CuPy at import time; :func:`gpudriz.backend.get_backend` does, when the CUDA
backend is asked for.
"""
