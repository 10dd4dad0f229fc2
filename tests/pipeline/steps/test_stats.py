"""Tests of gpudriz.pipeline.steps.stats: clipped statistics on the backend's array module.

The reference, :func:`naive_clipped_stats`, is written independently with
plain NumPy: an explicit clipping loop with ``np.mean`` / ``np.std``,
``np.median``, ``np.histogram`` and a ``np.polyfit`` parabola for the mode.
It and the scene generator :func:`sky_scene` are shared with
``test_static_mask.py`` and ``test_skysub.py``.
"""

import logging
import math

import numpy as np
import pytest
from helpers.naive_stats import NOISE, SKY, naive_clipped_stats, sky_scene
from numpy.testing import assert_allclose

from gpudriz.backend.arrays import to_host
from gpudriz.pipeline.steps.stats import (
    HIST_BINS,
    MAX_BINS,
    ClippedStats,
    clipped_stats,
)

# --------------------------------------------------------------------------
# array modules: NumPy here; CuPy joins where a device answers
# --------------------------------------------------------------------------



def as_result(stats):
    """Fields of a ClippedStats as a float array, npix last, for assert_allclose."""
    return np.array([stats.mean, stats.sigma, stats.median, stats.mode, stats.npix], dtype=float)


def assert_same_stats(got, want, mode_atol, data, mask=None, **params):
    """``got`` equals the NumPy definition ``want`` of ``data`` to within one histogram bin.

    The passes read the median from a histogram (:data:`HIST_BINS` bins over the first clipping
    window, or over the sample's range without clipping), and run the clipping iterations after
    the first on it: a value within a bin of a window's edge may be in one sample and not the
    other.  Without clipping, or with one iteration, the sample, its mean and sigma are exact.
    """
    assert isinstance(got, ClippedStats)
    assert all(type(f) is float for f in got[:4]) and type(got.npix) is int
    clip_bin, median_bin = histogram_bins(data, mask, **params)
    if clip_bin == 0.0:
        assert got.npix == want.npix
        assert_allclose([got.mean, got.sigma], [want.mean, want.sigma], rtol=1e-12)
    else:
        assert abs(got.npix - want.npix) <= max(2, 1e-4 * want.npix)
        assert_allclose([got.mean, got.sigma], [want.mean, want.sigma], rtol=0, atol=clip_bin)
    assert abs(got.median - want.median) <= median_bin + 1e-12 * abs(want.median)
    # The histograms may disagree on a value that lands on a bin edge within
    # rounding; one count moves the parabola's vertex by a tiny fraction.
    assert abs(got.mode - want.mode) <= mode_atol


def histogram_bins(data, mask=None, lower=None, upper=None, nclip=3, lsigma=3.0, usigma=3.0, **_):
    """(a bin of the clipping iterations (0 when exact), a bin of the median's histogram)."""
    whole = naive_clipped_stats(data, mask=mask, lower=lower, upper=upper, nclip=0)
    v = np.asarray(data, dtype=np.float64)
    use = np.isfinite(v) & (True if mask is None else np.asarray(mask, dtype=bool))
    use &= (v >= (-np.inf if lower is None else lower)) & (v <= (np.inf if upper is None else upper))
    span = v[use].max() - v[use].min() if use.any() else 0.0
    window = (lsigma + usigma) * whole.sigma / HIST_BINS
    median_bin = span / HIST_BINS if nclip == 0 else window
    return (0.0 if nclip <= 1 else 2 * window), median_bin


# --------------------------------------------------------------------------
# against the NumPy reference
# --------------------------------------------------------------------------


PARAMS = [
    dict(),
    dict(nclip=0),
    dict(nclip=1),
    dict(nclip=10, lsigma=4.0, usigma=4.0),
    dict(nclip=5, lsigma=2.0, usigma=3.5, binwidth=0.25),
    dict(lower=-50.0, upper=200.0, nclip=5, lsigma=4.0, usigma=4.0),
    dict(lower=95.0, upper=None, nclip=2),
    dict(lower=None, upper=105.0, binwidth=0.05),
]


@pytest.mark.parametrize("params", PARAMS, ids=[str(p) or "defaults" for p in PARAMS])
def test_matches_numpy_reference(xp, params):
    data, _ = sky_scene()
    got = clipped_stats(xp.asarray(data), xp=xp, **params)
    want = naive_clipped_stats(data, **params)
    assert_same_stats(got, want, 1e-3 * want.sigma, data, **params)


def test_mask_excludes_values(xp):
    data, _ = sky_scene(seed=2)
    rng = np.random.default_rng(3)
    mask = rng.random(data.shape) > 0.3
    data[~mask] = -1e4  # would wreck every statistic if used
    got = clipped_stats(xp.asarray(data), xp=xp, mask=xp.asarray(mask))
    assert_same_stats(got, naive_clipped_stats(data, mask=mask), 1e-3 * NOISE, data, mask)
    # integer 0/1 masks count as bool
    again = clipped_stats(xp.asarray(data), xp=xp, mask=xp.asarray(mask.astype(np.uint8)))
    assert as_result(again).tolist() == as_result(got).tolist()


def test_clipping_iterations_are_honoured(xp):
    data, _ = sky_scene(seed=4)
    results = [clipped_stats(xp.asarray(data), xp=xp, nclip=n) for n in range(4)]
    # each iteration removes more of the stars and cosmic rays
    npix = [r.npix for r in results]
    assert npix == sorted(npix, reverse=True) and len(set(npix)) == 4
    # nclip=1 is one pass of 3-sigma clipping about the unclipped mean, by hand
    v = data.astype(np.float64).ravel()
    m, s = v.mean(), v.std()
    once = v[(v >= m - 3 * s) & (v <= m + 3 * s)]
    assert results[1].npix == once.size
    assert_allclose(results[1].mean, once.mean(), rtol=1e-12)


def test_clipping_stops_when_nothing_changes(xp):
    # Pure noise converges within a few iterations; more allowed changes nothing.
    data = np.random.default_rng(5).normal(SKY, NOISE, (128, 128))
    few = clipped_stats(xp.asarray(data), xp=xp, nclip=20)
    many = clipped_stats(xp.asarray(data), xp=xp, nclip=1000)
    assert as_result(few).tolist() == as_result(many).tolist()
    converged = naive_clipped_stats(data, nclip=20)
    assert few.npix == converged.npix < data.size


def test_clip_limits_are_asymmetric(xp):
    data, _ = sky_scene(seed=6)
    low_only = clipped_stats(xp.asarray(data), xp=xp, nclip=1, lsigma=1.0, usigma=100.0)
    high_only = clipped_stats(xp.asarray(data), xp=xp, nclip=1, lsigma=100.0, usigma=1.0)
    v = data.astype(np.float64)
    m, s = v.mean(), v.std()
    assert low_only.npix == np.count_nonzero((v >= m - s) & (v <= m + 100 * s))
    assert high_only.npix == np.count_nonzero((v >= m - 100 * s) & (v <= m + s))


def test_lower_upper_are_inclusive(xp):
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    got = clipped_stats(xp.asarray(values), xp=xp, lower=2.0, upper=4.0, nclip=0)
    assert got.npix == 3 and got.mean == 3.0 and got.median == pytest.approx(3.0, rel=1e-12)


# --------------------------------------------------------------------------
# accuracy against the known sky
# --------------------------------------------------------------------------


def test_sky_estimates_against_truth(xp):
    data, contaminated = sky_scene((512, 512), nstars=60, ncr=1500, seed=7)
    assert 0.01 < contaminated.mean() < 0.05
    got = clipped_stats(xp.asarray(data), xp=xp, nclip=5, lsigma=4.0, usigma=4.0)
    # The median sees the few per cent of faint star wings left after clipping:
    # a bias of a few per cent of sigma at most.
    assert abs(got.median - SKY) < 0.03 * NOISE
    # The histogram mode of 2.6e5 Gaussian values scatters by ~0.06 sigma
    # (measured over 30 seeds): Poisson noise of the bins near the flat peak.
    assert abs(got.mode - SKY) < 0.15 * NOISE
    # The clipped mean keeps the star wings inside +4 sigma: biased high, more
    # than the median.
    assert got.mean - SKY > got.median - SKY > 0
    assert got.mean - SKY < 0.2 * NOISE
    assert abs(got.sigma - NOISE) < 0.05 * NOISE
    # on the clean pixels alone all three agree with the truth
    clean = clipped_stats(xp.asarray(data), xp=xp, mask=xp.asarray(~contaminated), nclip=5,
                          lsigma=4.0, usigma=4.0)
    assert abs(clean.mean - SKY) < 0.01 * NOISE
    assert abs(clean.median - SKY) < 0.01 * NOISE


def test_float64_accumulation(xp):
    # A large offset with small noise in float32: float32 sums would lose the
    # noise; float64 accumulation matches the float64 reference.
    rng = np.random.default_rng(8)
    data = (1e6 + rng.normal(0.0, 1.0, (256, 256))).astype(np.float32)
    got = clipped_stats(xp.asarray(data), xp=xp)
    want = naive_clipped_stats(data)
    assert_allclose([got.mean, got.sigma], [want.mean, want.sigma], rtol=1e-12)
    assert abs(got.sigma - 1.0) < 0.05


def test_integer_input(xp):
    data = np.random.default_rng(9).poisson(50, (64, 64)).astype(np.int16)
    assert_same_stats(clipped_stats(xp.asarray(data), xp=xp), naive_clipped_stats(data), 1e-9, data)


def test_input_is_not_modified(xp):
    data, _ = sky_scene((64, 64), seed=10)
    data[0, 0] = np.nan
    mask = np.ones(data.shape, dtype=bool)
    mask[1] = False
    d, m = xp.asarray(data), xp.asarray(mask)
    clipped_stats(d, xp=xp, mask=m, lower=0.0)
    np.testing.assert_array_equal(to_host(d), data)
    np.testing.assert_array_equal(to_host(m), mask)


# --------------------------------------------------------------------------
# the mode
# --------------------------------------------------------------------------


def _unit_bins(counts_after_first, first=(0.0, 0.5)):
    """Values whose histogram in unit-wide bins from 0 has the given counts.

    Bin 0 holds ``first`` (0.0 fixes the minimum, hence the bin origin);
    bin i >= 1 holds ``counts_after_first[i-1]`` values at its centre.
    Returns the values and the binwidth (in sigma) giving unit-wide bins.
    """
    values = list(first)
    for i, c in enumerate(counts_after_first, start=1):
        values += [i + 0.5] * c
    values = np.array(values)
    return values, 1.0 / values.std()


def test_mode_parabola_by_hand(xp):
    # counts 2, 5, 8, 6, 1: vertex of the parabola through (1.5, 5), (2.5, 8),
    # (3.5, 6) is at 2.5 + 0.5*(5-6)/(5-16+6) = 2.6.
    values, bw = _unit_bins([5, 8, 6, 1])
    got = clipped_stats(xp.asarray(values), xp=xp, nclip=0, binwidth=bw)
    assert got.mode == pytest.approx(2.6, abs=1e-9)
    assert got.median == pytest.approx(2.5, rel=1e-12) and got.npix == 22


def test_mode_of_tied_peaks_lies_between_them(xp):
    # counts 2, 5, 5, 2: the first peak bin (1) is refined towards its twin.
    values, bw = _unit_bins([5, 5, 2])
    got = clipped_stats(xp.asarray(values), xp=xp, nclip=0, binwidth=bw)
    assert got.mode == pytest.approx(2.0, abs=1e-9)


@pytest.mark.parametrize("where", ["first", "last"])
def test_mode_peak_at_an_edge_is_the_bin_centre(xp, where):
    if where == "first":
        values, bw = _unit_bins([3, 1], first=(0.0, 0.5, 0.5, 0.5, 0.5))
        centre = 0.5
    else:
        values, bw = _unit_bins([1, 2, 6])
        centre = 3.5
    got = clipped_stats(xp.asarray(values), xp=xp, nclip=0, binwidth=bw)
    assert got.mode == pytest.approx(centre, abs=1e-9)


def test_constant_data_has_zero_sigma_and_mode_mean(xp):
    data = np.full((32, 32), 7.25, dtype=np.float32)
    got = clipped_stats(xp.asarray(data), xp=xp)
    assert got == ClippedStats(7.25, 0.0, 7.25, 7.25, 1024)


def test_single_value(xp):
    got = clipped_stats(xp.asarray([np.nan, 3.0, np.inf]), xp=xp)
    assert got == ClippedStats(3.0, 0.0, 3.0, 3.0, 1)


def test_tiny_binwidth_is_refused(xp):
    data, _ = sky_scene((64, 64), seed=11)
    with pytest.raises(ValueError, match=f"more than {MAX_BINS} bins"):
        clipped_stats(xp.asarray(data), xp=xp, nclip=0, binwidth=1e-9)


# --------------------------------------------------------------------------
# NaN, empty samples, errors
# --------------------------------------------------------------------------


def test_non_finite_values_are_left_out(xp):
    data, _ = sky_scene((128, 128), seed=12)
    rng = np.random.default_rng(13)
    bad = rng.random(data.shape) < 0.05
    dirty = data.copy()
    dirty[bad] = rng.choice([np.nan, np.inf, -np.inf], bad.sum())
    got = clipped_stats(xp.asarray(dirty), xp=xp)
    want = naive_clipped_stats(data, mask=~bad)
    assert_same_stats(got, want, 1e-3 * NOISE, data, ~bad)


@pytest.mark.parametrize("case", ["all masked", "all nan", "outside limits", "empty"])
def test_empty_sample_gives_nan(xp, case):
    data = np.random.default_rng(14).normal(SKY, NOISE, (16, 16))
    kwargs = {}
    if case == "all masked":
        kwargs["mask"] = xp.zeros(data.shape, dtype=bool)
    elif case == "all nan":
        data[:] = np.nan
    elif case == "outside limits":
        kwargs.update(lower=1e4, upper=2e4)
    else:
        data = np.zeros((0, 5))
    got = clipped_stats(xp.asarray(data), xp=xp, **kwargs)
    assert got.npix == 0
    assert all(math.isnan(f) for f in got[:4])


def test_clipping_never_empties_the_sample(xp):
    # two values: both lie 1 sigma from the mean, so a 0.5-sigma clip would
    # reject both; the iteration is not applied.
    got = clipped_stats(xp.asarray([-1.0, 1.0]), xp=xp, lsigma=0.5, usigma=0.5)
    assert got.npix == 2 and got.mean == 0.0 and got.sigma == 1.0


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(nclip=-1), "nclip"),
        (dict(nclip=2.5), "nclip"),
        (dict(nclip=True), "nclip"),
        (dict(lsigma=0.0), "lsigma"),
        (dict(usigma=-3.0), "usigma"),
        (dict(binwidth=float("nan")), "binwidth"),
        (dict(binwidth="0.1"), "binwidth"),
        (dict(lower=float("nan")), "lower"),
        (dict(upper="high"), "upper"),
        (dict(lower=5.0, upper=1.0), "lower"),
    ],
)
def test_bad_parameters_are_named(xp, kwargs, name):
    with pytest.raises(ValueError, match=f"'{name}'"):
        clipped_stats(xp.zeros((4, 4)), xp=xp, **kwargs)


def test_mask_shape_mismatch(xp):
    with pytest.raises(ValueError, match=r"'mask' has shape \(4, 5\); expected .*\(4, 4\)"):
        clipped_stats(xp.zeros((4, 4)), xp=xp, mask=xp.ones((4, 5), dtype=bool))


def test_no_log_noise(xp, caplog):
    with caplog.at_level(logging.DEBUG, logger="gpudriz"):
        clipped_stats(xp.asarray(sky_scene((32, 32))[0]), xp=xp)
    assert not caplog.records
