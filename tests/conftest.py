"""Shared fixtures: the real WCS headers, the array module and the backend under test.

``xp`` runs a test on NumPy and, where a CUDA device answers, on CuPy.  ``backend`` runs it on
every backend this machine can run: the Numba CPU backend, the CUDA driver over the
host-compiled kernel sources (g++ and the shim in ``helpers/cuda_host.py``; no GPU needed), and
the CUDA backend on a real device.  Tests that cannot run on one of them skip with the reason.
"""

import numpy as np
import pytest
from helpers.cuda_host import gxx_available, host_backend
from helpers.paths import WCS_DIR

import gpudriz


@pytest.fixture(scope="session")
def wcs_dir():
    """Folder of the real WCS headers; the test is skipped where it is absent."""
    if not WCS_DIR.is_dir():
        pytest.skip(f"real WCS headers not found at {WCS_DIR}")
    return WCS_DIR


def _cuda_or_skip():
    ok, reason = gpudriz.cuda_status()
    if not ok:
        pytest.skip(f"no CUDA device: {reason}")


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
def xp(request):
    """The array module under test: NumPy, and CuPy where a device answers."""
    if request.param == "numpy":
        return np
    _cuda_or_skip()
    import cupy

    return cupy


def _backend_named(name, block, max_grid):
    if name == "cpu":
        return gpudriz.get_backend("cpu")
    if name == "cuda-host":
        if not gxx_available():
            pytest.skip("g++ is needed for the host-compiled kernels")
        return host_backend(block=block, max_grid=max_grid)
    _cuda_or_skip()
    return gpudriz.get_backend("cuda")


_CUDA_PARAM = pytest.param("cuda", marks=pytest.mark.gpu)


@pytest.fixture(params=["cpu", "cuda-host", _CUDA_PARAM])
def backend(request):
    """The backend under test: ``cpu``, ``cuda-host`` (the CUDA driver on g++-compiled kernels,
    small blocks and grids so that grid-stride loops wrap) or ``cuda`` (a real device)."""
    return _backend_named(request.param, block=128, max_grid=16)


@pytest.fixture(params=["cuda-host", _CUDA_PARAM])
def device_backend(request):
    """The CUDA drivers only, for tests that compare them with the CPU backend: ``cuda-host``
    with tiny launches (8 threads, 3 blocks: several blocks and grid strides even on the small
    test images) or ``cuda`` (a real device)."""
    return _backend_named(request.param, block=8, max_grid=3)
