"""Variances of medians of normal order statistics by quadrature, against closed forms and a direct simulation."""

import math

import numpy as np
import pytest

from gpudriz.pipeline.steps.order_statistics import order_statistic_median_variance as variance


def test_closed_forms():
    assert variance(1, 0, 1) == pytest.approx(1.0, abs=1e-9)
    assert variance(2, 0, 2) == pytest.approx(0.5, abs=1e-9)  # the mean of both
    assert variance(2, 0, 1) == pytest.approx(1.0 - 1.0 / math.pi, abs=1e-9)  # the lower of two
    assert variance(2, 1, 1) == pytest.approx(variance(2, 0, 1), abs=1e-12)  # the higher: the same by symmetry
    assert variance(3, 0, 3) == pytest.approx(0.448671, abs=2e-6)  # the median of three (order-statistic tables)


@pytest.mark.parametrize("m, first, count", [(5, 1, 3), (6, 1, 4), (7, 0, 6), (9, 2, 5)])
def test_a_direct_simulation_agrees(m, first, count):
    x = np.sort(np.random.default_rng(m).standard_normal((400_000, m)), axis=1)
    median = np.median(x[:, first : first + count], axis=1)
    assert variance(m, first, count) == pytest.approx(float(median.var()), rel=0.01)


def test_many_values_approach_the_asymptote():
    assert variance(301, 0, 301) == pytest.approx(math.pi / (2 * 301), rel=0.01)


@pytest.mark.parametrize("m, first, count", [(0, 0, 1), (3, 0, 0), (3, -1, 2), (3, 2, 2)])
def test_a_run_outside_the_values_is_refused(m, first, count):
    with pytest.raises(ValueError, match="no median of"):
        variance(m, first, count)
