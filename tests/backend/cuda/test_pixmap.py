"""Host-run parity of ``kernels/pixmap.cu`` with its Numba twin ``fallback/pixmap.py``.

The CUDA source is compiled with g++ through the host shim
(``tests/helpers/cuda_host.py``), launched on small 1-D grids (several blocks, several
grid strides) and compared with Numba's ``interpolate_pixmap`` on node grids
built as :mod:`gpudriz.pixmap` builds them (nodes from ``-step`` to beyond the
last pixel), for several steps including 1 and sizes that are not multiples
of the step: agreement to 1e-12 px, NaN pixels identical.
"""

import numpy as np
import pytest
from gpudriz.fallback.pixmap import (
    TABLE_PARAMS,
    interpolate_pixmap,
    interpolate_pixmap_tables,
)
from helpers.cuda_host import gxx_available, host_module
from helpers.paths import KERNELS_DIR

from gpudriz.backend.cuda.loader import module_source

pytestmark = pytest.mark.skipif(
    not gxx_available(), reason="g++ is needed to run the CUDA sources on the host"
)

SOURCE = KERNELS_DIR / "pixmap.cu"
# (grid, block): 24 and 64 threads; every case but the last has more pixels, so threads stride.
LAUNCHES = [(3, 8), (2, 32)]
TOL = 1e-12  # px
SENTINEL = -1.0e300  # never a mapped position: shows pixels left unwritten

# (ny, nx, step): step 1, sizes that are and are not multiples of the step,
# steps that are not powers of two (their weights are not exact binary
# fractions, so rounding order shows), a single cell (gx = gy = 4) and a step
# larger than the image.
SHAPES = [
    (9, 11, 1), (16, 16, 4), (21, 19, 4), (17, 23, 5), (26, 15, 7), (13, 30, 8), (23, 17, 16),
    (7, 9, 64),
]  # fmt: skip
SHAPE_IDS = [f"{ny}x{nx}-step{step}" for ny, nx, step in SHAPES]


def _smooth_map(x, y):
    """A rotation, shift and polynomial distortion up to degree 4 (what a cubic cannot follow)."""
    c, s = np.cos(0.4), np.sin(0.4)
    xo = 12.5 + 1.1 * (c * x - s * y) + 2e-3 * x * x - 1e-3 * x * y + 3e-5 * y**3 + 1e-7 * x**4
    yo = -4.25 + 1.1 * (s * x + c * y) + 1.5e-3 * y * y + 2e-5 * x**3 - 2e-7 * x * x * y * y
    return xo, yo


def _node_grid(nx, ny, step, x0=None, y0=None, extra=0):
    """Nodes ``-step .. ((n - 1) // step + 2) * step`` as gpudriz.pixmap's ``_node_grid``.

    ``x0, y0`` move the first node and ``extra`` removes nodes at the far end
    (a negative value adds some), for grids that do not cover the image.
    """
    x0 = -step if x0 is None else x0
    y0 = -step if y0 is None else y0
    gx = (nx - 1) // step + 4 - extra
    gy = (ny - 1) // step + 4 - extra
    xs = np.arange(gx, dtype=np.float64) * step + x0
    ys = np.arange(gy, dtype=np.float64) * step + y0
    xg, yg = np.meshgrid(xs, ys)
    grid = np.empty((gy, gx, 2), dtype=np.float64)
    grid[..., 0], grid[..., 1] = _smooth_map(xg, yg)
    return grid, x0, y0


def _numba(grid, x0, y0, step, shape):
    out = np.full(shape + (2,), SENTINEL)
    interpolate_pixmap(grid, x0, y0, step, out)
    return out


def _host(grid, x0, y0, step, shape, launch, index64=False):
    ny, nx = shape
    out = np.full(shape + (2,), SENTINEL)
    gy, gx = grid.shape[:2]
    args = (
        grid, np.int32(gx), np.int32(gy), np.int32(x0), np.int32(y0), np.int32(step), out,
        np.int32(nx), np.int32(ny),
    )  # fmt: skip
    grid_size, block = launch
    host_module("pixmap", index64).get_function("pixmap_cubic")((grid_size,), (block,), args)
    return out


def _assert_parity(got, ref):
    assert not np.any(got == SENTINEL), "the kernel left pixmap entries unwritten"
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=0, atol=TOL)  # NaN == NaN here


def test_module_source_is_this_file():
    """The loader (and so NVRTC and the host build) reads kernels/pixmap.cu of this checkout."""
    assert module_source("pixmap").endswith(SOURCE.read_text(encoding="utf-8"))


def test_kernel_signature():
    """The C signature the CuPy backend marshals its arguments against."""
    expected = [
        ("grid", "double", True, True), ("gx", "int", False, False), ("gy", "int", False, False),
        ("x0", "int", False, False), ("y0", "int", False, False), ("step", "int", False, False),
        ("out", "double", True, False), ("nx", "int", False, False), ("ny", "int", False, False),
    ]  # fmt: skip
    tables = [
        ("grid", "double", True, True), ("jac", "double", True, True),
        ("gx", "int", False, False), ("gy", "int", False, False),
        ("x0", "int", False, False), ("y0", "int", False, False), ("step", "int", False, False),
        ("tables", "double", True, True), ("tparams", "double", True, True),
        ("out", "double", True, False), ("nx", "int", False, False), ("ny", "int", False, False),
    ]  # fmt: skip
    assert host_module("pixmap").signatures == {
        "pixmap_cubic": expected, "pixmap_cubic_lookup": tables,
    }


@pytest.mark.parametrize(("ny", "nx", "step"), SHAPES, ids=SHAPE_IDS)
def test_parity_smooth_map(ny, nx, step):
    grid, x0, y0 = _node_grid(nx, ny, step)
    ref = _numba(grid, x0, y0, step, (ny, nx))
    assert np.isfinite(ref).all()
    for launch in LAUNCHES:
        _assert_parity(_host(grid, x0, y0, step, (ny, nx), launch), ref)


@pytest.mark.parametrize(("ny", "nx", "step"), SHAPES, ids=SHAPE_IDS)
def test_parity_nan_node(ny, nx, step):
    """A NaN node makes exactly the pixels whose stencil holds it NaN, on both sides."""
    grid, x0, y0 = _node_grid(nx, ny, step)
    grid[2, 1, 0] = np.nan  # x only: the y coordinate of those pixels stays finite
    ref = _numba(grid, x0, y0, step, (ny, nx))
    assert np.isnan(ref[..., 0]).any() and not np.isnan(ref[..., 1]).any()
    _assert_parity(_host(grid, x0, y0, step, (ny, nx), LAUNCHES[0]), ref)


@pytest.mark.parametrize(("ny", "nx", "step"), SHAPES, ids=SHAPE_IDS)
def test_bit_identical_on_host(ny, nx, step):
    """Only double + and * (no contraction on either side): every bit must agree."""
    grid, x0, y0 = _node_grid(nx, ny, step)
    ref = _numba(grid, x0, y0, step, (ny, nx))
    got = _host(grid, x0, y0, step, (ny, nx), LAUNCHES[1])
    np.testing.assert_array_equal(got.view(np.uint64), ref.view(np.uint64))


@pytest.mark.parametrize(
    ("x0", "y0", "extra"), [(0, 0, 0), (-8, -8, 2), (-24, 0, -2)], ids=["late", "short", "wide"]
)
def test_parity_where_the_clamp_acts(x0, y0, extra):
    """Grids that do not fit the image: pixels are extrapolated from the nearest full stencil."""
    ny, nx, step = 26, 29, 8
    grid, x0, y0 = _node_grid(nx, ny, step, x0, y0, extra)
    ref = _numba(grid, x0, y0, step, (ny, nx))
    for launch in LAUNCHES:
        _assert_parity(_host(grid, x0, y0, step, (ny, nx), launch), ref)


def test_index64():
    """The 64-bit index build (IDX_T = long long) computes the same pixmap."""
    ny, nx, step = 21, 19, 4
    grid, x0, y0 = _node_grid(nx, ny, step)
    grid[3, 2, 1] = np.nan
    ref = _numba(grid, x0, y0, step, (ny, nx))
    _assert_parity(_host(grid, x0, y0, step, (ny, nx), LAUNCHES[0], index64=True), ref)


# --------------------------------------------------------------------------
# lookup-table distortions (pixmap_cubic_lookup)
# --------------------------------------------------------------------------


def _tables(rng, nx, ny, npol_shared, with_d2im2=True):
    """D2IM (one row, per column), D2IM2 (2-D) and an NPOL pair, packed as the kernels take them.

    ``npol_shared``: both NPOL tables on one grid (Numba then shares their
    weights) or on different grids.  Without D2IM2 and with one NPOL grid
    (HST's layout) Numba computes NPOL's weights per column and per row.
    """
    d2im1 = rng.normal(scale=0.05, size=(1, nx + 3))
    d2im2 = rng.normal(scale=0.02, size=(5, 4))
    npol1 = rng.normal(scale=0.1, size=(6, 7))
    npol2 = rng.normal(scale=0.1, size=(6, 7) if npol_shared else (4, 9))
    chunks, rows, off = [], [], 0
    for t, (c1, p1, v1), (c2, p2, v2) in (
        (d2im1, (1.0, 1.0, 0.0), (1.0, 1.0, 0.0)),
        (d2im2, (nx / 3.0, 1.5, 0.0), (ny / 4.0, 1.0, 2.0)),
        (npol1, (nx / 5.0, 1.0, 0.0), (ny / 4.0, 1.0, 0.0)),
        (npol2, (nx / 5.0, 1.0, 0.0) if npol_shared else (nx / 7.0, 2.0, 3.0),
         (ny / 4.0, 1.0, 0.0) if npol_shared else (ny / 3.0, 1.0, -1.0)),
    ):  # fmt: skip
        h, w = t.shape
        rows.append((off, w, h, 1.0 / c1, p1 - 1.0 - v1 / c1, 1.0 / c2, p2 - 1.0 - v2 / c2))
        chunks.append(t.ravel())
        off += t.size
    tparams = np.array(rows, dtype=np.float64)
    if not with_d2im2:
        tparams[1] = 0.0  # absent (its values stay in ``tables``, unread)
    assert tparams.shape[1] == TABLE_PARAMS
    return np.concatenate(chunks), tparams


@pytest.mark.parametrize(
    ("npol_shared", "with_d2im2"), [(True, True), (False, True), (True, False)],
    ids=["npol-one-grid", "npol-two-grids", "hst-like"],
)
@pytest.mark.parametrize(("ny", "nx", "step"), SHAPES[1:6], ids=SHAPE_IDS[1:6])
def test_parity_lookup_tables(ny, nx, step, npol_shared, with_d2im2):
    """Interpolation plus D2IM/NPOL per pixel: Numba's row-shared driver and the CUDA kernel agree."""
    rng = np.random.default_rng(ny * nx + step)
    grid, x0, y0 = _node_grid(nx, ny, step)
    jac = 1.0 + rng.normal(scale=0.01, size=grid.shape[:2] + (8,))
    tables, tparams = _tables(rng, nx, ny, npol_shared, with_d2im2)
    ref = np.full((ny, nx, 2), SENTINEL)
    interpolate_pixmap_tables(grid, jac, x0, y0, step, tables, tparams, ref)
    plain = _numba(grid, x0, y0, step, (ny, nx))
    assert np.abs(ref - plain).max() > 1e-3  # the tables moved the map
    gy, gx = grid.shape[:2]
    for launch in LAUNCHES:
        for index64 in (False, True):
            got = np.full((ny, nx, 2), SENTINEL)
            args = (
                grid, jac, np.int32(gx), np.int32(gy), np.int32(x0), np.int32(y0),
                np.int32(step), tables, tparams, got, np.int32(nx), np.int32(ny),
            )  # fmt: skip
            fn = host_module("pixmap", index64).get_function("pixmap_cubic_lookup")
            fn((launch[0],), (launch[1],), args)
            _assert_parity(got, ref)


def test_calc_pixmap_with_tables_on_the_cuda_driver():
    """The whole fast path with lookup tables through the CUDA driver equals the CPU backend's."""
    from astropy.wcs import WCS
    from helpers.cuda_host import host_backend
    from helpers.pixmaps import dist_lookup_wcs

    from gpudriz import calc_pixmap

    w = dist_lookup_wcs()
    shape = (70, 90)
    w_to = WCS(naxis=2)
    w_to.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w_to.wcs.crval = w.wcs.crval
    w_to.wcs.crpix = [60.0, 50.0]
    w_to.wcs.cd = np.diag([-0.05, 0.05]) / 3600.0
    cpu = calc_pixmap(w, w_to, shape=shape, backend="cpu")
    host = calc_pixmap(w, w_to, shape=shape, backend=host_backend(block=32, max_grid=4))
    np.testing.assert_allclose(host, cpu, rtol=0, atol=1e-9)
