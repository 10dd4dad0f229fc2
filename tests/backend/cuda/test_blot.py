"""Host-run parity of ``kernels/blot.cu`` with its Numba twin ``fallback/blot.py``.

The CUDA source is compiled with g++ through the host shim
(``tests/helpers/cuda_host.py``) and launched on small 1-D grids, so that several
blocks and several grid strides run, then compared with Numba's
``blot_kernel`` called with the same arguments: every interpolant x fill value
x ``iscale`` (x ``sinscl`` for sinc), on positions inside the image, on its
edges (reflection windows), outside it, and NaN/inf.  Tolerance is float32
rounding of the output scale; fill and NaN pixels must match exactly.  A
second check asks for identical bits: the host build rounds every operation
as Numba does, so any difference there is a cast or operation-order slip in
the source that the float32 tolerance would hide.
"""


import numpy as np
import pytest
from gpudriz.fallback import blot as nb
from helpers.cuda_host import gxx_available, host_module
from helpers.paths import KERNELS_DIR

from gpudriz.backend.cuda.loader import module_source

pytestmark = pytest.mark.skipif(
    not gxx_available(), reason="g++ is needed to run the CUDA sources on the host"
)

SOURCE = KERNELS_DIR / "blot.cu"
IN_SHAPE = (17, 23)
OUT_SHAPE = (12, 15)
# (grid, block): 24 and 64 threads for 180 output pixels, so every thread strides.
LAUNCHES = [(3, 8), (2, 32)]
RTOL = 2e-6  # float32 rounding, relative to the largest output value
SENTINEL = np.float32(-1.0e30)  # never produced by a blot: shows pixels left unwritten

CASES = [(name, 1.0) for name in nb.INTERP_CODES] + [("sinc", 2.0)]
CASE_IDS = [f"{name}-sinscl{s:g}" for name, s in CASES]


def _image(shape=IN_SHAPE, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 3.0, shape).astype(np.float32)


def _positions(in_shape=IN_SHAPE, out_shape=OUT_SHAPE, seed=1):
    """Pixmap covering the interior, every edge band, the outside, and non-finite entries."""
    ny, nx = in_shape
    rng = np.random.default_rng(seed)
    n = out_shape[0] * out_shape[1]
    pts = np.stack([rng.uniform(-1.5, nx + 0.5, n), rng.uniform(-1.5, ny + 0.5, n)], axis=-1)
    special = [
        (0.0, 0.0), (nx - 1, ny - 1), (nx - 1e-9, ny - 1e-9), (nx - 1, 0.5), (0.5, ny - 1),
        (nx - 0.5, ny - 0.5), (0.0, ny - 0.25), (1.5, 1.5), (nx - 2.5, ny - 2.5), (3.0, 4.0),
        (7.25, 9.75), (-1e-9, 0.0), (nx, 0.0), (0.0, ny), (np.nan, 1.0), (1.0, np.nan),
        (np.inf, 1.0), (1.0, -np.inf), (-np.inf, np.nan),
    ]  # fmt: skip
    pts[: len(special)] = special
    return np.ascontiguousarray(pts.reshape(out_shape + (2,)))


def _inside(pixmap, in_shape):
    ny, nx = in_shape
    x, y = pixmap[..., 0], pixmap[..., 1]
    return (x >= 0) & (x < nx) & (y >= 0) & (y < ny)


def _lut(code):
    # As Numba's blot() driver: one table type, order 5 only for lanczos5.
    return nb.lanczos_lut(5 if code == nb.LANCZOS5 else 3)


def _numba(data, pixmap, code, fill, iscale, sinscl):
    out = np.full(pixmap.shape[:2], SENTINEL, dtype=np.float32)
    nb.blot_kernel(data, pixmap, out, code, float(fill), float(iscale), float(sinscl), _lut(code))
    return out


def _host(data, pixmap, code, fill, iscale, sinscl, launch, index64=False):
    out = np.full(pixmap.shape[:2], SENTINEL, dtype=np.float32)
    lut = _lut(code)
    args = (
        data, np.int32(data.shape[1]), np.int32(data.shape[0]), pixmap, out,
        np.int32(out.shape[1]), np.int32(out.shape[0]), np.int32(code), np.float32(fill),
        np.float64(iscale), np.float64(sinscl), lut, np.int32(lut.size),
    )  # fmt: skip
    grid, block = launch
    host_module("blot", index64).get_function("blot_kernel")((grid,), (block,), args)
    return out


def _assert_parity(got, ref, pixmap, in_shape, fill):
    """Same non-finite pixels, ``fill`` exactly outside, float32 rounding elsewhere."""
    assert not np.any(got == SENTINEL), "the kernel left output pixels unwritten"
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
    outside = ~_inside(pixmap, in_shape)
    assert outside.any()
    if np.isnan(fill):
        assert np.isnan(got[outside]).all()
    else:
        assert (got[outside] == np.float32(fill)).all()
    finite = np.isfinite(ref)
    assert finite.any()
    scale = float(np.max(np.abs(ref[finite])))
    np.testing.assert_allclose(got[finite], ref[finite], rtol=0, atol=RTOL * scale)


def test_module_source_is_this_file():
    """The loader (and so NVRTC and the host build) reads kernels/blot.cu of this checkout."""
    assert module_source("blot").endswith(SOURCE.read_text(encoding="utf-8"))


def test_kernel_signature():
    """The C signature the CuPy backend marshals its arguments against."""
    expected = [
        ("data", "float", True, True), ("nx", "int", False, False), ("ny", "int", False, False),
        ("pixmap", "double", True, True), ("out", "float", True, False),
        ("out_nx", "int", False, False), ("out_ny", "int", False, False),
        ("code", "int", False, False), ("fill", "float", False, False),
        ("iscale", "double", False, False), ("sinscl", "double", False, False),
        ("lut", "double", True, True), ("nlut", "int", False, False),
    ]  # fmt: skip
    assert host_module("blot").signatures == {"blot_kernel": expected}


@pytest.mark.parametrize("iscale", [1.0, 0.5])
@pytest.mark.parametrize("fill", [0.0, np.nan], ids=["fill0", "fillnan"])
@pytest.mark.parametrize(("interp", "sinscl"), CASES, ids=CASE_IDS)
def test_parity_with_numba(interp, sinscl, fill, iscale):
    code = nb.INTERP_CODES[interp]
    data = _image()
    pixmap = _positions()
    ref = _numba(data, pixmap, code, fill, iscale, sinscl)
    for launch in LAUNCHES:
        got = _host(data, pixmap, code, fill, iscale, sinscl, launch)
        _assert_parity(got, ref, pixmap, IN_SHAPE, fill)


@pytest.mark.parametrize(("interp", "sinscl"), CASES, ids=CASE_IDS)
def test_bit_identical_on_host(interp, sinscl):
    """g++ without contraction rounds as Numba does: every output bit must agree.

    Only the sinc calls a transcendental function (sin); Numba lowers it to
    the C library's sin, which the host build calls too.  (On a GPU, CUDA's
    sin may differ by an ulp in float64: the GPU tests use the tolerance.)
    """
    code = nb.INTERP_CODES[interp]
    data = _image(seed=7)
    pixmap = _positions(seed=8)
    ref = _numba(data, pixmap, code, -3.0, 0.75, sinscl)
    got = _host(data, pixmap, code, -3.0, 0.75, sinscl, LAUNCHES[0])
    np.testing.assert_array_equal(got.view(np.uint32), ref.view(np.uint32))


@pytest.mark.parametrize(("interp", "sinscl"), CASES, ids=CASE_IDS)
def test_constant_image(interp, sinscl):
    data = np.full(IN_SHAPE, 2.5, dtype=np.float32)
    pixmap = _positions(seed=2)
    code = nb.INTERP_CODES[interp]
    ref = _numba(data, pixmap, code, 0.0, 1.0, sinscl)
    got = _host(data, pixmap, code, 0.0, 1.0, sinscl, LAUNCHES[1])
    _assert_parity(got, ref, pixmap, IN_SHAPE, 0.0)
    if interp not in ("lanczos3", "lanczos5"):  # Lanczos is not normalised (as cdrizzle)
        inside = _inside(pixmap, IN_SHAPE)
        np.testing.assert_allclose(got[inside], 2.5, rtol=RTOL)


@pytest.mark.parametrize(("interp", "sinscl"), CASES, ids=CASE_IDS)
def test_nan_pixel_poisons_the_same_outputs(interp, sinscl):
    data = _image(seed=3)
    data[5, 7] = np.nan
    data[0, IN_SHAPE[1] - 1] = np.nan  # a corner pixel, read through the reflections
    pixmap = _positions(seed=4)
    # Some outputs read the NaN pixels through the smallest window (nearest).
    pixmap[-1, :4] = [(7.2, 5.1), (6.6, 4.7), (22.3, 0.2), (21.6, 0.4)]
    code = nb.INTERP_CODES[interp]
    ref = _numba(data, pixmap, code, -1.0, 1.0, sinscl)
    assert np.isnan(ref).any()
    got = _host(data, pixmap, code, -1.0, 1.0, sinscl, LAUNCHES[0])
    _assert_parity(got, ref, pixmap, IN_SHAPE, -1.0)


@pytest.mark.parametrize(("interp", "sinscl"), CASES, ids=CASE_IDS)
def test_tiny_images(interp, sinscl):
    """Images smaller than the windows: mirror indices clamp, never read outside."""
    for in_shape in [(1, 5), (2, 2), (3, 4)]:
        data = _image(in_shape, seed=5)
        pixmap = _positions(in_shape, seed=6)
        code = nb.INTERP_CODES[interp]
        ref = _numba(data, pixmap, code, 0.0, 1.0, sinscl)
        got = _host(data, pixmap, code, 0.0, 1.0, sinscl, LAUNCHES[1])
        _assert_parity(got, ref, pixmap, in_shape, 0.0)


def test_index64():
    """The 64-bit index build (IDX_T = long long) computes the same pixels."""
    data = _image(seed=9)
    pixmap = _positions(seed=10)
    for interp, sinscl in CASES:
        code = nb.INTERP_CODES[interp]
        ref = _numba(data, pixmap, code, np.nan, 0.5, sinscl)
        got = _host(data, pixmap, code, np.nan, 0.5, sinscl, LAUNCHES[0], index64=True)
        _assert_parity(got, ref, pixmap, IN_SHAPE, np.nan)
