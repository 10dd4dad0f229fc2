"""The host-side rules both drizzle drivers share (:mod:`gpudriz.backend.host`)."""

import numpy as np
import pytest
from gpudriz.fallback.drizzle import KERNEL_CODES, KERNEL_NAMES

from gpudriz.backend.host import (
    drizzle_params,
    finite_pixmap,
    fold_nonfinite_variance,
    footprint_box,
    may_have_negative_weights,
)


def test_finite_pixmap_rule():
    pm = np.zeros((2, 3, 2))
    assert finite_pixmap(pm, np) is pm  # nothing to do: no copy
    pm[0, 1, 0] = np.inf
    pm[1, 2, 1] = -np.inf
    pm[1, 0, 0] = np.nan
    out = finite_pixmap(pm, np)
    assert np.isnan(out[0, 1]).all() and np.isnan(out[1, 2]).all()
    assert np.isinf(pm[0, 1, 0]), "the caller's pixmap is not modified"
    assert np.count_nonzero(np.isnan(out).any(axis=2)) == 3  # the NaN node stays as it is
    assert out[1, 0, 1] == 0.0


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
def test_params_are_float32_values(kernel):
    p = drizzle_params(kernel, 0.7, 1.3, 0.1, 2.2)
    assert p.kcode == KERNEL_CODES[kernel]
    assert p.pf == float(np.float32(0.7)) and p.s == float(np.float32(1.3))
    assert p.iscale2 == float(np.float32(0.1) * np.float32(0.1))
    assert p.lut.dtype == np.float64
    assert (p.lut.size > 1) == kernel.startswith("lanczos")
    assert (p.h > 0) == (kernel == "square") and (p.reach > 0) == (kernel != "square")


def test_nonfinite_variance_folds_into_the_weights():
    w = np.ones((2, 2), np.float32)
    assert fold_nonfinite_variance(w, None, np) is w
    var = np.ones((2, 2, 2), np.float32)
    assert fold_nonfinite_variance(w, var, np) is w
    var[1, 0, 1] = np.inf
    folded = fold_nonfinite_variance(w, var, np)
    assert np.isnan(folded[0, 1]) and np.isfinite(np.delete(folded.ravel(), 1)).all()


def test_negative_weights_need_a_context_flag():
    w = np.ones((2, 2), np.float32)
    assert not may_have_negative_weights(drizzle_params("square", 1, 1, 1, 1), w, np)
    assert may_have_negative_weights(drizzle_params("lanczos3", 1, 1, 1, 1), w, np)
    w[0, 0] = -1
    assert may_have_negative_weights(drizzle_params("square", 1, 1, 1, 1), w, np)


def test_footprint_box_is_clipped_and_empty_when_off_the_output():
    p = drizzle_params("square", 1.0, 1.0, 1.0, 1.0)
    # margin (2h + 2h^2) * step + reach + 1 = 2.5 for h = 0.5, step 1 and no reach
    assert footprint_box(10.0, 20.0, 5.0, 6.0, 1.0, p, 100, 100) == (7, 23, 2, 9)
    assert footprint_box(-50.0, 200.0, -50.0, 200.0, 1.0, p, 100, 80) == (0, 99, 0, 79)
    assert footprint_box(1.0, 0.0, 0.0, 1.0, 1.0, p, 100, 100) is None  # no mapped node
    assert footprint_box(500.0, 600.0, 0.0, 1.0, 1.0, p, 100, 100) is None
    assert footprint_box(0.0, 1.0, 0.0, 1.0, np.inf, p, 100, 100) is None
