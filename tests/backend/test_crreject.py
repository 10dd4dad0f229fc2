"""driz_cr's cosmic-ray test (``fallback/crreject.py``) against its naive twin, and its invariants.

Every (snr, scale) pair below x grow {0, 1, 2} x with and without a ``good``
mask x gain, on chips with a star, cosmic rays (on the edges and corners
too), NaN data and NaN blot pixels: masks must agree exactly.  Invariants:
the change of units with the gain, a cosmic ray in one of several images is
found against their median while a star in all of them is not, non-finite
and untested pixels are never flagged.
"""

import numpy as np
import pytest
from gpudriz.fallback import combine as fc
from gpudriz.fallback import crreject as fcr
from helpers.crreject_cases import (
    PAIR_IDS,
    PAIRS,
    SENTINEL,
    SHAPE,
    STEP_PIXELS,
    good_mask,
    make_chip,
    median_variance,
    star,
    step_chip,
)
from helpers.naive_crreject import derivative, passes
from helpers.naive_crreject import driz_cr as naive_driz_cr
from numpy.testing import assert_array_equal


def run(data, blot, rdnoise, **kw):
    out = np.full(data.shape, SENTINEL, dtype=np.uint8)
    fcr.driz_cr(data, blot, rdnoise, out, **kw)
    assert not np.any(out == SENTINEL), "the kernels left mask pixels unwritten"
    return out


@pytest.mark.parametrize("use_var", [False, True], ids=["no-var", "blot-var"])
@pytest.mark.parametrize("gain", [1.0, 2.5])
@pytest.mark.parametrize("use_good", [False, True], ids=["all", "good-mask"])
@pytest.mark.parametrize(("snr", "scale"), PAIRS, ids=PAIR_IDS)
def test_against_naive(snr, scale, use_good, gain, use_var):
    data, blot, rdnoise = make_chip(seed=1)
    good = good_mask() if use_good else None
    median_var = median_variance(blot) / np.float32(gain**2) if use_var else None
    for grow in (0, 1, 2):
        kw = dict(gain=gain, snr=snr, scale=scale, grow=grow, good=good, median_var=median_var)
        ref = naive_driz_cr(data, blot, rdnoise, **kw)
        got = run(data, blot, rdnoise, **kw)
        assert_array_equal(got, ref)
        assert ref.any()


def test_chip_exercises_the_rules():
    """bad1 and bad2 both occur, not nested for the stricter second pass; edges are hit."""
    data, blot, rdnoise = make_chip(seed=1)
    b1, b2 = passes(data, blot, rdnoise, 1.0, *PAIRS[0])
    assert (b2 & ~b1).any() and b1.any()
    b1, b2 = passes(data, blot, rdnoise, 1.0, *PAIRS[3])
    assert (b1 & ~b2).any()
    mask = naive_driz_cr(data, blot, rdnoise, snr=PAIRS[0][0], scale=PAIRS[0][1])
    ny, nx = SHAPE
    assert mask[0, 0] and mask[ny - 1, nx - 1] and mask[5, 0] and mask[10, 3]
    grown = naive_driz_cr(data, blot, rdnoise, snr=PAIRS[0][0], scale=PAIRS[0][1], grow=1)
    assert grown.sum() > mask.sum()


def test_flag_kernels_match_naive_passes():
    data, blot, rdnoise = make_chip(seed=2)
    good = good_mask(seed=4)
    flags = np.full(SHAPE, SENTINEL, np.uint8)
    fcr.crr_flags(data, blot, rdnoise, np.empty((0, 0), np.float32), good, 1.0, 3.0, 2.5, 1.2,
                  0.7, flags)  # fmt: skip
    b1, b2 = passes(data, blot, rdnoise, 1.0, (3.0, 2.5), (1.2, 0.7), good)
    assert_array_equal((flags & fcr.BAD1) != 0, b1)
    assert_array_equal((flags & fcr.BAD2) != 0, b2)
    assert_array_equal(flags & ~np.uint8(fcr.BAD1 | fcr.BAD2), 0)


#: Blot pixels raised by a step: a corner, edges, the interior.
def step_expected(q, shape=SHAPE):
    """bad1 of `step_chip`: everywhere but at ``q`` and its 4-neighbours that exist."""
    expected = np.ones(shape, bool)
    j, i = q
    for jj, ii in ((j, i), (j, i - 1), (j, i + 1), (j - 1, i), (j + 1, i)):
        if 0 <= jj < shape[0] and 0 <= ii < shape[1]:
            expected[jj, ii] = False
    return expected


@pytest.mark.parametrize("q", STEP_PIXELS)
def test_derivative_uses_the_existing_four_neighbours(q):
    data, blot, rdnoise = step_chip(q)
    flags = np.empty(SHAPE, np.uint8)
    fcr.crr_flags(data, blot, rdnoise, np.empty((0, 0), np.float32), np.empty((0, 0), np.uint8),
                  1.0, 3.0, 2.5, 1.2, 0.7, flags)  # fmt: skip
    assert_array_equal((flags & fcr.BAD1) != 0, step_expected(q))


def test_gain_changes_units_only():
    """Data in DN with gain 4 flag exactly what the same data in electrons flag with gain 1."""
    data, blot, rdnoise = make_chip(seed=5)
    g = np.float32(4.0)  # a power of two: the unit change is exact in floating point
    for grow in (0, 1):
        e = run(data, blot, rdnoise, gain=1.0, grow=grow)
        dn = run(data / g, blot / g, rdnoise, gain=4.0, grow=grow)
        assert_array_equal(dn, e)
        assert e.any()


def test_cosmic_ray_found_against_the_median_star_is_not():
    """Five slightly misregistered images of a star, a cosmic ray in the first one.

    Against the median (blotted = the median, same frame), the cosmic ray is
    flagged with its neighbours above the second threshold, and nothing else
    is: the star's residuals from the misregistration are covered by the
    derivative term (without it, scale = 0, they are flagged).
    """
    shape = (24, 26)
    offsets = [(0.0, 0.0), (0.08, -0.05), (-0.06, 0.07), (0.05, 0.04), (-0.07, -0.06)]
    images = [200.0 + star(shape, 12.0 + dx, 11.0 + dy, 8000.0) for dx, dy in offsets]
    sci = np.asarray(images, np.float32)
    sci[0, 18, 5] += 600.0
    sci[0, 18, 6] += 150.0
    median = np.empty(shape, np.float32)
    fc.combine(sci, np.ones_like(sci), np.zeros(5, np.float32), median, "median")
    rdnoise = np.full(shape, 4.0, np.float32)
    mask = run(sci[0], median, rdnoise, grow=0)
    expected = np.zeros(shape, np.uint8)
    expected[18, 5:7] = 1
    assert_array_equal(mask, expected)
    for k in range(1, 5):
        assert not run(np.ascontiguousarray(sci[k]), median, rdnoise).any()
    flat = run(np.ascontiguousarray(sci[1]), median, rdnoise, scale=(0.0, 0.0))
    assert flat[8:15, 9:16].any(), "without the derivative term the star would be flagged"
    grown = run(sci[0], median, rdnoise, grow=1)
    assert_array_equal(grown[17:20, 4:8], 1)
    assert grown.sum() == 12


def test_nonfinite_pixels_are_not_cosmic_rays():
    """NaN/inf in D or B: never flagged by the test; a NaN blot neighbour leaves the derivative."""
    data, blot, rdnoise = make_chip(seed=6)
    data[7, 7] = np.inf
    data[11, 13] += 800.0  # beside the NaN blot pixel (11, 12)
    mask = run(data, blot, rdnoise)
    assert not mask[~np.isfinite(data) | ~np.isfinite(blot)].any()
    assert mask[11, 13] == 1


def test_untested_pixels_are_never_flagged():
    """good = 0: not tested, no seed for the neighbours' 3 x 3 test, not grown into."""
    data, blot, rdnoise = make_chip(seed=6)
    # Make the faint half of the pair pass the second test only.
    noise = np.sqrt(abs(float(blot[10, 4])) + float(rdnoise[10, 4]) ** 2)
    deriv = derivative(blot, 10, 4)
    thr1, thr2 = 1.2 * deriv + 3.0 * noise, 0.7 * deriv + 2.5 * noise
    data[10, 4] = blot[10, 4] + 0.5 * (thr1 + thr2)
    base = run(data, blot, rdnoise)
    assert base[10, 3] == 1 and base[10, 4] == 1  # the 2-pixel cosmic ray
    good = np.ones(SHAPE, np.uint8)
    good[10, 3] = 0  # its bright half
    good[9, 5] = 0  # a pixel the growth would reach
    assert run(data, blot, rdnoise, grow=2)[9, 5] == 1
    for grow in (0, 1, 2):
        mask = run(data, blot, rdnoise, grow=grow, good=good)
        assert mask[10, 3] == 0 and mask[9, 5] == 0
    # The faint half passes the second test only; its bright neighbour no
    # longer seeds it.
    b1, b2 = passes(data, blot, rdnoise, 1.0, (3.0, 2.5), (1.2, 0.7))
    assert b2[10, 4] and not b1[10, 4]
    assert run(data, blot, rdnoise, good=good)[10, 4] == 0


def test_median_noise_lowers_false_flags():
    """Pure noise in D and in B: without var(B) the test is too strict, with it as designed.

    D and B are independent noisy images of the same sky, as the data and
    its blotted median are; the fraction of pixels past 3 sigma of D - B
    must be the Gaussian one only when the noise of B is counted.
    """
    rng = np.random.default_rng(11)
    shape = (300, 300)
    sky, rn, frac = 400.0, 5.0, 0.35
    var_d = sky + rn * rn
    blot = (sky + np.sqrt(frac * var_d) * rng.standard_normal(shape)).astype(np.float32)
    data = (sky + np.sqrt(var_d) * rng.standard_normal(shape)).astype(np.float32)
    rdnoise = np.full(shape, rn, np.float32)
    var_b = np.full(shape, frac * var_d, np.float32)
    kw = dict(snr=(3.0, 3.0), scale=(0.0, 0.0))
    without = run(data, blot, rdnoise, **kw).mean()
    with_var = run(data, blot, rdnoise, median_var=var_b, **kw).mean()
    assert without > 3 * with_var
    assert 0.0015 < with_var < 0.0045  # two-sided Gaussian tail past 3 sigma: 0.0027
