"""Tests of gpudriz.pixmap (calc_pixmap, estimate_pixel_scale_ratio) and its kernel.

The node grid's own functions are tested in ``test_pixmap_grid.py``, the lookup tables' in
``test_pixmap_tables.py``.

The fast method is checked against astropy on a lattice of pixels that meets
every node phase (the exact method is checked against drizzle.utils) on the
real SIP headers of ``data/wcs/`` (design principle 7), and its interpolation
kernel against the NumPy twin in ``tests/helpers/naive_pixmap.py``.
"""

from __future__ import annotations

import logging
import warnings

import drizzle.utils
import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS, DistortionLookupTable, FITSFixedWarning, Sip
from gpudriz.fallback.pixmap import interpolate_pixmap
from helpers import naive_pixmap as naive
from helpers.paths import WCS_DIR
from helpers.pixmaps import dist_lookup_wcs, tan_wcs

from gpudriz import pixmap_grid, pixmap_tables
from gpudriz.pixmap import (
    CHECK_TOL,
    auto_step,
    calc_pixmap,
    estimate_pixel_scale_ratio,
)

DATA = WCS_DIR
needs_data = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"real WCS headers not found in {DATA}"
)

TOL_FAST = 1e-3  # px, the design's bound (principle 7)


# --------------------------------------------------------------------------
# WCS builders
# --------------------------------------------------------------------------


def sip_wcs(crval=(10.0, 20.0), crpix=(100.5, 75.5), scale=0.05 / 3600, rot=25.0):
    """A TAN-SIP WCS with an order-3 distortion of a few px over 200 px (strong)."""
    w = tan_wcs(crval, crpix, scale, rot)
    w.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    a = np.zeros((4, 4))
    b = np.zeros((4, 4))
    a[2, 0], a[1, 1], a[0, 2], a[3, 0], a[1, 2] = 8e-5, -5e-5, 3e-5, 2e-8, -1e-8
    b[0, 2], b[1, 1], b[2, 0], b[0, 3], b[2, 1] = -9e-5, 6e-5, -3e-5, -1e-8, 2e-8
    w.sip = Sip(a, b, None, None, w.wcs.crpix)
    return w


def north_up_tan(w, shape):
    """North-up TAN WCS at the centre and pixel scale of ``w`` (shape (ny, nx))."""
    ny, nx = shape
    ra, dec = w.pixel_to_world_values((nx - 1) / 2, (ny - 1) / 2)
    scale = np.sqrt(abs(np.linalg.det(w.pixel_scale_matrix)))
    n = int(1.5 * max(nx, ny))
    return tan_wcs((float(ra), float(dec)), ((n + 1) / 2, (n + 1) / 2), scale, 0.0)


def read_hrc():
    """ACS/HRC chip: SIP order 4 in extension 1, 1024x1024 from WCSNAX1/2 (no data)."""
    with fits.open(DATA / "j8bt06nyq_sip_flt.fits") as hdul:
        hdr = hdul[1].header
        with warnings.catch_warnings():
            # NAXIS = 0: the file holds no data array, only the WCS.
            warnings.filterwarnings(
                "ignore", "The WCS transformation has more axes", FITSFixedWarning
            )
            w = WCS(hdr, hdul)
    return w, (hdr["WCSNAX2"], hdr["WCSNAX1"])


def read_hdr(name):
    return WCS(fits.Header.fromtextfile(DATA / name))


class StubWCS:
    """gwcs-like object over an astropy WCS.

    Only ``pixel_to_world_values``/``world_to_pixel_values`` (and optionally
    ``bounding_box``, ``array_shape``); NaN for x > ``xmax`` and, as gwcs
    does, outside a bounding box ((x_lo, x_hi), (y_lo, y_hi)), closed.
    """

    def __init__(self, w, xmax=np.inf, bounding_box=None, array_shape=None):
        self.w = w
        self.xmax = xmax
        self.bounding_box = bounding_box
        if array_shape is not None:
            self.array_shape = array_shape
        self.calls = 0

    def _outside(self, x, y):
        if self.bounding_box is None:
            return np.zeros(np.shape(x), dtype=bool)
        (xl, xh), (yl, yh) = self.bounding_box
        return (x < xl) | (x > xh) | (y < yl) | (y > yh)

    def pixel_to_world_values(self, x, y):
        self.calls += np.size(x)
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        lon, lat = self.w.pixel_to_world_values(x, y)
        bad = (x > self.xmax) | self._outside(x, y)
        return np.where(bad, np.nan, lon), np.where(bad, np.nan, lat)

    def world_to_pixel_values(self, lon, lat):
        x, y = self.w.world_to_pixel_values(lon, lat)
        bad = self._outside(x, y)
        return np.where(bad, np.nan, x), np.where(bad, np.nan, y)


def exact_at(wcs_from, wcs_to, x, y):
    """Reference: astropy at the given pixels, the way drizzle evaluates them."""
    px, py = wcs_to.world_to_pixel_values(*wcs_from.pixel_to_world_values(x, y))
    return np.stack([px, py], axis=-1)


def sample_pixels(shape, npts=40000):
    """A lattice with an odd stride (every node phase mod a power of two) plus the edges."""
    ny, nx = shape
    stride = max(3, int(np.sqrt(ny * nx / npts))) | 1
    rows = np.unique(np.r_[np.arange(0, ny, stride), ny - 1])
    cols = np.unique(np.r_[np.arange(0, nx, stride), nx - 1])
    return rows, cols


# --------------------------------------------------------------------------
# (a) fast vs exact on the real headers
# --------------------------------------------------------------------------

NIRCAM_OUT = ["nrcb5_output_wcs_psr_0p55.hdr", "nrcb5_output_wcs_psr_1p0.hdr",
              "nrcb5_output_wcs_psr_1p2.hdr"]


def _real_pairs():
    hrc, hrc_shape = read_hrc()
    tan = north_up_tan(hrc, hrc_shape)
    yield "hrc->tan", hrc, tan, hrc_shape
    yield "tan->hrc", tan, hrc, hrc_shape
    nrc = read_hdr("nrcb5_sip_wcs.hdr")
    for name in NIRCAM_OUT:
        out = read_hdr(name)
        yield f"nrcb5->{name}", nrc, out, None
        yield f"{name}->nrcb5", out, nrc, None


_PAIR_IDS = ["hrc->tan", "tan->hrc"] + [
    f"{a}->{b}" for n in NIRCAM_OUT for a, b in (("nrcb5", n), (n, "nrcb5"))
]


@needs_data
@pytest.mark.parametrize("pair", _PAIR_IDS)
def test_fast_matches_exact_on_real_headers(pair):
    name, w_from, w_to, shape = next(p for p in _real_pairs() if p[0] == pair)
    if shape is None:
        shape = w_from.array_shape
        assert shape is not None
    fast = calc_pixmap(w_from, w_to, shape=shape)
    assert fast.shape == tuple(shape) + (2,)
    assert fast.dtype == np.float64
    rows, cols = sample_pixels(shape)
    y, x = np.meshgrid(rows.astype(float), cols.astype(float), indexing="ij")
    ref = exact_at(w_from, w_to, x, y)
    err = np.abs(fast[np.ix_(rows, cols)] - ref)
    assert np.isfinite(err).all()
    assert err.max() < TOL_FAST, f"{name}: max |fast - exact| = {err.max():.2e} px"


# --------------------------------------------------------------------------
# (b) exact method == drizzle.utils.calc_pixmap
# --------------------------------------------------------------------------


def _exact_cases():
    s = sip_wcs()
    t = tan_wcs(crval=(10.0, 20.0), crpix=(120.0, 90.0), scale=0.06 / 3600, rot=-10.0)
    yield "sip->tan", s, t, (150, 200)
    yield "tan->sip", t, s, (160, 190)
    if DATA.is_dir():
        hrc, _ = read_hrc()
        yield "hrc->tan", hrc, north_up_tan(hrc, (1024, 1024)), (96, 128)
        nrc = read_hdr("nrcb5_sip_wcs.hdr")
        yield "1p0->nrcb5", read_hdr(NIRCAM_OUT[1]), nrc, (64, 80)


@pytest.mark.parametrize("case", ["sip->tan", "tan->sip", "hrc->tan", "1p0->nrcb5"])
def test_exact_equals_drizzle(case):
    found = [c for c in _exact_cases() if c[0] == case]
    if not found:
        pytest.skip(f"real WCS headers not found in {DATA}")
    _, w_from, w_to, shape = found[0]
    ours = calc_pixmap(w_from, w_to, shape=shape, method="exact")
    ref = drizzle.utils.calc_pixmap(w_from, w_to, shape=shape)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)


# --------------------------------------------------------------------------
# (c) fast method on synthetic WCSs
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "direction, shape, step",
    [
        ("tan->tan", (150, 200), None),
        ("tan->tan", (97, 131), 7),
        ("sip->tan", (150, 200), None),
        ("sip->tan", (150, 200), 16),
        ("tan->sip", (151, 203), 32),
        ("sip->sip", (1, 1), None),
        ("sip->tan", (3, 250), 5),
    ],
)
def test_fast_synthetic(direction, shape, step):
    a_from, a_to = direction.split("->")
    rot_tan = tan_wcs(crval=(10.001, 19.999), crpix=(60.0, 70.0), scale=0.07 / 3600, rot=33.0)
    north = tan_wcs(crval=(10.0, 20.0), crpix=(150.0, 120.0), scale=0.05 / 3600, rot=0.0)
    w_from = {"tan": rot_tan, "sip": sip_wcs()}[a_from]
    w_to = {"tan": north, "sip": sip_wcs(crpix=(90.0, 80.0), rot=-40.0)}[a_to]
    fast = calc_pixmap(w_from, w_to, shape=shape, step=step, backend="cpu")
    exact = calc_pixmap(w_from, w_to, shape=shape, method="exact")
    assert fast.shape == shape + (2,)
    err = np.abs(fast - exact).max()
    # TAN->TAN is smooth far below the bound, and a bicubic reproduces the
    # forward order-3 SIP up to the TAN terms.  The inverse of this SIP
    # (~10x ACS/WFC's coefficients per pixel) is not a polynomial: its error
    # at the default step is a few 1e-4 px, still under the design's bound.
    tol = {"tan->tan": 1e-8, "sip->tan": 1e-6}.get(direction, TOL_FAST)
    assert err < tol, f"{direction} step={step}: {err:.2e} px"


def test_fast_default_step_and_backend_argument():
    w_from = sip_wcs()
    w_to = tan_wcs()
    a = calc_pixmap(w_from, w_to, shape=(40, 50))
    b = calc_pixmap(w_from, w_to, shape=(40, 50), step=auto_step(50, 40), backend="cpu")
    np.testing.assert_array_equal(a, b)
    assert a.flags.c_contiguous


def _scaled_chip_sip(shape, pattern_nx=None):
    """A TAN-SIP chip whose ACS/WFC-like distortion pattern is scaled to ``pattern_nx`` px.

    As the synthetic association scales it: the same pattern on a smaller
    chip, so its curvature per pixel grows as the chip shrinks.
    """
    from gpudriz.demo import synthetic

    ny, nx = shape
    pattern_nx = nx if pattern_nx is None else pattern_nx
    w = tan_wcs(crpix=((nx + 1) / 2, (ny + 1) / 2), rot=20.0)
    w.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    a = synthetic.distortion_polynomial(synthetic.DISTORTION_X, pattern_nx)
    b = synthetic.distortion_polynomial(synthetic.DISTORTION_Y, pattern_nx)
    a[1, 0] = a[0, 1] = b[1, 0] = b[0, 1] = 0.0  # the linear part belongs in the CD matrix
    w.sip = Sip(a, b, None, None, w.wcs.crpix)
    return w


@pytest.mark.parametrize(
    "shape, pattern_nx",
    [((64, 128), None), ((256, 512), None), ((512, 1024), None), ((512, 1024), 256)],
)
def test_small_chips_get_the_fast_path_within_the_bound(shape, pattern_nx, caplog):
    """Small (or strongly distorted) chips: a step that suits them, not exact pixels everywhere."""
    ny, nx = shape
    w = _scaled_chip_sip(shape, pattern_nx)
    stub = StubWCS(w)
    w_to = north_up_tan(w, shape)
    with caplog.at_level(logging.INFO, logger="gpudriz"):
        fast = calc_pixmap(stub, w_to, shape=shape, backend="cpu")
    exact = calc_pixmap(w, w_to, shape=shape, method="exact")
    assert np.abs(fast - exact).max() < CHECK_TOL
    # nodes and cell checks, at most a few exact cells: far below one per pixel
    assert stub.calls < 0.25 * nx * ny, f"{stub.calls} WCS evaluations for {nx * ny} pixels"
    assert "calc_pixmap" not in caplog.text  # nothing said at INFO, per chip and per step


# --------------------------------------------------------------------------
# (d) NaN handling
# --------------------------------------------------------------------------


def test_nan_only_for_undefined_pixels_from_side():
    stub = StubWCS(tan_wcs(rot=20.0), xmax=30)
    w_to = tan_wcs(crpix=(80.0, 60.0), scale=0.08 / 3600)
    shape = (50, 70)
    fast = calc_pixmap(stub, w_to, shape=shape, step=8)
    exact = calc_pixmap(stub, w_to, shape=shape, method="exact")
    x = np.arange(shape[1])
    undefined = np.broadcast_to(x > 30, shape)
    for c in range(2):
        np.testing.assert_array_equal(np.isnan(fast[..., c]), undefined)
        np.testing.assert_array_equal(np.isnan(exact[..., c]), undefined)
    np.testing.assert_allclose(fast[~undefined], exact[~undefined], rtol=0, atol=1e-7)


def test_nan_only_for_undefined_pixels_to_side():
    # the output frame is bounded: positions outside its bounding box are NaN
    w_from = sip_wcs()
    stub_to = StubWCS(tan_wcs(crpix=(100.0, 80.0)), bounding_box=((20.3, 150.7), (-5.2, 90.4)))
    bbox = stub_to.bounding_box
    shape = (150, 200)
    fast = calc_pixmap(w_from, stub_to, shape=shape, disable_bbox="from", step=16)
    exact = calc_pixmap(w_from, stub_to, shape=shape, disable_bbox="from", method="exact")
    assert stub_to.bounding_box == bbox
    nan = np.isnan(exact)
    assert 0 < nan.sum() < nan.size
    np.testing.assert_array_equal(np.isnan(fast), nan)
    np.testing.assert_allclose(fast[~nan], exact[~nan], rtol=0, atol=1e-6)
    # with the box disabled (the default "to") nothing is NaN
    assert np.isfinite(calc_pixmap(w_from, stub_to, shape=shape, step=16)).all()
    assert stub_to.bounding_box == bbox


@pytest.mark.parametrize("disable_bbox", ["to", "none", "from", "both"])
def test_from_bounding_box(disable_bbox):
    bbox = ((3.0, 40.5), (-0.5, 25.2))
    stub = StubWCS(tan_wcs(rot=-15.0), bounding_box=bbox)
    w_to = tan_wcs(crpix=(70.0, 50.0))
    shape = (30, 45)
    fast = calc_pixmap(stub, w_to, shape=shape, disable_bbox=disable_bbox, step=8)
    exact = calc_pixmap(stub, w_to, shape=shape, disable_bbox=disable_bbox, method="exact")
    assert stub.bounding_box == bbox
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(exact))
    ok = ~np.isnan(exact)
    np.testing.assert_allclose(fast[ok], exact[ok], rtol=0, atol=1e-7)
    np.testing.assert_array_equal(
        exact, drizzle.utils.calc_pixmap(stub, w_to, shape, disable_bbox)
    )
    y, x = np.indices(shape)
    outside = (x < 3.0) | (x > 40.5) | (y > 25.2)
    if disable_bbox in ("to", "none"):
        np.testing.assert_array_equal(np.isnan(fast[..., 0]), outside)
    else:
        assert ok.all()


@pytest.mark.parametrize("disable_bbox", ["to", "none"])
def test_same_bounded_wcs_both_sides(disable_bbox):
    # one object as "from" and "to": as in drizzle.utils, disabling the "to"
    # box disables it on both sides; with "none" it bounds input and output
    bbox = ((2.5, 40.5), (1.5, 25.2))
    stub = StubWCS(tan_wcs(rot=-15.0), bounding_box=bbox)
    shape = (30, 45)
    fast = calc_pixmap(stub, stub, shape=shape, disable_bbox=disable_bbox, step=8)
    exact = calc_pixmap(stub, stub, shape=shape, disable_bbox=disable_bbox, method="exact")
    assert stub.bounding_box == bbox
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(exact))
    ok = ~np.isnan(exact)
    if disable_bbox == "to":
        assert ok.all()
    else:
        assert 0 < ok.sum() < ok.size
    np.testing.assert_allclose(fast[ok], exact[ok], rtol=0, atol=1e-7)
    np.testing.assert_array_equal(exact, drizzle.utils.calc_pixmap(stub, stub, shape, disable_bbox))


def test_nan_nodes_trigger_exact_evaluation_only_near_them():
    stub = StubWCS(tan_wcs(), xmax=100)
    shape, step = (64, 128), 16
    calc_pixmap(stub, tan_wcs(), shape=shape, step=step)
    gy, gx = (shape[0] - 1) // step + 4, (shape[1] - 1) // step + 4
    # nodes, one check per cell with a defined stencil (4 x 5 cells), then the
    # pixels of the cells whose stencil reaches x > 100 (nodes at x = 112 and
    # beyond: cells 5..7 of 8, i.e. 3 * 16 columns)
    assert stub.calls == gx * gy + 4 * 5 + 3 * step * shape[0]


def test_check_recomputes_cells_where_interpolation_is_poor(caplog):
    # the inverse of the strong synthetic SIP at a coarse step: some cell
    # centres are off by more than CHECK_TOL, and those cells become exact
    w_from = tan_wcs(crval=(10.001, 19.999), crpix=(60.0, 70.0), scale=0.07 / 3600, rot=33.0)
    w_to = sip_wcs(crpix=(90.0, 80.0), rot=-40.0)
    shape = (151, 203)
    exact = calc_pixmap(w_from, w_to, shape=shape, method="exact")
    with caplog.at_level(logging.DEBUG, logger="gpudriz"):
        fast = calc_pixmap(w_from, w_to, shape=shape, step=64)
    assert "error above 0.0001 px at their centre" in caplog.text
    assert np.abs(fast - exact).max() < 2 * CHECK_TOL


def read_dist_lookup():
    """astropy's test header with SIP, D2IM and NPOL tables (:func:`helpers.pixmaps.dist_lookup_wcs`)."""
    w = dist_lookup_wcs()
    assert w.det2im1 is not None and w.cpdis1 is not None and w.cpdis2 is not None
    return w


def _count_exact_pixels(monkeypatch):
    """Count the pixels gpudriz.pixmap evaluates exactly (all of them for method="exact")."""
    counted = {"pixels": 0}
    original = pixmap_grid.map_exact

    def counting(wcs_from, wcs_to, x, y):
        counted["pixels"] += np.size(x)
        return original(wcs_from, wcs_to, x, y)

    monkeypatch.setattr(pixmap_grid, "map_exact", counting)
    return counted


@pytest.mark.parametrize("shape", [(150, 200), (512, 1024)])
def test_lookup_tables_keep_the_fast_path_within_the_bound(shape, monkeypatch):
    """D2IM and NPOL (astropy's real test header): tables applied per pixel, the rest interpolated."""
    w_from = read_dist_lookup()
    w_to = north_up_tan(w_from, shape)
    counted = _count_exact_pixels(monkeypatch)
    fast = calc_pixmap(w_from, w_to, shape=shape, backend="cpu")
    assert counted["pixels"] < 0.05 * shape[0] * shape[1]
    exact = drizzle.utils.calc_pixmap(w_from, w_to, shape=shape)
    err = np.abs(fast - exact).max()
    assert err < 1e-5, f"{err:.2e} px"  # measured 3.8e-7 px on the full 2048x4096 chip
    # the tables matter far beyond that: ignoring them is off by ~0.08 px
    smooth = calc_pixmap(pixmap_tables.without_tables(w_from), w_to, shape=shape, method="exact")
    assert np.abs(smooth - exact).max() > 1e-2


def test_synthetic_npol_tables_fast_within_the_bound(caplog):
    """Rough random NPOL tables on a strong SIP: still within 1e-4 px of drizzle's exact map."""
    rng = np.random.default_rng(3)
    w_from = sip_wcs()
    table = rng.normal(scale=0.05, size=(9, 12)).astype(np.float32)
    where = ((5.0, 5.0), (100.0, 75.0), (16.0, 16.0))  # crpix, crval, cdelt of the table
    w_from.cpdis1 = DistortionLookupTable(table, *where)
    w_from.cpdis2 = DistortionLookupTable(table[::-1].copy(), *where)
    w_to = tan_wcs()
    shape = (150, 200)
    with caplog.at_level(logging.INFO, logger="gpudriz"):
        fast = calc_pixmap(w_from, w_to, shape=shape)
    assert "exactly" not in caplog.text
    ref = drizzle.utils.calc_pixmap(w_from, w_to, shape=shape)
    np.testing.assert_allclose(fast, ref, rtol=0, atol=CHECK_TOL)


def test_tables_of_the_output_wcs_are_inverted_exactly(caplog, monkeypatch):
    """Blot's direction (tables in 'wcs_to'): every pixel exact, said once at INFO."""
    import gpudriz.pixmap as gp

    monkeypatch.setattr(gp, "_SAID", set())
    w_chip = read_dist_lookup()
    shape = (40, 60)
    w_frame = north_up_tan(w_chip, shape)
    with caplog.at_level(logging.DEBUG, logger="gpudriz"):
        a = calc_pixmap(w_frame, w_chip, shape=shape)
        b = calc_pixmap(w_frame, w_chip, shape=shape)
    infos = [r for r in caplog.records if r.levelno == logging.INFO and "wcs_to" in r.message]
    assert len(infos) == 1
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, drizzle.utils.calc_pixmap(w_frame, w_chip, shape=shape),
                               rtol=0, atol=1e-9)  # fmt: skip


# --------------------------------------------------------------------------
# (e) validation
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "cubic"}, "'method' must be one of 'fast', 'exact'"),
        ({"step": 0}, "'step' must be a positive integer"),
        ({"step": -4}, "'step' must be a positive integer"),
        ({"step": 2.5}, "'step' must be a positive integer"),
        ({"step": True}, "'step' must be a positive integer"),
        ({"disable_bbox": "all"}, "'disable_bbox' must be one of"),
        ({"disable_bbox": None}, "'disable_bbox' must be one of"),
        ({"shape": (0, 5)}, "'shape' must be two positive integers"),
        ({"shape": (5,)}, "'shape' must be two positive integers"),
        ({"shape": (4.5, 5)}, "'shape' must be two positive integers"),
    ],
)
def test_validation(kwargs, match):
    kwargs.setdefault("shape", (10, 10))
    with pytest.raises(ValueError, match=match):
        calc_pixmap(tan_wcs(), tan_wcs(), **kwargs)


def test_unknown_backend():
    with pytest.raises(ValueError, match="backend"):
        calc_pixmap(tan_wcs(), tan_wcs(), shape=(4, 4), backend="fpga")


# --------------------------------------------------------------------------
# (f) shape inference
# --------------------------------------------------------------------------


def test_shape_from_array_shape():
    w_from = tan_wcs(rot=10.0, shape=(23, 37))
    assert w_from.array_shape == (23, 37)
    pm = calc_pixmap(w_from, tan_wcs())
    assert pm.shape == (23, 37, 2)
    np.testing.assert_array_equal(pm, calc_pixmap(w_from, tan_wcs(), shape=(23, 37)))
    # an explicit shape wins
    assert calc_pixmap(w_from, tan_wcs(), shape=(5, 6)).shape == (5, 6, 2)


def test_shape_from_bounding_box():
    stub = StubWCS(tan_wcs(), bounding_box=((-0.5, 59.5), (-0.5, 39.5)))
    for method in ("fast", "exact"):
        pm = calc_pixmap(stub, tan_wcs(), method=method)
        assert pm.shape == (40, 60, 2)


def test_shape_unknown():
    with pytest.raises(ValueError, match="pixmap shape is unknown: pass 'shape'"):
        calc_pixmap(tan_wcs(), tan_wcs())
    with pytest.raises(ValueError, match="pixmap shape is unknown"):
        calc_pixmap(StubWCS(tan_wcs()), tan_wcs(), method="exact")


# --------------------------------------------------------------------------
# (g) kernel vs its NumPy twin
# --------------------------------------------------------------------------


def _grid_for(shape, step, rng):
    ny, nx = shape
    gy, gx = (ny - 1) // step + 4, (nx - 1) // step + 4
    return rng.normal(scale=100.0, size=(gy, gx, 2))


@pytest.mark.parametrize("shape, step", [((1, 1), 1), ((17, 23), 1), ((37, 53), 4),
                                         ((64, 64), 16), ((70, 45), 7), ((5, 300), 64)])
def test_kernel_matches_naive_twin(shape, step):
    rng = np.random.default_rng(sum(shape) * step)
    grid = _grid_for(shape, step, rng)
    out = np.full(shape + (2,), -1.0)
    interpolate_pixmap(grid, -step, -step, step, out)
    ref = naive.naive_interpolate_pixmap(grid, -step, -step, step, shape)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-9)


def test_kernel_reproduces_nodes_and_bicubics():
    step, shape = 8, (41, 50)
    gy, gx = (shape[0] - 1) // step + 4, (shape[1] - 1) // step + 4
    y, x = np.meshgrid(np.arange(gy) * step - step, np.arange(gx) * step - step, indexing="ij")
    x = x.astype(float)
    y = y.astype(float)
    grid = np.stack([1.5 + 0.3 * x - 2e-3 * x**2 * y + 1e-9 * x**3 * y**3,
                     -4.0 + 0.9 * y + 1e-4 * x * y**2 - 3e-6 * y**3], axis=-1)
    out = np.empty(shape + (2,))
    interpolate_pixmap(np.ascontiguousarray(grid), -step, -step, step, out)
    # nodes exactly
    np.testing.assert_array_equal(out[::step, ::step], grid[1 : 1 + 6, 1 : 1 + 7])
    # polynomials of degree <= 3 in each variable exactly (to rounding)
    yy, xx = np.indices(shape, dtype=float)
    ref = np.stack([1.5 + 0.3 * xx - 2e-3 * xx**2 * yy + 1e-9 * xx**3 * yy**3,
                    -4.0 + 0.9 * yy + 1e-4 * xx * yy**2 - 3e-6 * yy**3], axis=-1)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-9)


def test_kernel_nan_stays_in_its_stencils():
    step, shape = 5, (30, 40)
    rng = np.random.default_rng(7)
    grid = _grid_for(shape, step, rng)
    k, l = 3, 6  # node at pixel (x, y) = (25, 10)
    grid[k, l, :] = np.nan
    out = np.empty(shape + (2,))
    interpolate_pixmap(grid, -step, -step, step, out)
    ref = naive.naive_interpolate_pixmap(grid, -step, -step, step, shape)
    # pixels whose cell c (= p // step + 1) has c - 1 <= node <= c + 2
    cy = np.arange(shape[0]) // step + 1
    cx = np.arange(shape[1]) // step + 1
    hit = ((cy - 1 <= k) & (k <= cy + 2))[:, None] & ((cx - 1 <= l) & (l <= cx + 2))[None, :]
    for c in range(2):
        np.testing.assert_array_equal(np.isnan(out[..., c]), hit)
        np.testing.assert_array_equal(np.isnan(ref[..., c]), hit)
    np.testing.assert_allclose(out[~hit], ref[~hit], rtol=1e-12, atol=1e-9)


# --------------------------------------------------------------------------
# estimate_pixel_scale_ratio
# --------------------------------------------------------------------------


def _ratio_cases():
    s = sip_wcs()
    s.pixel_shape = (200, 150)
    t = tan_wcs(scale=0.13 / 3600, rot=40.0)
    yield "sip/tan", s, t, None, None
    yield "tan/sip refpix", t, s, (3.0, 4.0), (10.5, 20.25)
    if DATA.is_dir():
        nrc = read_hdr("nrcb5_sip_wcs.hdr")
        for name in NIRCAM_OUT:
            yield name, nrc, read_hdr(name), None, None


@pytest.mark.parametrize("case", ["sip/tan", "tan/sip refpix"] + NIRCAM_OUT)
def test_pixel_scale_ratio_matches_drizzle(case):
    found = [c for c in _ratio_cases() if c[0] == case]
    if not found:
        pytest.skip(f"real WCS headers not found in {DATA}")
    _, w_from, w_to, rf, rt = found[0]
    ours = estimate_pixel_scale_ratio(w_from, w_to, rf, rt)
    ref = drizzle.utils.estimate_pixel_scale_ratio(w_from, w_to, rf, rt)
    assert ours == pytest.approx(ref, rel=1e-9)
    if case.startswith("nrcb5_output"):
        nominal = {"0p55": 0.55, "1p0": 1.0, "1p2": 1.2}[case.split("_")[-1][:-4]]
        assert ours == pytest.approx(nominal, rel=0.01)


def test_pixel_scale_ratio_across_ra_zero():
    # a pixel straddling RA = 0 (drizzle.utils measures ~360 deg across it)
    w = tan_wcs(crval=(0.0, 10.0), crpix=(1.0, 1.0), scale=0.1 / 3600)
    w2 = tan_wcs(crval=(0.0, 10.0), crpix=(1.0, 1.0), scale=0.2 / 3600)
    assert estimate_pixel_scale_ratio(w, w2, (0.0, 0.0), (0.0, 0.0)) == pytest.approx(2.0, rel=1e-6)


def test_pixel_scale_ratio_default_refpix_bbox():
    stub = StubWCS(tan_wcs(scale=0.1 / 3600), bounding_box=((-0.5, 99.5), (-0.5, 49.5)))
    w2 = tan_wcs(scale=0.3 / 3600)
    assert estimate_pixel_scale_ratio(stub, w2) == pytest.approx(3.0, rel=1e-6)
