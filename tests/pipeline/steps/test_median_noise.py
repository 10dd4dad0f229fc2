"""The median's part of driz_cr's noise (``gpudriz/pipeline/steps/median_noise.py``) against direct simulation."""

import math

import numpy as np
import pytest

from gpudriz.pipeline.steps import median_noise as mn
from gpudriz.pipeline.steps.order_statistics import order_statistic_median_variance


def test_statistic_variance_known_values():
    # Median of 3 normals: 0.4487 (order-statistic tables); of 2: their mean, 1/2.
    assert mn.statistic_variance("median", 3) == pytest.approx(0.448671, abs=1e-5)
    assert mn.statistic_variance("median", 2) == pytest.approx(0.5, abs=1e-6)
    assert mn.statistic_variance("median", 1) == pytest.approx(1.0, abs=1e-6)
    # The mean and the sum are exact, nlow/nhigh included.
    assert mn.statistic_variance("average", 4, 0, 1) == pytest.approx(1 / 3)
    assert mn.statistic_variance("sum", 4, 1, 1) == 2.0
    # minmed's MED of four is the median of the lowest three, as median with nhigh=1.
    assert mn.statistic_variance("minmed", 4) == pytest.approx(
        mn.statistic_variance("median", 4, 0, 1), abs=1e-12
    )
    # nhigh=1 on two values keeps the lower: the minimum of two normals, 1 - 1/pi.
    assert mn.statistic_variance("median", 2, 0, 1) == pytest.approx(1 - 1 / math.pi, abs=1e-6)
    # minmed's MED of two is their mean.
    assert mn.statistic_variance("minmed", 2) == pytest.approx(0.5, abs=1e-6)


def test_statistic_variance_is_continuous_where_the_asymptote_takes_over():
    m = mn.QUADRATURE_MAX + 1
    for combine, first, count in (("median", 0, m), ("minmed", 0, m - 1)):
        asymptote = mn.statistic_variance(combine, m)
        assert asymptote == pytest.approx(order_statistic_median_variance(m, first, count), rel=0.006)
    assert mn.statistic_variance("median", 1000) == pytest.approx(math.pi / 2000, rel=0.01)


def test_statistic_variance_matches_a_direct_simulation():
    rng = np.random.default_rng(5)
    x = np.sort(rng.standard_normal((200_000, 5)), axis=1)
    assert mn.statistic_variance("median", 5, 1, 1) == pytest.approx(np.var(x[:, 2]), rel=0.03)


def test_closed_form_kernel():
    v, k0 = mn.drizzle_blot_kernel("square", 1.0, 1.0)
    # Equal pixels, pixfrac 1, linear blot: K0 = (2/3)^2 per axis pair.
    assert k0 == pytest.approx(4 / 9, rel=1e-3)
    assert 0.2 < v < k0
    # A smaller drop smooths less.
    assert mn.drizzle_blot_kernel("square", 0.5, 1.0)[1] > k0


def _pixmap(shape, angle_deg=0.0, shift=(0.0, 0.0)):
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    a = math.radians(angle_deg)
    xo = math.cos(a) * x - math.sin(a) * y + shift[0] + 20.0
    yo = math.sin(a) * x + math.cos(a) * y + shift[1] + 20.0
    return np.dstack([xo, yo])


def test_measured_kernel_of_an_identity_map_is_one():
    v, k0 = mn.measure_drizzle_blot_kernel(_pixmap((160, 160)), kernel="square", pixfrac=1.0,
                                           pixel_scale_ratio=1.0, interp="poly5", backend="cpu")
    assert v == pytest.approx(1.0, abs=1e-5) and k0 == pytest.approx(1.0, abs=1e-5)


def test_measured_kernel_matches_the_closed_form_for_a_linear_blot():
    # A slight rotation sweeps every sub-pixel phase across the probe.
    v, k0 = mn.measure_drizzle_blot_kernel(_pixmap((200, 200), angle_deg=1.3), kernel="square",
                                           pixfrac=1.0, pixel_scale_ratio=1.0, interp="linear",
                                           backend="cpu")  # fmt: skip
    cv, ck0 = mn.drizzle_blot_kernel("square", 1.0, 1.0)
    assert k0 == pytest.approx(ck0, rel=0.05)
    assert v == pytest.approx(cv, rel=0.1)


def test_median_term_table():
    table = mn.median_term_table("median", 4, 0, 1, v=0.44, k0=0.6)
    assert table[0] == 0.0
    assert table[4] == pytest.approx(0.44 * mn.statistic_variance("median", 4, 0, 1) - 0.3, rel=1e-5)
    assert table[1] < table[2] < table[4] < 0  # fewer images: B follows D more closely


def test_median_term_table_from_variances_computed_beforehand():
    f = mn.statistic_variances("median", 6, 0, 1)
    assert f[0] == 0.0 and f[5] == mn.statistic_variance("median", 5, 0, 1)
    np.testing.assert_array_equal(mn.median_term_table("median", 6, 0, 1, 0.44, 0.6, variances=f),
                                  mn.median_term_table("median", 6, 0, 1, 0.44, 0.6))
    with pytest.raises(ValueError, match="variances for 5 images given, 6 needed"):
        mn.median_term_table("median", 6, 0, 1, 0.44, 0.6, variances=f[:6])


def test_statistic_variances_for_fewer_images_start_those_for_more_but_for_minmax():
    """What lets the mosaic mode simulate them from the run's start, for as many images as exposures."""
    for combine in ("median", "minmed", "average", "sum"):
        np.testing.assert_array_equal(mn.statistic_variances(combine, 9, 1, 2)[:6],
                                      mn.statistic_variances(combine, 5, 1, 2), err_msg=combine)
    assert mn.statistic_variances("minmax", 9, 1, 2)[5] != mn.statistic_variances("minmax", 5, 1, 2)[5]


def test_noise_scale_recovers_the_scatter_despite_outliers():
    rng = np.random.default_rng(8)
    shape = (400, 400)
    blot = np.full(shape, 300.0, np.float32)
    var = np.full(shape, 325.0, np.float32)
    data = blot + 1.15 * np.sqrt(var) * rng.standard_normal(shape).astype(np.float32)
    hits = rng.random(shape) < 0.02  # cosmic rays: far outliers
    data[hits] += rng.uniform(200.0, 3000.0, hits.sum()).astype(np.float32)
    data[3, 3] = np.nan
    assert mn.noise_scale(data, blot, var) == pytest.approx(1.15**2, rel=0.02)
    assert mn.noise_scale(data[:5, :5], blot[:5, :5], var[:5, :5]) == 1.0  # too few pixels
