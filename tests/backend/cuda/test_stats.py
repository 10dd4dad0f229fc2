"""Host-run parity of ``kernels/stats.cu`` (through its driver) with the Numba twin.

The CUDA source is compiled with g++ through the host shim and driven by
:mod:`gpudriz.backend.cuda.stats` on NumPy arrays, with launches small enough that every thread
strides; it must give the counts, minima and maxima of the CPU backend exactly and the sums to
float64 rounding (another summation order), for float32 and float64 data, with and without a mask.
The clipped statistics computed on either backend then agree.
"""

import numpy as np
import pytest
from helpers.cuda_host import gxx_available, host_backend
from numpy.testing import assert_allclose, assert_array_equal

from gpudriz.backend import cpu
from gpudriz.pipeline.steps.stats import clipped_stats

pytestmark = pytest.mark.skipif(not gxx_available(), reason="g++ is needed to run the CUDA sources on the host")

LAUNCHES = [(8, 3), (32, 2)]


def chip(dtype, shape=(23, 31), seed=0):
    rng = np.random.default_rng(seed)
    data = rng.normal(100.0, 10.0, shape)
    data[rng.random(shape) < 0.03] += 3000.0
    data[1, 2] = np.nan
    data[4, 5] = np.inf
    mask = (rng.random(shape) > 0.1).astype(np.uint8)
    return data.astype(dtype), mask


@pytest.mark.parametrize(("block", "grid"), LAUNCHES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("use_mask", [False, True])
def test_passes_match_the_cpu(block, grid, dtype, use_mask):
    ops = host_backend(block=block, max_grid=grid).ops
    data, mask = chip(dtype)
    m = mask if use_mask else None
    got = ops.sample_moments(data, m, 50.0, np.inf, 100.0)
    want = cpu.sample_moments(data, m, 50.0, np.inf, 100.0)
    assert got[0] == want[0] and got[3:] == want[3:]
    assert_allclose(got[1:3], want[1:3], rtol=1e-12, atol=1e-9)
    got_h = ops.window_histogram(data, m, 50.0, 150.0, 70.0, 0.37, 200, 100.0)
    want_h = cpu.window_histogram(data, m, 50.0, 150.0, 70.0, 0.37, 200, 100.0)
    assert_array_equal(got_h[0], want_h[0])
    assert_allclose(got_h[1], want_h[1], rtol=1e-12, atol=1e-9)
    assert_allclose(got_h[2], want_h[2], rtol=1e-12, atol=1e-9)


def test_an_empty_sample():
    ops = host_backend().ops
    data, _ = chip(np.float32)
    n, s1, s2, lo, hi = ops.sample_moments(data, None, 1e9, 2e9, 0.0)
    assert (n, s1, s2) == (0, 0.0, 0.0) and np.isnan(lo) and np.isnan(hi)


def test_clipped_statistics_agree_across_backends():
    data, mask = chip(np.float32, shape=(64, 80), seed=3)
    host = clipped_stats(data, xp=np, mask=mask.astype(bool), nclip=5, lsigma=3.0, usigma=3.0,
                         backend=host_backend(block=64, max_grid=8))
    here = clipped_stats(data, xp=np, mask=mask.astype(bool), nclip=5, lsigma=3.0, usigma=3.0)
    assert host.npix == here.npix
    assert_allclose(host[:4], here[:4], rtol=1e-9)
