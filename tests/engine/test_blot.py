"""Tests of gpudriz.blot.blot_image: parity with drizzle 3.x, naive twins, invariants."""

import numpy as np
import pytest
from helpers.naive_blot import naive_blot
from numpy.testing import assert_allclose, assert_array_equal

from gpudriz.blot import INTERPOLANTS, blot_image

DRIZZLE_INTERPS = ("nearest", "linear", "poly3", "poly5", "lanczos3", "lanczos5")
IN_SHAPE = (40, 50)
# cdrizzle's edge handling differs from ours by design; compare this far inside.
EDGE_MARGIN = 6


def _data(shape=IN_SHAPE, seed=0):
    """Positive random image, so relative differences stay meaningful."""
    rng = np.random.default_rng(seed)
    return (1.0 + rng.random(shape)).astype(np.float32)


def _as_float32_positions(px, py):
    """Pixmap of float32-representable positions (cdrizzle rounds to float32)."""
    return np.dstack([px, py]).astype(np.float32).astype(np.float64)


def _pixmap(kind, out_shape=IN_SHAPE, in_shape=IN_SHAPE):
    """Output-to-input pixmap: identity, scale 0.5 / 2, or rotated+shifted+distorted."""
    yy, xx = np.mgrid[0 : out_shape[0], 0 : out_shape[1]].astype(np.float64)
    cy, cx = (in_shape[0] - 1) / 2, (in_shape[1] - 1) / 2
    dx, dy = xx - cx, yy - cy
    if kind == "identity":
        return _as_float32_positions(xx, yy)
    if kind in ("scale0.5", "scale2"):
        s = 0.5 if kind == "scale0.5" else 2.0
        return _as_float32_positions(cx + s * dx + 0.13, cy + s * dy - 0.29)
    if kind == "distorted":
        c, s = np.cos(0.3), np.sin(0.3)
        px = cx + c * dx - s * dy + 0.37 + 1e-3 * dx**2
        py = cy + s * dx + c * dy - 0.21 + 1e-3 * dx * dy
        return _as_float32_positions(px, py)
    raise ValueError(kind)


def _edge_pixmap(in_shape, out_shape=(24, 30), seed=1):
    """Positions covering the image and a margin beyond every edge, plus special cases."""
    ny, nx = in_shape
    rng = np.random.default_rng(seed)
    n = out_shape[0] * out_shape[1]
    pts = np.stack([rng.uniform(-1.5, nx + 0.5, n), rng.uniform(-1.5, ny + 0.5, n)], axis=-1)
    special = [
        (0.0, 0.0), (nx - 1, ny - 1), (nx - 1e-6, ny - 1e-6), (nx - 1, 0.5), (0.5, ny - 1),
        (nx - 0.5, ny - 0.5), (0.0, ny - 0.25), (-1e-9, 0.0), (nx, 0.0), (0.0, ny),
        (np.nan, 1.0), (1.0, np.nan), (np.inf, 1.0), (1.0, -np.inf),
    ]  # fmt: skip
    pts[: len(special)] = special
    return pts.reshape(out_shape + (2,))


def _inside(pixmap, in_shape, margin):
    """Positions at least ``margin`` pixels inside the image (False for NaN)."""
    x, y = pixmap[..., 0], pixmap[..., 1]
    ny, nx = in_shape
    return (x >= margin) & (x <= nx - 1 - margin) & (y >= margin) & (y <= ny - 1 - margin)


# --------------------------------------------------------------------------
# (a) parity with drizzle 3.x away from the edges
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["identity", "scale0.5", "scale2", "distorted"])
@pytest.mark.parametrize("interp", DRIZZLE_INTERPS)
def test_parity_with_drizzle_interior(interp, kind):
    dblot = pytest.importorskip("drizzle.resample").blot_image
    data = _data()
    pixmap = _pixmap(kind)
    ours = blot_image(data, pixmap, interp=interp, backend="cpu")
    ref = dblot(data, pixmap, interp=interp)
    inner = _inside(pixmap, IN_SHAPE, EDGE_MARGIN)
    assert inner.sum() > 50
    assert_allclose(ours[inner], ref[inner], rtol=1e-5, atol=0)


@pytest.mark.parametrize("interp", ["linear", "lanczos3", "lanczos5"])
def test_parity_with_drizzle_whole_image(interp):
    """Where cdrizzle has no edge defect (linear, Lanczos) it agrees everywhere."""
    dblot = pytest.importorskip("drizzle.resample").blot_image
    data = _data(seed=3)
    pixmap = _edge_pixmap(IN_SHAPE).astype(np.float32).astype(np.float64)
    pixmap = np.nan_to_num(pixmap, nan=-5.0, posinf=-5.0, neginf=-5.0)  # cdrizzle raises on NaN
    ours = blot_image(data, pixmap, interp=interp, fillval=-1.0, backend="cpu")
    ref = dblot(data, pixmap, interp=interp, fillval=-1.0)
    assert_allclose(ours, ref, rtol=1e-5, atol=0)


# --------------------------------------------------------------------------
# (b) every interpolant against its naive twin, edges included
# --------------------------------------------------------------------------

_NAIVE_CASES = [(interp, 1.0) for interp in INTERPOLANTS] + [("sinc", 2.0), ("sinc", 0.7)]


@pytest.mark.parametrize("in_shape", [IN_SHAPE, (3, 4), (1, 5), (2, 2)])
@pytest.mark.parametrize(("interp", "sinscl"), _NAIVE_CASES)
def test_matches_naive_everywhere(interp, sinscl, in_shape):
    data = _data(in_shape, seed=4)
    pixmap = _edge_pixmap(in_shape)
    ours = blot_image(data, pixmap, interp=interp, sinscl=sinscl, fillval=-7.0, backend="cpu")
    ref = naive_blot(data, pixmap, interp, fillval=-7.0, sinscl=sinscl)
    assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


def test_matches_naive_distorted_with_iscale():
    data = _data(seed=5)
    pixmap = _pixmap("distorted")
    for interp in INTERPOLANTS:
        ours = blot_image(data, pixmap, interp=interp, iscale=0.75, fillval=2.0, backend="cpu")
        ref = naive_blot(data, pixmap, interp, fillval=2.0, iscale=0.75)
        assert_allclose(ours, ref, rtol=1e-5, atol=1e-5, err_msg=interp)


# --------------------------------------------------------------------------
# (c) invariants
# --------------------------------------------------------------------------


_CONSTANT_CASES = [
    ("nearest", 1.0), ("linear", 1.0), ("poly3", 1.0), ("poly5", 1.0), ("sinc", 1.0), ("sinc", 2.5)
]  # fmt: skip


@pytest.mark.parametrize("in_shape", [IN_SHAPE, (3, 4), (1, 5)])
@pytest.mark.parametrize(("interp", "sinscl"), _CONSTANT_CASES)
def test_constant_image_stays_constant(interp, sinscl, in_shape):
    data = np.full(in_shape, 3.7, dtype=np.float32)
    pixmap = _edge_pixmap(in_shape)
    out = blot_image(data, pixmap, interp=interp, sinscl=sinscl, fillval=np.nan, backend="cpu")
    x, y = pixmap[..., 0], pixmap[..., 1]
    inside = (x >= 0) & (x < in_shape[1]) & (y >= 0) & (y < in_shape[0])  # False for NaN
    assert inside.sum() > 100
    assert_allclose(out[inside], np.float32(3.7), rtol=1e-6, atol=0)
    assert np.isnan(out[~inside]).all()


@pytest.mark.parametrize("in_shape", [IN_SHAPE, (4, 5)])
@pytest.mark.parametrize("interp", ["poly3", "poly5"])
def test_polynomials_reproduce_a_plane_up_to_every_edge(interp, in_shape):
    """Reflection through the edge pixel continues a plane, so it is exact everywhere.

    (4, 5) is the smallest image whose mirror pixels need no clamping for poly5.
    """
    yy, xx = np.mgrid[0 : in_shape[0], 0 : in_shape[1]]
    data = (10.0 + 0.5 * xx - 0.25 * yy).astype(np.float32)
    pixmap = _edge_pixmap(in_shape)
    out = blot_image(data, pixmap, interp=interp, fillval=np.nan, backend="cpu")
    x, y = pixmap[..., 0], pixmap[..., 1]
    inside = (x >= 0) & (x < in_shape[1]) & (y >= 0) & (y < in_shape[0])
    assert_allclose(out[inside], (10.0 + 0.5 * x - 0.25 * y)[inside], rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("interp", ["nearest", "linear", "poly3", "poly5", "sinc"])
def test_interpolants_reproduce_samples_on_the_grid(interp):
    """Lanczos is left out: its truncated LUT index is not 0 at integer distances."""
    data = _data(seed=7)
    out = blot_image(data, _pixmap("identity"), interp=interp, backend="cpu")
    assert_array_equal(out, data)


# --------------------------------------------------------------------------
# (d) fill, (e) iscale
# --------------------------------------------------------------------------


@pytest.mark.parametrize("fillval", [-3.5, np.nan])
@pytest.mark.parametrize("interp", INTERPOLANTS)
def test_outside_and_nan_positions_get_fillval(interp, fillval):
    ny, nx = IN_SHAPE
    outside = [
        (-0.01, 5.0), (5.0, -0.01), (nx, 5.0), (5.0, ny), (nx + 10.0, ny + 10.0),
        (np.nan, 5.0), (5.0, np.nan), (np.inf, 5.0), (5.0, -np.inf), (np.nan, np.nan),
    ]  # fmt: skip
    inside = [(0.0, 0.0), (nx - 1e-3, ny - 1e-3), (10.3, 20.7)]
    pixmap = np.array([outside + inside], dtype=np.float64)
    out = blot_image(_data(), pixmap, interp=interp, fillval=fillval, backend="cpu")
    assert_array_equal(out[0, : len(outside)], np.float32(fillval))
    assert np.isfinite(out[0, len(outside) :]).all()


@pytest.mark.parametrize("interp", INTERPOLANTS)
def test_iscale_multiplies(interp):
    data = _data(seed=8)
    pixmap = _pixmap("distorted")
    base = blot_image(data, pixmap, interp=interp, fillval=0.0, backend="cpu")
    scaled = blot_image(data, pixmap, interp=interp, iscale=2.5, fillval=0.0, backend="cpu")
    assert_allclose(scaled, 2.5 * base, rtol=1e-6, atol=0)


def test_nan_data_poisons_only_windows_that_read_it():
    data = _data(seed=9)
    data[20, 25] = np.nan
    pixmap = _pixmap("identity")
    out = blot_image(data, pixmap, interp="poly5", backend="cpu")
    bad = np.zeros(IN_SHAPE, dtype=bool)
    bad[20 - 3 : 20 + 3, 25 - 3 : 25 + 3] = True  # windows ix-2..ix+3 that contain 25
    assert np.isnan(out[bad]).all()
    assert np.isfinite(out[~bad]).all()


# --------------------------------------------------------------------------
# Arguments: conversions, out_img, validation (f), inputs unchanged (g)
# --------------------------------------------------------------------------


def test_dtype_and_layout_conversions():
    data = _data(seed=10)
    pixmap = _pixmap("distorted")
    ref = blot_image(data, pixmap, backend="cpu")
    assert ref.dtype == np.float32 and ref.shape == IN_SHAPE
    assert_array_equal(blot_image(data.astype(np.float64), pixmap, backend="cpu"), ref)
    fortran = np.asfortranarray(data)
    assert_array_equal(blot_image(fortran, pixmap.astype(np.float32), backend="cpu"), ref)


def test_out_img_written_in_place():
    data = _data(seed=11)
    pixmap = _pixmap("distorted")
    ref = blot_image(data, pixmap, backend="cpu")
    out = np.zeros(IN_SHAPE, dtype=np.float32)
    assert blot_image(data, pixmap, out_img=out, backend="cpu") is out
    assert_array_equal(out, ref)
    big = np.zeros((IN_SHAPE[0], 2 * IN_SHAPE[1]), dtype=np.float32)
    view = big[:, ::2]  # not C-contiguous
    assert blot_image(data, pixmap, out_img=view, backend="cpu") is view
    assert_array_equal(view, ref)
    assert (big[:, 1::2] == 0).all()


def test_deprecated_lanczos_aliases():
    data = _data(seed=12)
    pixmap = _pixmap("distorted")
    for old, new in (("lan3", "lanczos3"), ("lan5", "lanczos5")):
        with pytest.warns(DeprecationWarning, match=new):
            out = blot_image(data, pixmap, interp=old, backend="cpu")
        assert_array_equal(out, blot_image(data, pixmap, interp=new, backend="cpu"))


_PM = _pixmap("identity", out_shape=(4, 5))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"interp": "cubic"}, ValueError, r"interp must be one of .*'poly5'"),
        ({"interp": 3}, TypeError, "interp"),
        ({"pixmap": np.zeros((4, 5))}, ValueError, "pixmap"),
        ({"pixmap": np.zeros((4, 5, 3))}, ValueError, "pixmap"),
        ({"out_img": np.zeros((4, 5), dtype=np.float64)}, TypeError, "out_img"),
        ({"out_img": np.zeros((5, 4), dtype=np.float32)}, ValueError, "out_img"),
        ({"out_img": [[0.0] * 5] * 4}, TypeError, "out_img"),
        ({"iscale": 0.0}, ValueError, "iscale"),
        ({"iscale": -1.0}, ValueError, "iscale"),
        ({"iscale": np.inf}, ValueError, "iscale"),
        ({"iscale": "2"}, TypeError, "iscale"),
        ({"sinscl": 0.0}, ValueError, "sinscl"),
        ({"sinscl": np.nan}, ValueError, "sinscl"),
        ({"fillval": np.inf}, ValueError, "fillval"),
        ({"fillval": "INDEF"}, TypeError, "fillval"),
        ({"data": np.zeros((2, 3, 4), dtype=np.float32)}, ValueError, "data"),
        ({"data": np.zeros((3, 4), dtype=np.complex64)}, TypeError, "data"),
        ({"data": np.zeros((0, 4), dtype=np.float32)}, ValueError, "data"),
    ],
)
def test_validation_errors_name_the_parameter(kwargs, exc, match):
    args = {"data": _data((6, 7)), "pixmap": _PM} | kwargs
    with pytest.raises(exc, match=match):
        blot_image(backend="cpu", **args)


def test_read_only_out_img_rejected():
    out = np.zeros((4, 5), dtype=np.float32)
    out.setflags(write=False)
    with pytest.raises(ValueError, match="out_img"):
        blot_image(_data((6, 7)), _PM, out_img=out, backend="cpu")


@pytest.mark.parametrize("interp", INTERPOLANTS)
def test_inputs_unchanged(interp):
    data = _data(seed=13)
    data[3, 4] = np.nan
    pixmap = _pixmap("distorted")
    pixmap[0, 0] = np.nan
    data_copy, pixmap_copy = data.copy(), pixmap.copy()
    blot_image(data, pixmap, interp=interp, backend="cpu")
    assert_array_equal(data, data_copy)
    assert_array_equal(pixmap, pixmap_copy)


def test_out_img_aliasing_data_reads_the_original():
    data = _data(seed=14)
    pixmap = _pixmap("distorted")
    ref = blot_image(data, pixmap, backend="cpu")
    alias = data.copy()
    assert blot_image(alias, pixmap, out_img=alias, backend="cpu") is alias
    assert_array_equal(alias, ref)
