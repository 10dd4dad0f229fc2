"""Loading the CUDA sources in :mod:`gpudriz.kernels` as CuPy ``RawModule`` objects.

Every ``kernels/X.cu`` is compiled by NVRTC behind a small ``#define``
preamble (the index type), once per (file, index width, device), and memoised
(the cuCIM pattern, see ``style.md``).  Kernels index with ``IDX_T``: 32-bit
(fastest) unless some array of the call has 2**31 elements or more, then
64-bit; the width is part of the cache key.

The same preamble and source are what the test suite compiles with ``g++``
through its host shim (``tests/helpers/cuda_shim.h``) and with ``nvcc --ptx``, so the
text checked on a machine without a GPU is byte for byte the text NVRTC
compiles here.

This module imports CuPy only inside :func:`get_module`; everything else is
plain Python so that the CPU-only test suite can use it.
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np

from gpudriz.kernels import KERNEL_FILES

__all__ = [
    "KERNEL_FILES",
    "NVRTC_OPTIONS",
    "INDEX64_LIMIT",
    "KernelCompileError",
    "preamble",
    "module_source",
    "needs_index64",
    "get_module",
]

#: NVRTC options.  ``--fmad=false`` keeps ``a * b + c`` as two roundings, as
#: on the CPU, so that the device and its Numba twin agree to the last bit
#: outside the transcendental functions.
NVRTC_OPTIONS = ("--std=c++17", "--fmad=false")

#: Arrays with at least this many elements need 64-bit indices.
INDEX64_LIMIT = 2**31


class KernelCompileError(RuntimeError):
    """A CUDA source failed to compile; the message holds NVRTC's log."""


def preamble(index64: bool) -> str:
    """The ``#define`` lines placed before every kernel source.

    Parameters
    ----------
    index64 : bool
        Use 64-bit (``long long``) instead of 32-bit (``int``) flat indices.
    """
    index_t = "long long" if index64 else "int"
    return f"#define IDX_T {index_t}\n#define GPUDRIZ_INDEX64 {int(bool(index64))}\n"


@functools.cache
def _source_text(name: str) -> str:
    path = resources.files("gpudriz.kernels").joinpath(f"{name}.cu")
    if not path.is_file():
        raise ValueError(f"no CUDA source {name!r}; the sources are {', '.join(KERNEL_FILES)}.")
    return path.read_text(encoding="utf-8")


def module_source(name: str, index64: bool = False) -> str:
    """The full text compiled for ``kernels/<name>.cu``: preamble, then the file.

    A ``#line`` directive keeps compiler messages pointing at the file's own
    line numbers.
    """
    return f'{preamble(index64)}#line 1 "{name}.cu"\n{_source_text(name)}'


def needs_index64(*arrays) -> bool:
    """True if any of ``arrays`` (arrays, or plain element counts) has 2**31 elements or more."""
    for a in arrays:
        if a is None:
            continue
        size = a if isinstance(a, int) else int(a.size)
        if size >= INDEX64_LIMIT:
            return True
    return False


class DeviceModule:
    """A compiled ``RawModule`` whose functions take ``None`` for a null pointer.

    CuPy turns a ``None`` kernel argument into the address ``0xffffffff``
    rather than NULL (cupy/cupy#9046), so ``None`` is passed as a 64-bit zero.
    """

    def __init__(self, raw_module):
        self._raw = raw_module
        self._functions = {}

    def get_function(self, name):
        fn = self._functions.get(name)
        if fn is None:
            raw_fn = self._raw.get_function(name)

            def fn(grid, block, args, _f=raw_fn):
                _f(grid, block, tuple(np.uint64(0) if a is None else a for a in args))

            self._functions[name] = fn
        return fn


@functools.cache
def _compiled(name: str, index64: bool, device_id: int) -> DeviceModule:
    import cupy

    with cupy.cuda.Device(device_id):
        module = cupy.RawModule(code=module_source(name, index64), options=NVRTC_OPTIONS)
        try:
            module.compile()
        except cupy.cuda.compiler.CompileException as exc:
            raise KernelCompileError(
                f"CUDA kernel source {name}.cu (index width {64 if index64 else 32} bits) "
                f"failed to compile with NVRTC:\n{exc}"
            ) from None
    return DeviceModule(module)


def get_module(name: str, index64: bool = False) -> DeviceModule:
    """The compiled module ``kernels/<name>.cu`` for the current CuPy device.

    Parameters
    ----------
    name : str
        One of :data:`KERNEL_FILES`.
    index64 : bool
        Compile with 64-bit flat indices.

    Raises
    ------
    KernelCompileError
        If NVRTC rejects the source; the message names the file and quotes
        NVRTC's log.
    """
    import cupy

    return _compiled(name, bool(index64), cupy.cuda.Device().id)
