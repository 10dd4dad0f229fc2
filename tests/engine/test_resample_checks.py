"""The argument checks of Drizzle (:mod:`gpudriz.resample_checks`), called directly.

Through :class:`gpudriz.Drizzle` (and with drizzle 3.x's words) they are tested in
``test_validation.py`` and ``test_drizzle_conformance.py``.
"""

import warnings

import numpy as np
import pytest

from gpudriz import resample_checks as rc


def test_kernel_and_context_ids():
    assert rc.check_kernel("Lanczos3") == "lanczos3"
    with pytest.raises(ValueError, match=r"^Kernel 'cubic' is not supported\.$"):
        rc.check_kernel("cubic")
    assert rc.check_ctx_ids(3, None) == (3, 3)
    assert rc.check_ctx_ids(0, 40.0) == (0, 40)
    with pytest.raises(ValueError, match="cannot be smaller"):
        rc.check_ctx_ids(5, 4)


def test_shapes():
    assert rc.check_out_shape([3.0, 4]) == (3, 4)
    with pytest.raises(ValueError, match="two positive integers"):
        rc.check_out_shape((0, 4))
    assert rc.common_shape(set()) is None and rc.common_shape({(2, 3)}) == (2, 3)
    with pytest.raises(ValueError, match=rc.SHAPES_MSG):
        rc.common_shape({(2, 3), (3, 2)})


def test_fill_values():
    assert rc.parse_fillval("INDEF", "fillval", True) is None
    assert np.isnan(rc.parse_fillval(None, "fillval", False))
    assert rc.parse_fillval("-1", "fillval", False) == -1.0
    with pytest.raises(TypeError, match="'fillval2' must be a number"):
        rc.parse_fillval([1], "fillval2", False)


def test_input_box_is_clipped():
    assert rc.input_box(10, 8, None, None, None, None) == (0, 9, 0, 7)
    assert rc.input_box(10, 8, -3, 50, 2, 5) == (0, 9, 2, 5)
    with pytest.raises(ValueError, match="Empty input box"):
        rc.input_box(10, 8, 6, 5, 0, 7)


def test_dq_flags_and_data2_stack():
    assert rc.as_uint32_flags(np.array([[1, 2]], np.int16), "dq", np).dtype == np.uint32
    with pytest.raises(TypeError, match=rc.DQ_TYPE_MSG):
        rc.as_uint32_flags(np.zeros((1, 1), np.uint64), "dq", np)
    stack, n2 = rc.stack_data2([None, np.ones((2, 3))], (2, 3), np)
    assert n2 == 2 and stack.dtype == np.float32 and stack[0].sum() == 0 and stack[1].sum() == 6
    with pytest.raises(ValueError, match=r"'data2' shape\(s\) is not consistent"):
        rc.stack_data2([np.ones((3, 2))], (2, 3), np)


def test_effective_kernel_and_its_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert rc.effective_kernel("square", 0.5, 4, 4) == "square"
    with pytest.warns(rc.FluxNotConservedWarning, match="not a flux-conserving kernel"):
        assert rc.effective_kernel("gaussian", 1.0, 4, 4) == "gaussian"
    with pytest.warns(UserWarning, match="too small for the turbo kernel"):
        assert rc.effective_kernel("turbo", 1e-4, 4, 4) == "point"
    with pytest.raises(ValueError, match="at least 2x2"):
        rc.effective_kernel("square", 1.0, 1, 4)


def test_pixmap_extent_and_scale_ratio():
    y, x = np.indices((3, 4), dtype=np.float64)
    pm = np.dstack([2.0 * x - 5.5, 2.0 * y + 1.2])
    shifted, shape = rc.pixmap_extent(pm, np)
    assert shape == (6, 8) and np.allclose(shifted[0, 0], [0.5, 0.2])
    assert rc.estimate_scale_ratio(pm, 0, 3, 0, 2) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="entirely NaN"):
        rc.pixmap_extent(np.full((2, 2, 2), np.nan), np)
