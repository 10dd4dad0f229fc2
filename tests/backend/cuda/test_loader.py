"""The CUDA sources themselves: they compile for the GPUs we target, and mirror their twins.

``nvcc --ptx`` compiles each ``kernels/X.cu`` (with the loader's preamble
and NVRTC options, both index widths) for sm_80 (A100) and sm_90 (H100)
wherever ``nvcc`` exists, CI included.  Every ``__global__`` entry has a Numba
twin of the same name in ``gpudriz.fallback.X`` (design principle 1), and
each source's header names that twin.
"""

import importlib
import inspect
import re
import shutil
import subprocess

import numpy as np
import pytest
from helpers.cuda_host import parse_signatures
from helpers.paths import KERNELS_DIR

from gpudriz.backend.cuda.loader import (
    KERNEL_FILES,
    NVRTC_OPTIONS,
    module_source,
    needs_index64,
)

#: Entries whose Numba twin has another name (the twin's driver loops differ).
# The CUDA sources' per-dtype entries share one Numba twin (Numba specialises on the dtype itself).
TWIN_NAMES = {
    "sample_moments_f32": "sample_moments",
    "sample_moments_f64": "sample_moments",
    "window_histogram_f32": "window_histogram",
    "window_histogram_f64": "window_histogram",
}

nvcc = shutil.which("nvcc")


@pytest.mark.skipif(nvcc is None, reason="nvcc is not installed")
@pytest.mark.parametrize("index64", [False, True])
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("name", KERNEL_FILES)
def test_nvcc_compiles_to_ptx(tmp_path, name, arch, index64):
    src = tmp_path / f"{name}.cu"
    src.write_text(module_source(name, index64))
    opts = [o.replace("--std=", "-std=") for o in NVRTC_OPTIONS]
    cmd = [nvcc, "--ptx", f"-arch={arch}", *opts, "-Werror", "all-warnings", str(src),
           "-o", str(tmp_path / f"{name}.ptx")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    ptx = (tmp_path / f"{name}.ptx").read_text()
    for entry in parse_signatures(module_source(name)):
        assert f".entry {entry}(" in ptx, f"{entry} missing from the PTX"


@pytest.mark.parametrize("name", KERNEL_FILES)
def test_every_entry_has_a_numba_twin(name):
    source = module_source(name)
    twin = importlib.import_module(f"gpudriz.fallback.{name}")
    entries = parse_signatures(source)
    assert entries, f"kernels/{name}.cu defines no __global__ kernel"
    for entry in entries:
        assert hasattr(twin, TWIN_NAMES.get(entry, entry)), (
            f"kernels/{name}.cu: {entry} has no twin in gpudriz.fallback.{name}"
        )
    assert f"fallback/{name}.py" in source[:3000], f"{name}.cu's header must name its twin"


@pytest.mark.parametrize("name", KERNEL_FILES)
def test_sources_avoid_what_nvrtc_lacks(name):
    """NVRTC has no system headers: no #include, and no macros that come from them."""
    text = module_source(name)
    code = "\n".join(line.split("//")[0] for line in text.splitlines())
    assert "#include" not in code
    for macro in ("INFINITY", "NAN", "M_PI", "FLT_MAX", "DBL_MAX", "HUGE_VAL"):
        assert not re.search(rf"\b{macro}\b", code), f"{name}.cu uses {macro}"


def _find_nvrtc():
    """Path of a libnvrtc shared library (``GPUDRIZ_NVRTC`` overrides), or None."""
    import ctypes.util
    import glob
    import os

    if os.environ.get("GPUDRIZ_NVRTC"):
        return os.environ["GPUDRIZ_NVRTC"]
    found = ctypes.util.find_library("nvrtc")
    if found:
        return found
    try:
        import nvidia.cuda_nvrtc as pkg  # the pip wheel CuPy uses

        hits = sorted(glob.glob(os.path.join(list(pkg.__path__)[0], "lib", "libnvrtc.so*")))
        return hits[0] if hits else None
    except ImportError:
        return None


@pytest.mark.parametrize("name", KERNEL_FILES)
def test_nvrtc_compiles_the_loader_text(name):
    """NVRTC itself (what CuPy uses at run time), driven through ctypes: no GPU needed."""
    import ctypes

    lib_path = _find_nvrtc()
    if lib_path is None:
        pytest.skip("libnvrtc not found (set GPUDRIZ_NVRTC to its path)")
    nvrtc = ctypes.CDLL(lib_path)
    prog = ctypes.c_void_p()
    src = module_source(name).encode()
    rc = nvrtc.nvrtcCreateProgram(ctypes.byref(prog), src, f"{name}.cu".encode(), 0, None, None)
    assert rc == 0
    opts = [o.encode() for o in (*NVRTC_OPTIONS, "-arch=compute_80")]
    arr = (ctypes.c_char_p * len(opts))(*opts)
    rc = nvrtc.nvrtcCompileProgram(prog, len(opts), arr)
    size = ctypes.c_size_t()
    nvrtc.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    nvrtc.nvrtcGetProgramLog(prog, log)
    nvrtc.nvrtcDestroyProgram(ctypes.byref(prog))
    assert rc == 0, log.value.decode(errors="replace")


def test_one_list_of_sources_each_with_its_twin_and_driver():
    """kernels/X.cu for every X of KERNEL_FILES and no other; each has a Numba twin and a driver."""
    assert sorted(p.stem for p in KERNELS_DIR.glob("*.cu")) == sorted(KERNEL_FILES)
    for name in KERNEL_FILES:
        importlib.import_module(f"gpudriz.fallback.{name}")
        driver = importlib.import_module(f"gpudriz.backend.cuda.{name}")
        # One driver per source: it launches the kernels of its own source only.
        launched = set(re.findall(r'\.launch\(\s*"(\w+)"', inspect.getsource(driver)))
        assert launched == {name}, f"gpudriz.backend.cuda.{name} launches {sorted(launched)}"


def test_unknown_source_names_the_sources():
    with pytest.raises(ValueError, match="no CUDA source 'nope'; the sources are drizzle, blot"):
        module_source("nope")


def test_index_width():
    assert module_source("blot", index64=True).startswith("#define IDX_T long long\n")
    assert module_source("blot").startswith("#define IDX_T int\n")
    assert not needs_index64(None, 2**31 - 1, np.zeros(3))
    assert needs_index64(None, 2**31)
