"""Run the CUDA kernel sources on the CPU: g++, the host shim, ctypes.

CI has no GPU, yet every kernel's source must run there.  ``host_module``
compiles exactly the text the CUDA loader hands NVRTC
(:func:`gpudriz.backend.cuda.loader.module_source`: preamble + ``kernels/X.cu`` from
the installed package) with ``g++ -include cuda_shim.h`` into a shared
library, and returns an object with CuPy ``RawModule``'s ``get_function``
interface: ``fn(grid, block, args)``.  A launch runs every (block, thread)
pair of the 1-D grid one after another, so grid-stride loops, several blocks
and several strides are all exercised when the grid is small.

Each launch also checks its arguments against the kernel's C signature
(parsed from the source): pointer parameters take C-contiguous NumPy arrays
of the matching dtype (or None for NULL), scalars a NumPy scalar of exactly
the parameter's type.  A marshalling mistake that would silently corrupt a
real GPU launch (CuPy packs arguments by their Python type) therefore fails
here, on the CPU.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from gpudriz.backend.cuda.loader import module_source
from gpudriz.backend.cuda.ops import KernelOps
from gpudriz.backend.selection import Backend

SHIM = Path(__file__).resolve().parent / "cuda_shim.h"

_POINTER_DTYPES = {
    "float": np.float32,
    "double": np.float64,
    "int": np.int32,
    "unsigned int": np.uint32,
    "long long": np.int64,
    "unsigned long long": np.uint64,
    "unsigned char": np.uint8,
    "signed char": np.int8,
    "short": np.int16,
    "unsigned short": np.uint16,
}
_SCALAR_CTYPES = {
    "float": (np.float32, ctypes.c_float),
    "double": (np.float64, ctypes.c_double),
    "int": (np.int32, ctypes.c_int),
    "unsigned int": (np.uint32, ctypes.c_uint),
    "long long": (np.int64, ctypes.c_longlong),
    "unsigned long long": (np.uint64, ctypes.c_ulonglong),
}


def gxx_available() -> bool:
    return shutil.which("g++") is not None


@functools.cache
def _build_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="gpudriz_host_kernels_"))


def _defines(source: str) -> dict[str, str]:
    return dict(re.findall(r"^#define\s+(\w+)\s+(.+?)\s*$", source, flags=re.M))


def _normalise_type(tokens: str, defines: dict[str, str]) -> tuple[str, bool, bool]:
    """``(base type, is pointer, is const)`` of a parameter declaration without its name."""
    pointer = "*" in tokens
    words = tokens.replace("*", " ").split()
    words = [defines.get(w, w) for w in words]
    const = "const" in words
    words = [w for w in words if w not in ("const", "__restrict__")]
    return " ".join(" ".join(words).split()), pointer, const


def parse_signatures(source: str) -> dict[str, list[tuple[str, str, bool, bool]]]:
    """``{kernel: [(param name, base type, pointer, const), ...]}`` of every ``__global__`` entry."""
    defines = _defines(source)
    sigs = {}
    pattern = r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)'
    for name, params in re.findall(pattern, source):
        out = []
        for decl in params.split(","):
            decl = " ".join(decl.split())
            m = re.match(r"(.*?)(\w+)$", decl)
            base, pointer, const = _normalise_type(m.group(1), defines)
            out.append((m.group(2), base, pointer, const))
        sigs[name] = out
    return sigs


class HostFunction:
    """One kernel of a host-compiled module, called like a CuPy ``RawKernel``."""

    def __init__(self, lib, name, signature):
        self.name = name
        self.signature = signature
        self._fn = lib[name]
        argtypes = []
        for _, base, pointer, _ in signature:
            argtypes.append(ctypes.c_void_p if pointer else _SCALAR_CTYPES[base][1])
        self._fn.argtypes = argtypes
        self._fn.restype = None
        self._set_launch = lib.shim_set_launch
        self._set_launch.argtypes = [ctypes.c_uint] * 4
        self._set_launch.restype = None
        self.launches = 0

    def _marshal(self, args):
        if len(args) != len(self.signature):
            raise TypeError(f"{self.name}: {len(args)} arguments for {len(self.signature)} parameters")
        out = []
        for a, (pname, base, pointer, const) in zip(args, self.signature):
            where = f"{self.name}({pname})"
            if pointer:
                if a is None:
                    out.append(ctypes.c_void_p(None))
                    continue
                if not isinstance(a, np.ndarray):
                    raise TypeError(f"{where}: expected an array, got {type(a).__name__}")
                want = _POINTER_DTYPES[base]
                if a.dtype != want:
                    raise TypeError(f"{where}: expected {np.dtype(want)} array, got {a.dtype}")
                if not a.flags.c_contiguous:
                    raise TypeError(f"{where}: array is not C-contiguous")
                if not const and not a.flags.writeable:
                    raise TypeError(f"{where}: array written by the kernel is read-only")
                out.append(ctypes.c_void_p(a.ctypes.data))
            else:
                want, ctype = _SCALAR_CTYPES[base]
                if not isinstance(a, np.generic) or a.dtype != want:
                    raise TypeError(
                        f"{where}: expected a numpy {np.dtype(want)} scalar, got {a!r} "
                        f"({type(a).__name__})"
                    )
                out.append(ctype(a.item()))
        return out

    def __call__(self, grid, block, args):
        cargs = self._marshal(args)
        g = int(grid[0])
        b = int(block[0])
        if any(int(v) != 1 for v in tuple(grid[1:]) + tuple(block[1:])):
            raise ValueError(f"{self.name}: the host shim runs 1-D launches only")
        self.launches += 1
        for bi in range(g):
            for ti in range(b):
                self._set_launch(g, b, bi, ti)
                self._fn(*cargs)


class HostModule:
    """A kernel source compiled for the CPU, with ``RawModule.get_function``."""

    def __init__(self, name: str, index64: bool = False):
        source = module_source(name, index64)
        digest = hashlib.sha1((source + SHIM.read_text()).encode()).hexdigest()[:12]
        build = _build_dir()
        src = build / f"{name}_{digest}.cu"
        lib_path = build / f"{name}_{digest}.so"
        if not lib_path.exists():
            src.write_text(source)
            cmd = [
                "g++", "-std=c++17", "-O2", "-fPIC", "-shared", "-ffp-contract=off",
                "-Wall", "-Wno-unused-function", "-Werror=return-type",
                "-include", str(SHIM), "-x", "c++", str(src), "-o", str(lib_path),
            ]  # fmt: skip
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"g++ failed on kernels/{name}.cu:\n{proc.stderr}")
            self.warnings = proc.stderr
        else:
            self.warnings = ""
        self.source = source
        self.signatures = parse_signatures(source)
        self._lib = ctypes.CDLL(str(lib_path))
        self._functions = {}

    def get_function(self, name: str) -> HostFunction:
        fn = self._functions.get(name)
        if fn is None:
            if name not in self.signatures:
                raise AttributeError(f"no __global__ kernel {name!r} in this module")
            fn = HostFunction(self._lib, name, self.signatures[name])
            self._functions[name] = fn
        return fn


def host_module(name: str, index64: bool = False) -> HostModule:
    """``kernels/<name>.cu`` compiled with g++ through the shim (memoised)."""
    return _host_module(name, bool(index64))


@functools.cache
def _host_module(name: str, index64: bool) -> HostModule:
    return HostModule(name, index64)


def host_backend(block=8, max_grid=3, free_memory=None, index64=None):
    """A :class:`gpudriz.backend.Backend` running the CUDA driver on the host-compiled kernels.

    It is the CUDA backend with NumPy in place of CuPy and g++ in place of
    NVRTC: :class:`gpudriz.backend.cuda.ops.KernelOps` and the exact ``.cu`` text.
    ``block`` and ``max_grid`` default to tiny launches so that every kernel
    runs several blocks and several grid strides; ``index64`` forces the
    32- or 64-bit index build (default: the driver's choice).
    """
    def get_module(name, wide):
        return host_module(name, wide if index64 is None else index64)

    ops = KernelOps(get_module, np, block=block, max_grid=max_grid, free_memory=free_memory)
    return Backend("cuda-host", np, ops)
