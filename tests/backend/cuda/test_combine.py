"""Host-run parity of ``kernels/combine.cu`` (through its driver) with the Numba twin.

The CUDA source is compiled with g++ through the host shim
(``tests/helpers/cuda_host.py``) and driven by
:func:`gpudriz.backend.cuda.combine.combine` on NumPy arrays, with tiny
launches so that several blocks and grid strides run; it is compared with
:func:`gpudriz.fallback.combine.combine` on the matrix of ``test_combine.py``
(every combine type x thresholds x weight masks x number of images, minmax
x nlow/nhigh, minmed x nsigma x grow).  Values to float32 rounding, fill
pixels exactly; a separate check asks for identical bits, since the host
build rounds every operation as Numba does.
"""


import numpy as np
import pytest
from gpudriz.fallback import combine as fc
from helpers.combine_cases import (
    FILL,
    NS,
    make_stack,
    matrix,
    minmed_noise,
    weight_minimum,
)
from helpers.cuda_host import gxx_available, host_backend, host_module
from helpers.paths import KERNELS_DIR
from numpy.testing import assert_allclose, assert_array_equal

from gpudriz.backend import DeviceMemoryError
from gpudriz.backend.cuda.combine import combine as cuda_combine
from gpudriz.backend.cuda.loader import module_source

pytestmark = pytest.mark.skipif(
    not gxx_available(), reason="g++ is needed to run the CUDA sources on the host"
)

SOURCE = KERNELS_DIR / "combine.cu"
# (block, max_grid): 24 and 64 threads for 99 pixels, so every thread strides.
LAUNCHES = [(8, 3), (32, 2)]
RTOL = 3e-7
SENTINEL = np.float32(-1.0e30)


def numba_run(sci, wht, wht_min, combine_type, **kw):
    out = np.full(sci.shape[1:], SENTINEL, dtype=np.float32)
    return fc.combine(sci, wht, wht_min, out, combine_type, fill=FILL, **kw)


def host_run(sci, wht, wht_min, combine_type, launch=LAUNCHES[0], index64=None, **kw):
    block, max_grid = launch
    ops = host_backend(block=block, max_grid=max_grid, index64=index64).ops
    out = np.full(sci.shape[1:], SENTINEL, dtype=np.float32)
    cuda_combine(ops, sci, wht, wht_min, out, combine_type, fill=FILL, **kw)
    assert not np.any(out == SENTINEL), "the kernels left output pixels unwritten"
    return out


def assert_parity(got, ref):
    at_fill = ref == np.float32(FILL)
    assert_array_equal(got[at_fill], ref[at_fill])
    scale = max(float(np.max(np.abs(ref))), 1.0)
    assert_allclose(got, ref, rtol=RTOL, atol=RTOL * scale)


def test_module_source_is_this_file():
    """The loader (and so NVRTC and the host build) reads kernels/combine.cu of this checkout."""
    assert module_source("combine").endswith(SOURCE.read_text(encoding="utf-8"))


def test_kernel_signatures():
    """The C signatures the driver marshals its arguments against."""
    f, i, d = "float", "int", "double"
    u8 = "unsigned char"
    pixels = [
        ("sci", f, True, True), ("wht", f, True, True), ("wht_min", f, True, True),
        ("n", i, False, False), ("nx", i, False, False), ("ny", i, False, False),
        ("code", i, False, False), ("nlow", i, False, False), ("nhigh", i, False, False),
        ("nimages", i, False, False), ("use_lthresh", i, False, False), ("lthresh", f, False, False),
        ("use_hthresh", i, False, False), ("hthresh", f, False, False),
        ("exptime", d, True, True), ("sky", d, True, True), ("rdnoise", d, True, True),
        ("nsigma1", d, False, False), ("nsigma2", d, False, False), ("fill", f, False, False),
        ("scratch", f, True, False), ("out", f, True, False), ("med", f, True, False),
        ("mn", f, True, False), ("flags", u8, True, False), ("count", i, True, False),
    ]  # fmt: skip
    grow = [
        ("flags", u8, True, True), ("med", f, True, True), ("mn", f, True, True),
        ("nx", i, False, False), ("ny", i, False, False), ("grow", i, False, False),
        ("fill", f, False, False), ("out", f, True, False),
    ]  # fmt: skip
    assert host_module("combine").signatures == {"combine_pixels": pixels, "combine_grow": grow}


@pytest.mark.parametrize("n", NS)
@pytest.mark.parametrize("combine_type", list(fc.COMBINE_CODES))
def test_parity_with_numba(combine_type, n):
    for sci, wht, wht_min, kw in matrix(combine_type, n):
        ref = numba_run(sci, wht, wht_min, combine_type, **kw)
        got = host_run(sci, wht, wht_min, combine_type, **kw)
        assert_parity(got, ref)


@pytest.mark.parametrize("combine_type", list(fc.COMBINE_CODES))
def test_bit_identical_on_host(combine_type):
    """Same operations in the same order: every bit agrees, for two launch shapes."""
    n = fc.INSERTION_MAX + 2
    sci, wht = make_stack(n, seed=40)
    wht_min = weight_minimum(wht, "maskpt")
    exptime, sky, rdnoise = minmed_noise(n, seed=41)
    kw = dict(nlow=1, nhigh=2, lthresh=0.5, hthresh=30.0, grow=1, nsigma=(4.0, 2.0),
              exptime=exptime, sky=sky, rdnoise=rdnoise)  # fmt: skip
    ref = numba_run(sci, wht, wht_min, combine_type, **kw)
    for launch in LAUNCHES:
        got = host_run(sci, wht, wht_min, combine_type, launch=launch, **kw)
        assert_array_equal(got.view(np.uint32), ref.view(np.uint32))


@pytest.mark.parametrize("combine_type", list(fc.COMBINE_CODES))
def test_good_value_counts(combine_type):
    n = 7
    sci, wht = make_stack(n, seed=44)
    wht_min = weight_minimum(wht, "maskpt")
    exptime, sky, rdnoise = minmed_noise(n, seed=45)
    kw = dict(nhigh=1, hthresh=30.0, exptime=exptime, sky=sky, rdnoise=rdnoise)
    ref = np.full(sci.shape[1:], -1, np.int32)
    numba_run(sci, wht, wht_min, combine_type, count=ref, **kw)
    got = np.full(sci.shape[1:], -1, np.int32)
    host_run(sci, wht, wht_min, combine_type, count=got, **kw)
    assert_array_equal(got, ref)
    assert ref.min() == 0 and ref.max() == n


def test_index64():
    """The 64-bit index build (IDX_T = long long) computes the same pixels."""
    n = 6
    sci, wht = make_stack(n, seed=50)
    wht_min = weight_minimum(wht, "maskpt")
    exptime, sky, rdnoise = minmed_noise(n, seed=51)
    for combine_type in fc.COMBINE_CODES:
        kw = dict(nhigh=1, grow=2, exptime=exptime, sky=sky, rdnoise=rdnoise)
        ref = numba_run(sci, wht, wht_min, combine_type, **kw)
        got = host_run(sci, wht, wht_min, combine_type, index64=True, **kw)
        assert_parity(got, ref)


def test_scratch_stack_memory_is_checked():
    sci, wht = make_stack(4)
    ops = host_backend(free_memory=lambda: 1000).ops
    out = np.empty(sci.shape[1:], np.float32)
    with pytest.raises(DeviceMemoryError, match="the median's sorting stack needs"):
        cuda_combine(ops, sci, wht, np.zeros(4, np.float32), out, "median")
    # average and sum need no scratch stack, unless they drop values.
    cuda_combine(ops, sci, wht, np.zeros(4, np.float32), out, "average")
    with pytest.raises(DeviceMemoryError, match="the median's sorting stack needs"):
        cuda_combine(ops, sci, wht, np.zeros(4, np.float32), out, "sum", nhigh=1)
