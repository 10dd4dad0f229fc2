"""The median step's combine (``fallback/combine.py``) against its naive twin, and its invariants.

Every combine type x thresholds x weight masks x number of images (1, 2, 3,
even and odd, and past the insertion-sort limit so that the heapsort runs),
average/median/sum/minmax x nlow/nhigh (including fewer good values than
nlow + nhigh + 1), minmed x nsigma x grow {0, 1, 2}, and the good-value
counts.  The stacks hold
cosmic-ray-like outliers, low and zero weights, NaN/inf data and weights and
a pixel masked in every image.  Values must agree to float32 rounding, fill
pixels and minmed's choices exactly.
"""

import numpy as np
import pytest
from gpudriz.fallback import combine as fc
from helpers.combine_cases import (
    FILL,
    NS,
    RTOL,
    SENTINEL,
    SHAPE,
    make_stack,
    matrix,
    minmed_noise,
    weight_minimum,
)
from helpers.naive_combine import combine as naive_combine
from helpers.naive_combine import combine_with_counts
from numpy.testing import assert_allclose, assert_array_equal


def run(sci, wht, wht_min, combine_type, **kw):
    out = np.full(sci.shape[1:], SENTINEL, dtype=np.float32)
    fc.combine(sci, wht, wht_min, out, combine_type, fill=FILL, **kw)
    assert not np.any(out == SENTINEL), "the kernel left output pixels unwritten"
    return out


def assert_matches(got, ref):
    """``FILL`` exactly where the oracle has it, float32 rounding elsewhere."""
    at_fill = ref == np.float32(FILL)
    assert_array_equal(got[at_fill], ref[at_fill])
    scale = max(float(np.max(np.abs(ref))), 1.0)
    assert_allclose(got, ref, rtol=RTOL, atol=RTOL * scale)


@pytest.mark.parametrize("n", NS)
@pytest.mark.parametrize("combine_type", list(fc.COMBINE_CODES))
def test_against_naive(combine_type, n):
    for sci, wht, wht_min, kw in matrix(combine_type, n):
        ref, _ = naive_combine(sci, wht, wht_min, combine_type, fill=FILL, **kw)
        got = run(sci, wht, wht_min, combine_type, **kw)
        assert got[0, 0] == np.float32(FILL)  # masked in every image
        assert_matches(got, ref)


def test_minmed_ignores_nlow_nhigh():
    sci, wht = make_stack(5, seed=6)
    wht_min = weight_minimum(wht, "maskpt")
    a = run(sci, wht, wht_min, "minmed")
    assert_array_equal(run(sci, wht, wht_min, "minmed", nlow=1, nhigh=2), a)


def test_median_nhigh_drops_a_double_cosmic_ray():
    """Four images, two hit: the plain median keeps half the hit, nhigh=1 removes it."""
    sci = np.full((4, 1, 1), 1.0, dtype=np.float32)
    sci[:, 0, 0] = [1.0, 1.2, 50.0, 60.0]
    wht = np.ones_like(sci)
    wmin = np.zeros(4, np.float32)
    assert run(sci, wht, wmin, "median")[0, 0] == np.float32(25.6)
    assert run(sci, wht, wmin, "median", nhigh=1)[0, 0] == np.float32(1.2)
    assert run(sci, wht, wmin, "average", nhigh=2)[0, 0] == np.float32(1.1)
    assert run(sci, wht, wmin, "sum", nlow=1, nhigh=1)[0, 0] == np.float32(51.2)


@pytest.mark.parametrize("combine_type", ["average", "median", "sum"])
def test_fewer_good_values_than_rejections(combine_type):
    """numcombine's rule: lower nlow and nhigh together until a value is left."""
    sci = np.array([[[4.0]], [[1.0]], [[9.0]]], dtype=np.float32)
    wht = np.ones_like(sci)
    wmin = np.zeros(3, np.float32)
    # nlow=2, nhigh=2 on 3 values -> (1, 1): the middle value.
    assert run(sci, wht, wmin, combine_type, nlow=2, nhigh=2)[0, 0] == np.float32(4.0)
    # nhigh=3 on 3 values -> nhigh 2: the lowest value.
    assert run(sci, wht, wmin, combine_type, nhigh=3)[0, 0] == np.float32(1.0)
    # One good value is used as it is, whatever nlow/nhigh are.
    wht[1:] = 0.0
    assert run(sci, wht, wmin, combine_type, nlow=1, nhigh=1)[0, 0] == np.float32(4.0)


@pytest.mark.parametrize("combine_type", list(fc.COMBINE_CODES))
def test_good_value_counts(combine_type):
    n = 6
    sci, wht = make_stack(n, seed=9)
    wht_min = weight_minimum(wht, "maskpt")
    exptime, sky, rdnoise = minmed_noise(n)
    kw = dict(exptime=exptime, sky=sky, rdnoise=rdnoise, lthresh=0.9)
    _, _, ref = combine_with_counts(sci, wht, wht_min, combine_type, fill=FILL, **kw)
    count = np.full(SHAPE, -1, dtype=np.int32)
    run(sci, wht, wht_min, combine_type, count=count, **kw)
    assert_array_equal(count, ref)
    assert count[0, 0] == 0 and count.max() == n and len(np.unique(count)) > 2


def test_stacks_exercise_the_rules():
    """The test data reach every branch the comparisons above rely on."""
    sci, wht = make_stack(5, seed=5)
    wht_min = weight_minimum(wht, "maskpt")
    exptime, sky, rdnoise = minmed_noise(5)
    noise = dict(exptime=exptime, sky=sky, rdnoise=rdnoise)
    no_thr, _ = naive_combine(sci, wht, wht_min, "median", fill=FILL)
    thr, _ = naive_combine(sci, wht, wht_min, "median", lthresh=0.9, hthresh=20.0, fill=FILL)
    assert (no_thr != thr).sum() > 10
    zero_min = weight_minimum(wht, "zero")
    assert (naive_combine(sci, wht, zero_min, "median")[0] != no_thr).sum() > 5
    # minmax: fewer good values than images scale the rejection counts down.
    a, _ = naive_combine(sci, wht, wht_min, "minmax", nlow=1, nhigh=1, fill=FILL)
    b, _ = naive_combine(sci, wht, wht_min, "minmax", nlow=0, nhigh=0, fill=FILL)
    assert (a != b).sum() > 10
    # minmed: MIN chosen by the first test, by the second only, and growth matters.
    g0, (med, mn, t1, t2) = naive_combine(sci, wht, wht_min, "minmed", grow=0, **noise)
    g1, _ = naive_combine(sci, wht, wht_min, "minmed", grow=1, **noise)
    assert t1.sum() >= 3
    assert (t2 & ~t1).sum() >= 3
    assert (g0 != g1).sum() >= 3


@pytest.mark.parametrize("n", [1, 4, fc.INSERTION_MAX + 2])
def test_minmax_counting_left_out_images_equals_stacking_them_without_weight(n):
    """``nimages`` stands for images without a good value, as zero-weight planes in the stack would."""
    sci, wht = make_stack(n, seed=20 + n)
    wht_min = weight_minimum(wht, "maskpt")
    pad = 5
    padded_sci = np.concatenate([sci, np.full((pad,) + SHAPE, 3.0, np.float32)])
    padded_wht = np.concatenate([wht, np.zeros((pad,) + SHAPE, np.float32)])
    padded_min = np.concatenate([wht_min, np.zeros(pad, np.float32)])
    for nlow, nhigh in ((1, 1), (2, 3), (4, 4)):
        kw = dict(nlow=nlow, nhigh=nhigh)
        want = run(padded_sci, padded_wht, padded_min, "minmax", **kw)
        assert_array_equal(run(sci, wht, wht_min, "minmax", nimages=n + pad, **kw), want)
    # Counting them changes the result: the rejections scale down with the images counted.
    assert not np.array_equal(run(sci, wht, wht_min, "minmax", nimages=n + pad, nlow=2, nhigh=3),
                              run(sci, wht, wht_min, "minmax", nlow=2, nhigh=3))  # fmt: skip


def test_nimages_fewer_than_the_stack_is_refused():
    sci, wht = make_stack(4, seed=3)
    with pytest.raises(ValueError, match=r"nimages \(3\) must be at least the 4 images in the stack"):
        run(sci, wht, weight_minimum(wht, "zero"), "minmax", nlow=1, nimages=3)


@pytest.mark.parametrize("n", [3, 6, fc.INSERTION_MAX + 4])
def test_minmed_flags_match_naive_tests(n):
    """The kernel's MED, MIN and test bits, which the growth pass reads."""
    sci, wht = make_stack(n, seed=10 + n)
    wht_min = weight_minimum(wht, "maskpt")
    exptime, sky, rdnoise = minmed_noise(n, seed=n)
    _, (med, mn, t1, t2) = naive_combine(
        sci, wht, wht_min, "minmed", exptime=exptime, sky=sky, rdnoise=rdnoise, fill=FILL
    )
    shape = SHAPE
    out = np.empty(shape, np.float32)
    k_med = np.empty(shape, np.float32)
    k_mn = np.empty(shape, np.float32)
    flags = np.empty(shape, np.uint8)
    scratch = np.empty(sci.shape, np.float32)
    fc.combine_pixels(sci, wht, wht_min, fc.COMBINE_CODES["minmed"], 0, 0, n, 0, 0.0, 0, 0.0,
                      exptime, sky, rdnoise, 6.0, 3.0, FILL, scratch, out, k_med, k_mn,
                      flags, np.empty((0, 0), np.int32))  # fmt: skip
    has = (flags & fc.HAS_DATA) != 0
    assert_array_equal(has, med != FILL)
    assert_array_equal((flags & fc.MIN_N1) != 0, t1)
    assert_array_equal((flags & fc.MIN_N2) != 0, t2)
    assert_array_equal(k_med, med.astype(np.float32))
    assert_array_equal(k_mn, mn.astype(np.float32))
    assert_array_equal(out, np.where(t1, k_mn, k_med))


def test_constant_stack():
    n = 4
    sci = np.full((n,) + SHAPE, 2.5, np.float32)
    wht = np.ones((n,) + SHAPE, np.float32)
    wht_min = np.zeros(n, np.float32)
    for combine_type in fc.COMBINE_CODES:
        got = run(sci, wht, wht_min, combine_type, nhigh=1, grow=1)
        assert_array_equal(got, np.float32(7.5 if combine_type == "sum" else 2.5))


def test_even_median_is_the_mean_of_the_middle_two():
    sci = np.array([4.0, 1.0, 3.0, 10.0], np.float32).reshape(4, 1, 1)
    wht = np.ones_like(sci)
    got = run(sci, wht, np.zeros(4, np.float32), "median")
    assert got[0, 0] == np.float32(3.5)
    # minmed drops the single highest first: the median of 1, 3, 4.
    got = run(sci, wht, np.zeros(4, np.float32), "minmed", nsigma=(1e6, 1e6))
    assert got[0, 0] == np.float32(3.0)


def test_values_on_a_threshold_are_kept():
    sci = np.array([1.0, 2.0, 3.0, 7.0], np.float32).reshape(4, 1, 1)
    wht = np.ones_like(sci)
    wht_min = np.zeros(4, np.float32)
    assert run(sci, wht, wht_min, "sum", lthresh=1.0, hthresh=7.0)[0, 0] == 13.0
    assert run(sci, wht, wht_min, "sum", lthresh=1.5, hthresh=3.0)[0, 0] == 5.0
    assert run(sci, wht, wht_min, "sum", lthresh=8.0)[0, 0] == np.float32(FILL)


def test_weight_at_the_minimum_is_masked():
    """``wht > wht_min`` is required: a weight equal to the minimum masks the value."""
    sci = np.array([1.0, 2.0, 4.0], np.float32).reshape(3, 1, 1)
    wht = np.array([0.5, 0.7, 0.0], np.float32).reshape(3, 1, 1)
    wht_min = np.array([0.4, 0.7, 0.0], np.float32)
    assert run(sci, wht, wht_min, "sum")[0, 0] == 1.0


def test_order_of_images_does_not_matter():
    n = 2 * fc.INSERTION_MAX + 3
    sci, wht = make_stack(n, seed=3)
    wht_min = weight_minimum(wht, "maskpt")
    exptime, sky, rdnoise = minmed_noise(n)
    perm = np.random.default_rng(4).permutation(n)
    for combine_type in fc.COMBINE_CODES:
        kw = dict(nlow=1, nhigh=2, grow=1, exptime=exptime, sky=sky, rdnoise=rdnoise)
        a = run(sci, wht, wht_min, combine_type, **kw)
        kw.update(exptime=exptime[perm], sky=sky[perm], rdnoise=rdnoise[perm])
        b = run(np.ascontiguousarray(sci[perm]), np.ascontiguousarray(wht[perm]),
                wht_min[perm], combine_type, **kw)  # fmt: skip
        # Selections are exact; sums may round differently in another order.
        assert_allclose(a, b, rtol=RTOL, atol=RTOL * float(np.abs(a).max()))


def test_hundreds_of_images():
    """No limit on n: 300 images, median against NumPy's."""
    rng = np.random.default_rng(8)
    sci = rng.normal(5.0, 2.0, (300, 3, 4)).astype(np.float32)
    wht = np.ones_like(sci)
    got = run(sci, wht, np.zeros(300, np.float32), "median")
    assert_array_equal(got, np.median(sci.astype(np.float64), axis=0).astype(np.float32))


def test_minmed_takes_the_minimum_under_a_double_cosmic_ray():
    """Two of three images hit: the median is the cosmic ray, minmed takes the clean value."""
    n = 3
    sci = np.full((n,) + SHAPE, 1.0, np.float32)
    sci[0, 4, 5] = sci[1, 4, 5] = 50.0
    sci[2, 4, 5] = 1.02
    wht = np.full_like(sci, 100.0)
    wht_min = np.zeros(n, np.float32)
    kw = dict(exptime=np.full(n, 100.0), sky=np.full(n, 40.0), rdnoise=np.full(n, 5.0))
    assert run(sci, wht, wht_min, "median")[4, 5] == 50.0
    for grow in (0, 1, 2):
        got = run(sci, wht, wht_min, "minmed", grow=grow, **kw)
        assert got[4, 5] == np.float32(1.02)
        assert (np.delete(got.ravel(), 4 * SHAPE[1] + 5) == 1.0).all()


def _sections(sci, wht, wht_min, bounds, halo, **kw):
    """minmed of each row section with ``halo`` extra rows, inner rows stacked."""
    ny = sci.shape[1]
    parts = []
    for r0, r1 in bounds:
        h0, h1 = max(r0 - halo, 0), min(r1 + halo, ny)
        sec = run(np.ascontiguousarray(sci[:, h0:h1]), np.ascontiguousarray(wht[:, h0:h1]),
                  wht_min, "minmed", **kw)  # fmt: skip
        parts.append(sec[r0 - h0 : r1 - h0])
    return np.concatenate(parts)


def test_growth_in_row_sections_with_halo():
    """Sections with ``grow`` halo rows, inner rows kept, give the whole-image result."""
    n, grow, ny = 5, 2, 20
    bounds = ((0, 7), (7, 13), (13, ny))
    exptime, sky, rdnoise = minmed_noise(n)
    kw = dict(exptime=exptime, sky=sky, rdnoise=rdnoise, grow=grow, nsigma=(4.0, 1.0))
    sci, wht = make_stack(n, seed=21, shape=(ny, 11))
    wht_min = weight_minimum(wht, "maskpt")
    whole = run(sci, wht, wht_min, "minmed", **kw)
    assert_array_equal(_sections(sci, wht, wht_min, bounds, grow, **kw), whole)

    # Across both boundaries of a clean stack: a strong cosmic ray (MIN by the
    # first test) on one side, a weak one (MIN by the second test only) on the
    # other, which the growth reaches only through the halo.
    rng = np.random.default_rng(22)
    sci = (1.0 + 0.01 * rng.standard_normal((n, ny, 11))).astype(np.float32)
    wht = np.full_like(sci, 100.0)
    for (j, i), x in (((6, 5), 50.0), ((7, 5), 1.4), ((13, 2), 50.0), ((12, 2), 1.4)):
        sci[:, j, i] = [1.0, 1.0, x, x, x]
    wht_min = np.zeros(n, np.float32)
    whole = run(sci, wht, wht_min, "minmed", **kw)
    assert whole[7, 5] == 1.0 and whole[12, 2] == 1.0  # grown into
    assert_array_equal(_sections(sci, wht, wht_min, bounds, grow, **kw), whole)
    cut = _sections(sci, wht, wht_min, bounds, 0, **kw)
    assert cut[7, 5] > 1.1 and cut[12, 2] > 1.1  # MED: the growth did not reach


def test_unknown_combine_type_is_named():
    sci, wht = make_stack(2)
    out = np.empty(SHAPE, np.float32)
    with pytest.raises(ValueError, match="combine_type must be one of .*'imedian'"):
        fc.combine(sci, wht, np.zeros(2, np.float32), out, "imedian")


def test_minmed_sky_needs_exptime():
    sci, wht = make_stack(2)
    out = np.empty(SHAPE, np.float32)
    with pytest.raises(ValueError, match="exptime is required"):
        fc.combine(sci, wht, np.zeros(2, np.float32), out, "minmed", sky=[1.0, 2.0])
