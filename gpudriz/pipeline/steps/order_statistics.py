"""Moments of the order statistics of independent standard normal values, by quadrature.

The median step's statistics (the median of what ``combine_nlow`` and
``combine_nhigh`` keep, minmed's median without the highest value) are the
median of a run of consecutive order statistics of the ``m`` values at a
pixel: one of them, ``X(r)``, or the mean of two neighbours,
``(X(r) + X(r+1)) / 2``.  Their variance follows from the densities of the
order statistics of ``m`` values of density ``phi`` and distribution ``Phi``:

* ``X(r)``: ``m! / ((r-1)! (m-r)!) Phi(x)**(r-1) (1 - Phi(x))**(m-r) phi(x)``;
* ``X(r), X(r+1)`` (``x < y``): ``m! / ((r-1)! (m-r-1)!) Phi(x)**(r-1) phi(x) phi(y) (1 - Phi(y))**(m-r-1)``,

so ``E[X(r) X(r+1)] = C int x Phi(x)**(r-1) phi(x) H(x) dx`` with
``H(x) = int_x^inf y phi(y) (1 - Phi(y))**(m-r-1) dy``, one cumulative
integral.  Integrated by the trapezoid rule on a fine grid (the integrands
are smooth and vanish at its ends), the variances are exact to ~1e-6,
where a simulation of 40,000 draws is within ~1% (and took ~2 s for the
63 stacks of 2 to 64 values; this takes milliseconds).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

__all__ = ["order_statistic_median_variance"]

#: The quadrature grid: |x| <= GRID_HALF_WIDTH (Phi(-12) ~ 2e-33: nothing left outside), GRID_POINTS points.
GRID_HALF_WIDTH = 12.0
GRID_POINTS = 24_001


@lru_cache(maxsize=1)
def _grid():
    """``x``, trapezoid weights, ``log phi(x)``, ``log Phi(x)`` and ``log (1 - Phi(x))`` on the grid."""
    x = np.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, GRID_POINTS)
    h = x[1] - x[0]
    weights = np.full(x.size, h)
    weights[[0, -1]] = 0.5 * h
    log_phi = -0.5 * x * x - 0.5 * math.log(2.0 * math.pi)
    # Phi(x) = erfc(-x / sqrt 2) / 2, accurate in both tails (1 - Phi(x) = Phi(-x) by symmetry).
    cdf = 0.5 * np.frompyfunc(math.erfc, 1, 1)(-x / math.sqrt(2.0)).astype(np.float64)
    return x, weights, log_phi, np.log(cdf), np.log(cdf[::-1])


def _log_factorial(k: int) -> float:
    return math.lgamma(k + 1)


def _single_moments(m: int, r: int):
    """``E[X(r)]`` and ``E[X(r)**2]`` of ``m`` values (``r`` 1-based)."""
    x, w, log_phi, log_cdf, log_sf = _grid()
    log_c = _log_factorial(m) - _log_factorial(r - 1) - _log_factorial(m - r)
    density = np.exp(log_c + (r - 1) * log_cdf + (m - r) * log_sf + log_phi) * w
    return float((x * density).sum()), float((x * x * density).sum())


def _neighbour_product(m: int, r: int) -> float:
    """``E[X(r) X(r+1)]`` of ``m`` values (``r`` 1-based, ``r < m``)."""
    x, w, log_phi, log_cdf, log_sf = _grid()
    upper = x * np.exp((m - r - 1) * log_sf + log_phi)  # y phi(y) (1 - Phi(y))**(m-r-1)
    # H(x) = int_x^inf upper(y) dy: the trapezoid rule summed from the right end.
    steps = 0.5 * (upper[1:] + upper[:-1]) * (x[1] - x[0])
    tail = np.zeros(x.size)
    tail[:-1] = np.cumsum(steps[::-1])[::-1]
    log_c = _log_factorial(m) - _log_factorial(r - 1) - _log_factorial(m - r - 1)
    lower = np.exp(log_c + (r - 1) * log_cdf + log_phi)
    return float((x * lower * tail * w).sum())


@lru_cache(maxsize=8192)
def order_statistic_median_variance(m: int, first: int, count: int) -> float:
    """Variance of the median of the order statistics ``first + 1 .. first + count`` of ``m`` N(0, 1) values.

    Parameters
    ----------
    m : int
        Number of values (>= 1).
    first : int
        How many of the lowest are left out (>= 0).
    count : int
        How many are kept (>= 1, ``first + count <= m``); their median is
        the middle one for an odd count, the mean of the middle two for an
        even one (as :func:`numpy.median`).

    Returns
    -------
    float
        The variance in units of one value's variance.
    """
    if m < 1 or first < 0 or count < 1 or first + count > m:
        raise ValueError(f"no median of {count} order statistic(s) from the {first + 1}th of {m} values.")
    if count % 2:
        mean, square = _single_moments(m, first + (count + 1) // 2)
        return square - mean * mean
    r = first + count // 2
    mean_a, square_a = _single_moments(m, r)
    mean_b, square_b = _single_moments(m, r + 1)
    product = _neighbour_product(m, r)
    return 0.25 * (square_a + 2.0 * product + square_b) - 0.25 * (mean_a + mean_b) ** 2
