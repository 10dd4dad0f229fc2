"""The clipped-statistics passes (``fallback/stats.py`` through the CPU backend) against their naive twins.

Both passes on chips with NaN/inf values, a mask, limits that exclude values exactly on them,
float32 and float64 data: counts, minima and maxima exactly, sums to float64 rounding.
"""

import math

import numpy as np
import pytest
from helpers import naive_stats_passes as naive
from numpy.testing import assert_allclose, assert_array_equal

from gpudriz.backend import cpu


def chip(dtype=np.float32, shape=(37, 53), seed=0):
    rng = np.random.default_rng(seed)
    data = rng.normal(100.0, 10.0, shape)
    data[rng.random(shape) < 0.02] += rng.uniform(200, 5000)
    data[3, 4] = np.nan
    data[5, 6] = np.inf
    data[7, 8] = -np.inf
    data[9, 10] = 80.0  # exactly on a limit below
    data[11, 12] = 120.0  # exactly on a limit below
    mask = (rng.random(shape) > 0.1).astype(np.uint8)
    mask[9, 10] = mask[11, 12] = 1
    return data.astype(dtype), mask


LIMITS = [(-np.inf, np.inf), (80.0, 120.0), (130.0, 125.0)]  # the last: an empty sample


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("use_mask", [False, True])
@pytest.mark.parametrize(("lower", "upper"), LIMITS)
def test_moments_against_naive(dtype, use_mask, lower, upper):
    data, mask = chip(dtype)
    m = mask if use_mask else None
    got = cpu.sample_moments(data, m, lower, upper, 100.0)
    want = naive.sample_moments(data, m, lower, upper, 100.0)
    assert got[0] == want[0]
    if want[0] == 0:
        assert math.isnan(got[3]) and math.isnan(got[4])
        return
    assert_allclose(got[1:3], want[1:3], rtol=1e-12, atol=1e-9)
    assert got[3:] == want[3:]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("use_mask", [False, True])
@pytest.mark.parametrize(("lower", "upper"), LIMITS[:2])
@pytest.mark.parametrize("nbins", [1, 7, 1000])
def test_histogram_against_naive(dtype, use_mask, lower, upper, nbins):
    data, mask = chip(dtype)
    m = mask if use_mask else None
    lo, width = 85.0, 30.0 / nbins  # values below 85 and above 115 go to the end bins
    got = cpu.window_histogram(data, m, lower, upper, lo, width, nbins, 100.0)
    want = naive.window_histogram(data, m, lower, upper, lo, width, nbins, 100.0)
    assert_array_equal(got[0], want[0])
    assert_allclose(got[1], want[1], rtol=1e-12, atol=1e-9)
    assert_allclose(got[2], want[2], rtol=1e-12, atol=1e-9)


def test_bool_masks_and_shapes():
    data, mask = chip()
    a = cpu.sample_moments(data, mask.astype(bool), -np.inf, np.inf, 0.0)
    b = cpu.sample_moments(data.ravel(), mask.ravel(), -np.inf, np.inf, 0.0)
    assert a == b


def test_results_do_not_depend_on_thread_count():
    """Fixed chunks: the float64 sums are added in one order whatever the number of threads."""
    import numba

    data, mask = chip(shape=(301, 257), seed=4)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = cpu.sample_moments(data, mask, -np.inf, np.inf, 100.0)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = cpu.sample_moments(data, mask, -np.inf, np.inf, 100.0)
    finally:
        numba.set_num_threads(before)
    assert one == many


def test_histogram_chunks_follow_the_sample_size():
    """A small sample in many bins is one chunk (its bins, not its pixels, would cost); a large one is many."""
    assert cpu.histogram_chunks(64 * 128, 1 << 16) == 1
    assert cpu.histogram_chunks(0, 7) == 1
    assert cpu.histogram_chunks(2048 * 4096, 1 << 16) == cpu.HISTOGRAM_CHUNKS
    assert cpu.histogram_chunks(3 * cpu.HISTOGRAM_PIXELS_PER_BIN * 1000, 1000) == 3



def test_naive_comparisons_cover_one_and_many_chunks():
    """``test_histogram_against_naive`` runs the pass cut into one chunk (1,000 bins) and into many."""
    npix = chip()[0].size
    assert cpu.histogram_chunks(npix, 1000) == 1
    assert cpu.histogram_chunks(npix, 7) == cpu.HISTOGRAM_CHUNKS
