"""How the CUDA drivers launch a kernel: the grid, the memory check and the argument types.

Every kernel is launched 1-D with a grid-stride loop: ``block`` threads per block, at most
``max_grid`` blocks.  Scalars are passed as NumPy scalars of the exact C parameter type (CuPy packs
arguments by their Python type; a Python int would be passed as 64 bits): :data:`I32`,
:data:`I64`, :data:`F32`, :data:`F64` and :func:`as_i32`.  None stands for a NULL pointer.

:class:`Launcher` is written against an array module ``xp`` and a module loader
``get_module(name, index64)`` returning objects with CuPy ``RawModule``'s ``get_function``; with
CuPy and :func:`gpudriz.backend.cuda.loader.get_module` it drives a GPU, with NumPy and the
g++-compiled sources of the test suite (``tests/helpers/cuda_host.py``) the CPU.
"""

from __future__ import annotations

import numpy as np

from gpudriz.backend.errors import DeviceMemoryError
from gpudriz.backend.memory import require_memory

__all__ = ["Launcher", "as_i32", "I32", "I64", "F32", "F64"]

#: The kernels' C scalar types.
I32 = np.int32
I64 = np.int64
F32 = np.float32
F64 = np.float64


def as_i32(v, what):
    """``v`` as an ``int32`` kernel argument, or a ValueError naming ``what`` if it does not fit."""
    v = int(v)
    if not -(2**31) <= v < 2**31:
        raise ValueError(f"{what} = {v} does not fit the kernels' 32-bit coordinates.")
    return I32(v)


class Launcher:
    """Launches the kernels of ``kernels/*.cu`` for one array module and one kernel loader.

    Parameters
    ----------
    get_module : callable
        ``get_module(name, index64)`` returns the compiled ``kernels/<name>.cu``
        (an object with ``get_function(entry)``; the function is called as
        ``fn(grid, block, args)``).
    xp : module
        Array module of the arrays the kernels read and write (``cupy``, or
        ``numpy`` for the host-compiled sources in the tests).
    block : int
        Threads per block.
    max_grid : int
        Largest number of blocks per launch (grid-stride loops do the rest).
    free_memory : callable, optional
        Returns the bytes of device memory available for new buffers; None
        means unlimited.
    """

    def __init__(self, get_module, xp, *, block=256, max_grid=4096, free_memory=None):
        self._get_module = get_module
        self.xp = xp
        self.block = int(block)
        self.max_grid = int(max_grid)
        self._free_memory = free_memory

    def launch(self, source, entry, n, args, index64):
        """Run kernel ``entry`` of ``kernels/<source>.cu`` over ``n`` work items (none if ``n <= 0``).

        Parameters
        ----------
        source : str
            The kernel source (one of :data:`gpudriz.kernels.KERNEL_FILES`).
        entry : str
            Its ``__global__`` function.
        n : int
            Work items; the grid is ``ceil(n / block)`` blocks, at most ``max_grid``.
        args : sequence
            The kernel's arguments, in the C types of its signature.
        index64 : bool
            Use the build with 64-bit flat indices.
        """
        if n <= 0:
            return
        fn = self._get_module(source, index64).get_function(entry)
        fn((self.grid_for(n),), (self.block,), tuple(args))

    def grid_for(self, n):
        """Blocks of a launch over ``n`` work items: ``ceil(n / block)``, at least 1, at most ``max_grid``.

        A kernel that writes one partial result per thread needs ``grid_for(n) * block`` of them.
        """
        return max(1, min(-(-int(n) // self.block), self.max_grid))

    def free_bytes(self):
        """Bytes of device memory available for new buffers (None: unknown/unlimited)."""
        return None if self._free_memory is None else int(self._free_memory())

    def check_memory(self, nbytes, what):
        """Raise :class:`~gpudriz.backend.DeviceMemoryError` if ``nbytes`` more would not fit.

        Parameters
        ----------
        nbytes : int
            Size of the allocation about to be made.
        what : str
            What it is for, quoted in the error.
        """
        require_memory(nbytes, self.free_bytes(), what, "device memory", DeviceMemoryError)
