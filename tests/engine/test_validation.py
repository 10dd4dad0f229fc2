"""Bad input gets one clear error naming the parameter, and changes nothing."""

import numpy as np
import pytest

import gpudriz
from gpudriz.backend import BackendUnavailableError, get_backend
from gpudriz.backend.validate import (
    check_sign,
    finite_real,
    is_bool,
    is_real,
    optional_limit,
    positive_number,
    real_number,
)

PM = np.dstack(np.meshgrid(np.arange(6.0), np.arange(5.0)))
DATA = np.ones((5, 6), np.float32)


def _d(**kw):
    return gpudriz.Drizzle(out_shape=(8, 8), backend="cpu", **kw)


@pytest.mark.parametrize(
    "kw, exc, match",
    [
        (dict(kernel="boxcar"), ValueError, "^Kernel 'boxcar' is not supported\\.$"),
        (dict(kernel=3), ValueError, "not supported"),
        (dict(exptime=-1.0), ValueError, "^Exposure time must be non-negative\\.$"),
        (dict(exptime=2.0), ValueError, "^Exposure time must be 0.0 for the first resampling"),
        (dict(fillval="lots"), ValueError, "^could not convert string to float: 'lots'$"),
        (dict(fillval=[1, 2]), TypeError, "'fillval' must be a number"),
        (dict(begin_ctx_id=-1), ValueError, "^Invalid context image ID: 'begin_ctx_id'"),
        (dict(begin_ctx_id=5, max_ctx_id=2), ValueError, "^'max_ctx_id' cannot be smaller than"),
        (dict(out_img=np.zeros((3, 3), np.float32)), ValueError, "^Inconsistent data shapes specified:"),
        (dict(out_dq=np.zeros((8, 8), np.float64)), TypeError, "^'out_dq' must be of an unsigned integer type with itemsize of 4 bytes or less\\."),
        (dict(out_dq=np.zeros((8, 8), np.uint64)), TypeError, "^'out_dq' must be of an unsigned integer type"),
        (dict(out_ctx=np.zeros(8, np.int32)), ValueError, "^'out_ctx' must be either a 2D or 3D array\\."),
        (dict(out_ctx=np.zeros((8, 8), np.int32), out_wht=np.eye(8, dtype=np.float32), exptime=1.0), ValueError, "^Inconsistent values of supplied 'out_wht' and 'out_ctx' "),
        (dict(out_wht=np.eye(8, dtype=np.float32)), ValueError, "^Inconsistent exposure time and context and/or weight images:"),
    ],
)
def test_constructor_errors(kw, exc, match):
    with pytest.raises(exc, match=match):
        gpudriz.Drizzle(out_shape=(8, 8), backend="cpu", **kw)


def test_out_shape_errors():
    with pytest.raises(ValueError, match="'out_shape' must be two positive integers"):
        gpudriz.Drizzle(out_shape=(0, 5), backend="cpu")
    with pytest.raises(TypeError, match="'out_shape' must be a pair of integers"):
        gpudriz.Drizzle(out_shape=5, backend="cpu")


@pytest.mark.parametrize(
    "args, kw, exc, match",
    [
        ((np.ones(5), 1.0, PM), {}, ValueError, "'data' must be a 2-D array"),
        ((DATA.astype(complex), 1.0, PM), {}, TypeError, "'data' must hold real numbers"),
        ((DATA, 1.0, PM[:, :4]), {}, ValueError, r"^'pixmap' shape is not consistent with 'data' shape\.$"),
        ((DATA, 1.0, PM[..., :1]), {}, ValueError, r"'pixmap' must have shape \(5, 6, 2\)"),
        ((DATA, 0.0, PM), {}, ValueError, r"^'exptime' \*must\* be a strictly positive number\.$"),
        ((DATA, np.nan, PM), {}, ValueError, "'exptime' must be finite"),
        ((DATA, 1.0, PM), dict(iscale=0), ValueError, "'iscale' must be positive"),
        ((DATA, 1.0, PM), dict(pixfrac=-1), ValueError, "'pixfrac' must be positive"),
        ((DATA, 1.0, PM), dict(wht_scale=0), ValueError, "'wht_scale' must be positive"),
        ((DATA, 1.0, PM), dict(in_units="adu"), ValueError, "'in_units' must be 'cps' or"),
        ((DATA, 1.0, PM), dict(weight_map=np.ones((2, 2))), ValueError, "^'weight_map' shape is not consistent with 'data' shape\\."),
        ((DATA, 1.0, PM), dict(dq=np.zeros((5, 6), float)), TypeError, "^'dq' must be of an unsigned integer type with itemsize of 4 bytes or less\\."),
        ((DATA, 1.0, PM), dict(dq=np.zeros((2, 6), np.uint16)), ValueError, "^'dq' shape is not consistent with 'data' shape\\."),
        ((DATA, 1.0, PM), dict(data2=[np.ones((2, 2))]), ValueError, r"^'data2' shape\(s\) is not consistent with 'data' shape\."),
        ((DATA, 1.0, PM), dict(data2=np.ones((2, 2))), ValueError, r"^'data2' shape is not consistent with 'data' shape\."),
        # drizzle checks data2 before the weights: its tests rely on the order.
        ((DATA, 1.0, PM), dict(data2=np.ones((2, 2)), weight_map=np.ones((2, 2))), ValueError, r"^'data2' shape is"),
        ((DATA, 1.0, PM), dict(xmin=4, xmax=2), ValueError, "Empty input box"),
        ((DATA, 1.0, PM), dict(pixel_scale_ratio=-2), ValueError, "'pixel_scale_ratio' must be"),
        ((DATA, "long", PM), {}, TypeError, "'exptime' must be a real number"),
    ],
)
def test_add_image_errors(args, kw, exc, match):
    d = _d()
    before = (d.out_img.copy(), d.out_wht.copy())
    with pytest.raises(exc, match=match):
        d.add_image(*args, **kw)
    # Nothing half-done: outputs and the context counter are untouched.
    np.testing.assert_array_equal(d.out_img, before[0])
    np.testing.assert_array_equal(d.out_wht, before[1])
    assert d.ctx_id == 0 and d.total_exptime == 0


def test_data2_count_must_stay_the_same():
    d = _d()
    d.add_image(DATA, 1.0, PM, data2=[DATA, DATA])
    with pytest.raises(ValueError, match="^Mismatch between the number of 'out_img2' images .*'data2' holds 1 array"):
        d.add_image(DATA, 1.0, PM, data2=[DATA])
    e = _d()
    e.add_image(DATA, 1.0, PM)
    with pytest.raises(ValueError, match="^Mismatch between the number of 'out_img2' images .*'data2' given now"):
        e.add_image(DATA, 1.0, PM, data2=DATA)


def test_scale_argument_is_deprecated_but_works():
    d, e = _d(), _d()
    with pytest.warns(DeprecationWarning, match="'scale' is deprecated"):
        d.add_image(DATA, 1.0, PM, scale=2.0)
    e.add_image(DATA, 1.0, PM, iscale=4.0, pixel_scale_ratio=2.0)
    np.testing.assert_array_equal(d.out_img, e.out_img)


def test_decode_context_errors():
    ctx = np.zeros((1, 3, 3), np.int32)
    with pytest.raises(ValueError, match="'context' must be a 3-D array"):
        gpudriz.decode_context(ctx[0], 0, 0)
    with pytest.raises(ValueError, match="differ in length"):
        gpudriz.decode_context(ctx, [0, 1], [0])
    with pytest.raises(ValueError, match="integer pixel coordinates"):
        gpudriz.decode_context(ctx, 0.5, 0)
    with pytest.raises(ValueError, match="outside the context image"):
        gpudriz.decode_context(ctx, 3, 0)


def test_backend_selection(monkeypatch):
    import gpudriz.backend.selection as backend_module

    # Behave as a machine without a GPU, whatever this one has.
    monkeypatch.setattr(backend_module, "cuda_status", lambda: (False, "no GPU in this test"))
    assert get_backend("cpu").name == "cpu"
    assert get_backend("AUTO").name == "cpu"
    with pytest.raises(BackendUnavailableError, match="backend 'cuda' was requested but no GPU"):
        get_backend("cuda")
    with pytest.raises(ValueError, match="backend 'tpu' .* is not one of 'auto', 'cpu', 'cuda'"):
        get_backend("tpu")
    monkeypatch.setenv("GPUDRIZ_BACKEND", "gpu")
    with pytest.raises(ValueError, match="from the environment variable GPUDRIZ_BACKEND"):
        get_backend(None)
    monkeypatch.setenv("GPUDRIZ_BACKEND", "cpu")
    assert gpudriz.Drizzle(out_shape=(2, 2)).backend.name == "cpu"
    with pytest.raises(BackendUnavailableError):
        gpudriz.Drizzle(out_shape=(2, 2), backend="cuda")


def test_list_valued_output_arrays_are_accepted():
    """drizzle accepts nested lists for the output arrays (np.asarray); so does gpudriz."""
    d = gpudriz.Drizzle(out_ctx=[[0, 0], [0, 0]], backend="cpu")
    assert d.out_ctx.shape == (1, 2, 2) and d.out_ctx.dtype == np.int32
    d = gpudriz.Drizzle(out_img=[[0.0, 0.0], [0.0, 0.0]], out_wht=[[1.0, 0.0], [0.0, 0.0]],
                        out_ctx=[[1, 0], [0, 0]], exptime=2.0, backend="cpu")  # fmt: skip
    assert d.out_wht.dtype == np.float32 and d.out_wht[0, 0] == 1.0
    assert d.total_exptime == 2.0


def test_list_valued_1d_context_is_drizzles_value_error():
    with pytest.raises(ValueError, match=r"^'out_ctx' must be either a 2D or 3D array\."):
        gpudriz.Drizzle(kernel="point", out_shape=(10, 10), out_ctx=[0, 0, 0], backend="cpu")


# --- the shared validators of gpudriz.backend.validate ----------------------------------


@pytest.mark.parametrize("value", [True, False, np.bool_(True), np.array(False)])
def test_booleans_are_not_numbers(value):
    assert is_bool(value) and not is_real(value)
    assert finite_real(value) is None and finite_real(value, text=True) is None


@pytest.mark.parametrize(
    "value, text, expected",
    [
        (3, False, 3.0), (np.float32(0.5), False, 0.5), (np.int64(-2), False, -2.0),
        (float("nan"), False, None), (float("inf"), False, None), ("0.8", False, None),
        ("0.8", True, 0.8), (" 4 ", True, 4.0), ("inf", True, None), ("abc", True, None),
        (None, True, None), ([1.0], False, None),
    ],
)  # fmt: skip
def test_finite_real(value, text, expected):
    got = finite_real(value, text=text)
    assert got == expected and (got is None or type(got) is float)


def test_real_number_messages():
    assert real_number(np.float64(2.0), "x", positive=True) == 2.0
    with pytest.raises(TypeError, match=r"^'x' must be a real number; got True\.$"):
        real_number(True, "x")
    with pytest.raises(ValueError, match=r"^'x' must be finite; got inf\.$"):
        real_number(float("inf"), "x")
    with pytest.raises(ValueError, match=r"^'x' must be non-negative; got -1\.0\.$"):
        check_sign(-1.0, "x", nonnegative=True)
    assert check_sign(0.0, "x", nonnegative=True) == 0.0


def test_positive_number_and_optional_limit():
    assert positive_number(np.float32(0.25), "lsigma") == 0.25
    for bad in (0, -1.0, float("nan"), float("inf"), "3", True):
        with pytest.raises(ValueError, match=r"^'lsigma' must be a positive finite number; got "):
            positive_number(bad, "lsigma")
    assert optional_limit(None, "lower") is None
    assert optional_limit(float("-inf"), "lower") == float("-inf")
    assert optional_limit(np.int16(-50), "lower") == -50.0
    for bad in (float("nan"), "1", False):
        with pytest.raises(ValueError, match=r"^'lower' must be a number or None; got "):
            optional_limit(bad, "lower")
