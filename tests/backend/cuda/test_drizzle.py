"""The CUDA drizzle kernels (``kernels/drizzle.cu``) run on the CPU against their Numba twins.

``cuda_host.host_module`` compiles the exact text NVRTC gets with g++ and runs
every (block, thread) of a launch in turn, so these tests check the CUDA
source's arithmetic, its grid-stride loops and its argument marshalling
without a GPU.  Each accumulation kernel is compared with the Numba entry of
the same name (``fallback/drizzle.py``) on the same inputs, with one band
whose box is the whole output: the sums must agree to summation order (both
sides call the same libm here, and both round the same float32 products),
the flags, DQ and row counters exactly.  The merges must agree bit for bit.
"""

import numpy as np
import pytest
from gpudriz.fallback import drizzle as fdrizzle
from helpers.cuda_host import gxx_available, host_module
from helpers.pixmaps import distorted_pixmap
from numpy.testing import assert_allclose, assert_array_equal

from gpudriz.backend.cuda.loader import module_source

pytestmark = pytest.mark.skipif(
    not gxx_available(), reason="g++ is needed to compile the CUDA sources for the CPU"
)

KERNELS = fdrizzle.KERNEL_NAMES
ENTRY = fdrizzle.KERNEL_ENTRIES
IN_SHAPE = (20, 24)  # (ny, nx)
OUT_SHAPE = (38, 42)  # not square, so that a swapped x/y limit shows
N_BAD = 3  # non-finite pixels planted by _inputs
#: (grid, block): several blocks, and several grid-stride rounds per thread.
LAUNCHES = ((3, 8), (2, 32))
#: Relative tolerance (of each array's largest value) of the accumulated sums:
#: the contributions are the same float32 values on both sides, only the
#: order of the double additions differs.
SUM_RTOL = 1e-12

I32, I64, F32, F64 = np.int32, np.int64, np.float32, np.float64


def _inputs(scale):
    """Data, weights, pixmap, two variance planes and DQ on IN_SHAPE.

    The pixmap (rotation, shift, mild distortion, scaled by ``scale``)
    runs off the output's right and bottom edges.  Planted: NaN data, NaN and
    infinite weights (N_BAD pixels), a negative and a zero weight, and NaN
    pixmap nodes inside and on the border.
    """
    rng = np.random.default_rng(7)
    ny, nx = IN_SHAPE
    data = (1.0 + rng.random(IN_SHAPE)).astype(np.float32)
    weights = (0.5 + rng.random(IN_SHAPE)).astype(np.float32)
    data[3, 5] = np.nan
    weights[7, 2] = np.nan
    weights[10, 11] = np.inf
    weights[5, 6] = -0.5
    weights[15, 20] = 0.0
    pixmap = distorted_pixmap(IN_SHAPE, shift=(30.0, -2.0), scale=scale)
    pixmap[12, 9, 0] = np.nan
    pixmap[0, 4, 1] = np.nan
    data2 = (0.1 + rng.random((2, ny, nx))).astype(np.float32)
    dq = (np.uint32(1) << rng.integers(0, 16, IN_SHAPE).astype(np.uint32)).astype(np.uint32)
    dq[rng.random(IN_SHAPE) < 0.3] = 0
    return data, weights, pixmap, data2, dq


def _scalars(kernel, pf, s):
    """The kernels' scalar parameters as drizzle_add passes them (float32 values)."""
    iscale = float(np.float32(1.3))
    scal = {
        "iscale": iscale,
        "iscale2": float(np.float32(iscale) * np.float32(iscale)),
        "wht_scale": float(np.float32(0.8)),
        "pf": float(np.float32(pf)),
        "s": float(np.float32(s)),
    }
    if kernel.startswith("lanczos"):
        lut = fdrizzle.lanczos_lut(2 if kernel == "lanczos2" else 3)
    else:
        lut = np.zeros(1, dtype=np.float64)
    return scal, lut


def _run_both(kernel, pf, s, *, var, dq, flag, launch, box=None, cols=None, rows=None,
              row_base=None, index64=False):  # fmt: skip
    """Run the Numba entry and the host-compiled CUDA entry; return both results.

    Each result is a dict of NumPy arrays shaped alike: ``sw`` (nacc, 2),
    ``var`` (n2, nacc), ``flag``, ``dq``, ``miss``, ``bad``; absent buffers
    are None.
    """
    data, weights, pixmap, data2, dqarr = _inputs(s)
    data2 = data2 if var else None
    dqarr = dqarr if dq else None
    ny, nx = IN_SHAPE
    out_ny, out_nx = OUT_SHAPE
    bx0, bx1, by0, by1 = box if box is not None else (0, out_nx - 1, 0, out_ny - 1)
    xmin, xmax = cols if cols is not None else (0, nx - 1)
    j0, j1 = rows if rows is not None else (0, ny)
    row_base = j0 if row_base is None else row_base
    nrows = j1 - row_base
    nacc = (bx1 - bx0 + 1) * (by1 - by0 + 1)
    n2 = 0 if data2 is None else data2.shape[0]
    sc, lut = _scalars(kernel, pf, s)

    # Numba: the buffers drizzle_add hands a band.
    nb = {
        "sw": np.zeros((nacc, 2)),
        "var": np.zeros((n2, nacc if n2 else 1)),
        "flag": np.zeros(nacc, dtype=np.uint8) if flag else None,
        "dq": np.zeros(nacc if dq else 1, dtype=np.uint32),
        "miss": np.zeros(nrows, dtype=np.int64),
        "bad": np.zeros(nrows, dtype=np.int64),
    }
    getattr(fdrizzle, ENTRY[kernel])(
        data, weights, pixmap, data2, dqarr, xmin, xmax, j0, j1,
        sc["iscale"], sc["iscale2"], sc["wht_scale"], sc["pf"], sc["s"], lut,
        bx0, bx1, by0, by1, nb["sw"], nb["var"], nb["flag"], nb["dq"], nb["miss"], nb["bad"],
        row_base,
    )  # fmt: skip

    # CUDA on the host: flat buffers, NULL (None) where absent.
    hb = {
        "sw": np.zeros(2 * nacc),
        "var": np.zeros(n2 * nacc) if n2 else None,
        "flag": np.zeros(nacc, dtype=np.uint32) if flag else None,
        "dq": np.zeros(nacc, dtype=np.uint32) if dq else None,
        "miss": np.zeros(nrows, dtype=np.uint64),
        "bad": np.zeros(nrows, dtype=np.uint64),
    }
    fn = host_module("drizzle", index64).get_function(ENTRY[kernel])
    grid, block = launch
    fn((grid,), (block,), (
        data, weights, pixmap, I32(nx), I32(ny), data2, I32(n2), dqarr,
        I32(xmin), I32(xmax), I32(j0), I32(j1),
        F64(sc["iscale"]), F64(sc["iscale2"]), F64(sc["wht_scale"]), F64(sc["pf"]), F64(sc["s"]),
        lut, I32(lut.size), I32(bx0), I32(bx1), I32(by0), I32(by1), I64(nacc),
        hb["sw"], hb["var"], hb["flag"], hb["dq"], hb["miss"], hb["bad"], I32(row_base),
    ))  # fmt: skip
    hb["sw"] = hb["sw"].reshape(nacc, 2)
    if n2:
        hb["var"] = hb["var"].reshape(n2, nacc)
    else:
        nb["var"] = None
    if not dq:
        nb["dq"] = None
    return nb, hb


def _assert_same(nb, hb):
    """Sums to summation order, flags, DQ and row counters exactly."""
    # Sums, weights and each variance plane, each on its own scale.
    planes = [("sum", nb["sw"][:, 0], hb["sw"][:, 0]), ("weight", nb["sw"][:, 1], hb["sw"][:, 1])]
    if nb["var"] is None:
        assert hb["var"] is None
    else:
        planes += [(f"var[{k}]", nb["var"][k], hb["var"][k]) for k in range(nb["var"].shape[0])]
    for name, n, h in planes:
        scale = max(float(np.abs(n).max()), 1e-300)
        assert_allclose(h, n, rtol=SUM_RTOL, atol=SUM_RTOL * scale, err_msg=name)
    for name in ("flag", "dq"):
        if nb[name] is None:
            assert hb[name] is None
        else:
            assert_array_equal(hb[name], nb[name].astype(np.uint32), err_msg=name)
    assert_array_equal(hb["miss"], nb["miss"].astype(np.uint64), err_msg="row_miss")
    assert_array_equal(hb["bad"], nb["bad"].astype(np.uint64), err_msg="row_bad")


def test_source_is_the_installed_file():
    """The loader serves kernels/drizzle.cu itself, behind its preamble."""
    src = module_source("drizzle")
    assert src.startswith("#define IDX_T int\n")
    assert "fallback/drizzle.py" in src
    sigs = host_module("drizzle").signatures
    assert set(sigs) == {*ENTRY.values(), "drizzle_merge", "drizzle_merge_var"}


@pytest.mark.parametrize("launch", LAUNCHES, ids=lambda g: f"g{g[0]}b{g[1]}")
@pytest.mark.parametrize("full", (False, True), ids=("bare", "var-dq-flag"))
@pytest.mark.parametrize("s", (0.5, 1.0, 2.0))
@pytest.mark.parametrize("pf", (1.0, 0.7, 0.3))
@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_matches_numba(kernel, pf, s, full, launch):
    nb, hb = _run_both(kernel, pf, s, var=full, dq=full, flag=full, launch=launch)
    _assert_same(nb, hb)
    # Not vacuous: something landed, something fell off, the bad pixels were seen.
    assert np.count_nonzero(nb["sw"][:, 1]) > 0
    assert nb["miss"].sum() > N_BAD
    assert nb["bad"].sum() == N_BAD
    if full:
        assert np.count_nonzero(nb["flag"]) > 0 and np.count_nonzero(nb["dq"]) > 0


@pytest.mark.parametrize(
    "var, dq, flag", ((True, False, False), (False, True, False), (False, False, True))
)
def test_optional_buffers_one_at_a_time(var, dq, flag):
    """Each optional buffer present on its own (their handling is common to every kernel)."""
    nb, hb = _run_both("square", 0.7, 1.0, var=var, dq=dq, flag=flag, launch=(3, 8))
    _assert_same(nb, hb)


@pytest.mark.parametrize("launch", ((1, 1), (40, 16)), ids=("one-thread", "idle-threads"))
@pytest.mark.parametrize("kernel", KERNELS)
def test_sub_box_and_sub_rectangle(kernel, launch):
    """A box inside the output (clipping on all four sides), part of the input, row_base < j0."""
    nb, hb = _run_both(kernel, 0.7, 1.0, var=True, dq=True, flag=True, launch=launch,
                       box=(24, 36, 3, 15), cols=(2, 19), rows=(3, 17), row_base=1)  # fmt: skip
    _assert_same(nb, hb)
    assert np.count_nonzero(nb["sw"][:, 1]) > 0
    assert nb["miss"][:2].sum() == 0  # rows below j0 untouched
    assert nb["miss"][2:].min() > 0  # every row has pixels outside the box


@pytest.mark.parametrize("kernel", ("square", "gaussian", "lanczos3"))
def test_index64_variant(kernel):
    """The 64-bit index build compiles and gives the same results."""
    nb, hb = _run_both(kernel, 0.7, 2.0, var=True, dq=True, flag=True, launch=(3, 8),
                       index64=True)  # fmt: skip
    _assert_same(nb, hb)
    assert host_module("drizzle", True).source.startswith("#define IDX_T long long\n")


# --------------------------------------------------------------------------
# Merges
# --------------------------------------------------------------------------

MERGE_OUT = (12, 16)  # (ny, nx)
MERGE_BOX = (3, 14, 2, 9)  # bx0, bx1, by0, by1
CANCEL = 5  # buffer cell whose weight cancels the output's
FRESH = 7  # buffer cell landing on an output pixel of weight 0
CTX_BIT = np.int32(1 << 3)


def _merge_inputs():
    """Band sums over MERGE_BOX and an output with some history."""
    rng = np.random.default_rng(3)
    bx0, bx1, by0, by1 = MERGE_BOX
    nacc = (bx1 - bx0 + 1) * (by1 - by0 + 1)
    acc_sw = np.empty((nacc, 2))
    acc_sw[:, 1] = rng.uniform(-0.5, 1.5, nacc)
    acc_sw[rng.random(nacc) < 0.3, 1] = 0.0
    acc_sw[:, 0] = acc_sw[:, 1] * rng.uniform(1.0, 3.0, nacc)
    acc_var = rng.uniform(0.0, 2.0, nacc) * acc_sw[:, 1] ** 2
    acc_flag = (rng.random(nacc) < 0.5).astype(np.uint8)
    acc_dq = rng.integers(0, 2**20, nacc).astype(np.uint32)
    out_img = rng.uniform(0.0, 5.0, MERGE_OUT).astype(np.float32)
    out_wht = rng.uniform(0.0, 2.0, MERGE_OUT).astype(np.float32)
    out_wht[rng.random(MERGE_OUT) < 0.2] = 0.0
    out_var = rng.uniform(0.0, 1.0, MERGE_OUT).astype(np.float32)
    ctx = rng.integers(0, 4, MERGE_OUT).astype(np.int32)
    out_dq = rng.integers(0, 4, MERGE_OUT).astype(np.uint32)

    bw = bx1 - bx0 + 1
    yc, xc = by0 + CANCEL // bw, bx0 + CANCEL % bw
    out_wht[yc, xc] = 0.75
    acc_sw[CANCEL] = (2.0, -0.75)
    yf, xf = by0 + FRESH // bw, bx0 + FRESH % bw
    out_wht[yf, xf] = 0.0
    acc_sw[FRESH] = (3.0, 1.5)
    return {
        "acc_sw": acc_sw, "acc_var": acc_var, "acc_flag": acc_flag, "acc_dq": acc_dq,
        "out_img": out_img, "out_wht": out_wht, "out_var": out_var, "ctx": ctx,
        "out_dq": out_dq, "cancel": (yc, xc), "fresh": (yf, xf),
    }  # fmt: skip


def _numba_box():
    """Numba's (boxes, offsets) for the single band MERGE_BOX, and the box itself."""
    return np.array([MERGE_BOX], dtype=np.int64), np.zeros(1, dtype=np.int64), MERGE_BOX


@pytest.mark.parametrize("fill", (None, -7.5))
@pytest.mark.parametrize("flag", (False, True), ids=("no-flag", "flag"))
@pytest.mark.parametrize("ctx, dq", ((False, False), (True, False), (True, True), (False, True)))
def test_merge_matches_numba(ctx, dq, flag, fill):
    m = _merge_inputs()
    boxes, offsets, (bx0, bx1, by0, by1) = _numba_box()
    do_fill = fill is not None
    fillv = np.nan if fill is None else fill
    n = {k: m[k].copy() for k in ("out_img", "out_wht", "ctx", "out_dq")}
    fdrizzle.drizzle_merge(
        boxes, offsets, m["acc_sw"], m["acc_flag"] if flag else None,
        m["acc_dq"] if dq else np.zeros(1, dtype=np.uint32), n["out_img"], n["out_wht"],
        n["ctx"] if ctx else np.zeros((1, 1), dtype=np.int32), CTX_BIT,
        n["out_dq"] if dq else np.zeros((1, 1), dtype=np.uint32),
        bx0, bx1, by0, by1, do_fill, fillv,
    )  # fmt: skip
    h = {k: m[k].copy() for k in ("out_img", "out_wht", "ctx", "out_dq")}
    fn = host_module("drizzle").get_function("drizzle_merge")
    fn((2,), (16,), (
        m["acc_sw"].ravel(), m["acc_flag"].astype(np.uint32) if flag else None,
        m["acc_dq"] if dq else None, I32(bx0), I32(bx1), I32(by0), I32(by1),
        h["out_img"], h["out_wht"], I32(MERGE_OUT[1]),
        h["ctx"] if ctx else None, CTX_BIT, h["out_dq"] if dq else None,
        I32(do_fill), F32(fillv),
    ))  # fmt: skip
    for k in ("out_img", "out_wht", "ctx", "out_dq"):
        assert_array_equal(h[k], n[k], err_msg=k)
    # Not vacuous: the cancelling pixel, the fresh one, the context and DQ moved.
    assert h["out_wht"][m["cancel"]] == 0.0
    assert h["out_img"][m["cancel"]] == (fill if do_fill else m["out_img"][m["cancel"]])
    assert h["out_img"][m["fresh"]] == np.float32(2.0)
    assert not np.array_equal(h["out_img"], m["out_img"])
    # ctx and out_dq change exactly when they are passed
    assert np.array_equal(h["ctx"], m["ctx"]) is not ctx
    assert np.array_equal(h["out_dq"], m["out_dq"]) is not dq


@pytest.mark.parametrize("fill", (None, -7.5))
def test_merge_var_matches_numba(fill):
    m = _merge_inputs()
    boxes, offsets, (bx0, bx1, by0, by1) = _numba_box()
    do_fill = fill is not None
    fillv = np.nan if fill is None else fill
    n_var = m["out_var"].copy()
    fdrizzle.drizzle_merge_var(boxes, offsets, m["acc_sw"], m["acc_var"], m["out_wht"], n_var,
                               bx0, bx1, by0, by1, do_fill, fillv)  # fmt: skip
    h_var = m["out_var"].copy()
    fn = host_module("drizzle").get_function("drizzle_merge_var")
    fn((3,), (8,), (
        m["acc_sw"].ravel(), m["acc_var"], I32(bx0), I32(bx1), I32(by0), I32(by1),
        m["out_wht"], h_var, I32(MERGE_OUT[1]), I32(do_fill), F32(fillv),
    ))  # fmt: skip
    assert_array_equal(h_var, n_var)
    assert h_var[m["cancel"]] == (fill if do_fill else m["out_var"][m["cancel"]])
    assert h_var[m["fresh"]] == np.float32(m["acc_var"][FRESH] / 1.5**2)
    assert np.count_nonzero(h_var != m["out_var"]) > 10


def test_index64_merges():
    """The merges of the 64-bit build agree with the 32-bit build's bit for bit."""
    m = _merge_inputs()
    bx0, bx1, by0, by1 = MERGE_BOX
    outs = []
    for index64 in (False, True):
        mod = host_module("drizzle", index64)
        img, wht, var = m["out_img"].copy(), m["out_wht"].copy(), m["out_var"].copy()
        ctx, odq = m["ctx"].copy(), m["out_dq"].copy()
        box = (I32(bx0), I32(bx1), I32(by0), I32(by1))
        mod.get_function("drizzle_merge_var")((3,), (8,), (
            m["acc_sw"].ravel(), m["acc_var"], *box, wht, var, I32(MERGE_OUT[1]), I32(1), F32(0.0),
        ))  # fmt: skip
        mod.get_function("drizzle_merge")((3,), (8,), (
            m["acc_sw"].ravel(), m["acc_flag"].astype(np.uint32), m["acc_dq"], *box,
            img, wht, I32(MERGE_OUT[1]), ctx, CTX_BIT, odq, I32(1), F32(0.0),
        ))  # fmt: skip
        outs.append((img, wht, var, ctx, odq))
    for a, b in zip(*outs):
        assert_array_equal(a, b)
