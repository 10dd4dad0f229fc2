"""Host-run parity of ``kernels/crreject.cu`` (through its driver) with the Numba twin.

The CUDA source is compiled with g++ through the host shim
(``tests/helpers/cuda_host.py``) and driven by
:func:`gpudriz.backend.cuda.crreject.driz_cr` on NumPy arrays, with tiny
launches so that several blocks and grid strides run; it is compared with
:func:`gpudriz.fallback.crreject.driz_cr` on the matrix of
``test_crreject.py`` ((snr, scale) pairs x grow x good mask x gain, on chips
with cosmic rays on the edges and NaNs).  Masks must agree exactly, and so
must the per-pixel test flags.
"""


import numpy as np
import pytest
from gpudriz.fallback import crreject as fcr
from helpers.crreject_cases import (
    PAIR_IDS,
    PAIRS,
    SENTINEL,
    STEP_PIXELS,
    good_mask,
    make_chip,
    median_variance,
    step_chip,
)
from helpers.cuda_host import gxx_available, host_backend, host_module
from helpers.paths import KERNELS_DIR
from numpy.testing import assert_array_equal

from gpudriz.backend.cuda.crreject import driz_cr as cuda_driz_cr
from gpudriz.backend.cuda.loader import module_source

pytestmark = pytest.mark.skipif(
    not gxx_available(), reason="g++ is needed to run the CUDA sources on the host"
)

SOURCE = KERNELS_DIR / "crreject.cu"
# (block, max_grid): 24 and 64 threads for 238 pixels, so every thread strides.
LAUNCHES = [(8, 3), (32, 2)]


def numba_run(data, blot, rdnoise, **kw):
    out = np.full(data.shape, SENTINEL, dtype=np.uint8)
    return fcr.driz_cr(data, blot, rdnoise, out, **kw)


def host_run(data, blot, rdnoise, launch=LAUNCHES[0], index64=None, **kw):
    block, max_grid = launch
    ops = host_backend(block=block, max_grid=max_grid, index64=index64).ops
    out = np.full(data.shape, SENTINEL, dtype=np.uint8)
    cuda_driz_cr(ops, data, blot, rdnoise, out, **kw)
    assert not np.any(out == SENTINEL), "the kernels left mask pixels unwritten"
    return out


def test_module_source_is_this_file():
    """The loader (and so NVRTC and the host build) reads kernels/crreject.cu of this checkout."""
    assert module_source("crreject").endswith(SOURCE.read_text(encoding="utf-8"))


def test_kernel_signatures():
    """The C signatures the driver marshals its arguments against."""
    f, i, d = "float", "int", "double"
    u8 = "unsigned char"
    flags = [
        ("data", f, True, True), ("blot", f, True, True), ("rdnoise", f, True, True),
        ("median_var", f, True, True), ("good", u8, True, True), ("nx", i, False, False), ("ny", i, False, False),
        ("gain", d, False, False), ("snr1", d, False, False), ("snr2", d, False, False),
        ("scale1", d, False, False), ("scale2", d, False, False), ("flags", u8, True, False),
    ]  # fmt: skip
    combine = [
        ("flags", u8, True, True), ("nx", i, False, False), ("ny", i, False, False),
        ("cr", u8, True, False),
    ]  # fmt: skip
    grow = [
        ("cr", u8, True, True), ("good", u8, True, True), ("nx", i, False, False),
        ("ny", i, False, False), ("grow", i, False, False), ("out_mask", u8, True, False),
    ]  # fmt: skip
    assert host_module("crreject").signatures == {
        "crr_flags": flags, "crr_combine": combine, "crr_grow": grow,
    }  # fmt: skip


@pytest.mark.parametrize("use_good", [False, True], ids=["all", "good-mask"])
@pytest.mark.parametrize(("snr", "scale"), PAIRS, ids=PAIR_IDS)
def test_parity_with_numba(snr, scale, use_good):
    data, blot, rdnoise = make_chip(seed=1)
    good = good_mask() if use_good else None
    for gain in (1.0, 2.5):
        for grow in (0, 1, 2):
            for median_var in (None, median_variance(blot)):
                kw = dict(gain=gain, snr=snr, scale=scale, grow=grow, good=good,
                          median_var=median_var)  # fmt: skip
                ref = numba_run(data, blot, rdnoise, **kw)
                assert ref.any()
                for launch in LAUNCHES:
                    assert_array_equal(host_run(data, blot, rdnoise, launch=launch, **kw), ref)


def flags_pair(data, blot, rdnoise, good, median_var=None):
    """``crr_flags`` of Numba and of the host build (gain 2, the default snr and scale)."""
    ny, nx = data.shape
    ref = np.full(data.shape, SENTINEL, np.uint8)
    fcr.crr_flags(data, blot, rdnoise,
                  np.empty((0, 0), np.float32) if median_var is None else median_var,
                  np.empty((0, 0), np.uint8) if good is None else good,
                  2.0, 3.0, 2.5, 1.2, 0.7, ref)  # fmt: skip
    got = np.full(data.shape, SENTINEL, np.uint8)
    args = (
        data, blot, rdnoise, median_var, good, np.int32(nx), np.int32(ny),
        np.float64(2.0), np.float64(3.0), np.float64(2.5), np.float64(1.2), np.float64(0.7), got,
    )  # fmt: skip
    host_module("crreject").get_function("crr_flags")((3,), (8,), args)
    return got, ref


@pytest.mark.parametrize("use_good", [False, True], ids=["all", "good-mask"])
def test_flags_match_numba(use_good):
    """The per-pixel test bits of crr_flags, which the 3 x 3 test reads."""
    data, blot, rdnoise = make_chip(seed=2)
    good = good_mask(seed=4) if use_good else None
    for median_var in (None, median_variance(blot, factor=0.6)):
        got, ref = flags_pair(data, blot, rdnoise, good, median_var)
        assert_array_equal(got, ref)
        assert ((ref & fcr.BAD1) != 0).any() and ((ref & fcr.BAD2) != 0).any()


def test_derivative_neighbours_match_numba():
    """A one-pixel step in the blot on corners, edges and inside: same flags as Numba's."""
    for q in STEP_PIXELS:
        got, ref = flags_pair(*step_chip(q), None)
        assert_array_equal(got, ref)


def test_index64():
    """The 64-bit index build (IDX_T = long long) flags the same pixels."""
    data, blot, rdnoise = make_chip(seed=7)
    for grow in (0, 1):
        kw = dict(grow=grow, good=good_mask(seed=8))
        ref = numba_run(data, blot, rdnoise, **kw)
        assert_array_equal(host_run(data, blot, rdnoise, index64=True, **kw), ref)
