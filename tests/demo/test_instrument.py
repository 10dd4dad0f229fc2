"""The synthetic instrument: chip geometry and distortion, pixel areas, and the detector model."""

import numpy as np
import pytest
from astropy.table import Table
from astropy.wcs import WCS

from gpudriz.demo.instrument import (
    CHIPS,
    DQ_BAD_DETECTOR,
    DQ_HOT,
    DQ_SATURATED,
    FULL_WELL,
    GAIN,
    IDCSCALE,
    ChipGeometry,
    draw_cosmic_rays,
    draw_defects,
    expose,
    global_cd,
    pixel_area_map,
    tangent_wcs,
)


def _sip_displacement(w, shape):
    ny, nx = shape
    y, x = np.mgrid[0:ny:4, 0:nx:4]
    pix = np.column_stack([x.ravel(), y.ravel()]).astype(float)
    focal = w.sip_pix2foc(pix, 0)
    return np.hypot(*(focal - (pix + 1.0 - w.wcs.crpix)).T).max()


def test_small_chips_have_a_few_pixels_of_sip_distortion(exposures, assoc):
    _, truth = assoc
    for c in CHIPS:
        w = exposures[0, c]["wcs"]
        assert w.sip is not None
        assert 3.0 < _sip_displacement(w, truth.chip_shape) < 12.0


def test_full_size_chips_have_tens_of_pixels_of_distortion():
    shape = (2048, 4096)
    cd = global_cd(40.0)
    for c in CHIPS:
        header = ChipGeometry(c, shape, 50).wcs_header((150.0, 2.0), cd)
        w = WCS(header)
        assert 20.0 < _sip_displacement(w, shape) < 100.0
        # ACS/WFC's pixel area changes by several percent across a chip.
        area = pixel_area_map(w, shape)
        assert 0.03 < area.max() - area.min() < 0.25


def test_chip_headers_describe_one_focal_plane():
    """Each chip's own CRVAL/CD/SIP reproduces the mosaic's distortion polynomial."""
    shape, centre = (2048, 4096), (150.0, 2.0)
    cd = global_cd(40.0)
    rng = np.random.default_rng(0)
    for c in CHIPS:
        chip = ChipGeometry(c, shape, 50)
        w = WCS(chip.wcs_header(centre, cd))
        x, y = rng.uniform(0, shape[1] - 1, 100), rng.uniform(0, shape[0] - 1, 100)
        ra, dec = tangent_wcs(centre, cd).wcs_pix2world(*chip.focal_plane(x, y), 0)
        xb, yb = w.all_world2pix(ra, dec, 0, tolerance=1e-10)
        # What is left is the change of tangent point and of north between chip and mosaic.
        assert np.abs(xb - x).max() < 0.05 and np.abs(yb - y).max() < 0.05


def test_chips_are_separated_by_the_gap_on_the_sky(exposures, assoc):
    _, truth = assoc
    ny, nx = truth.chip_shape
    top_of_lower = exposures[0, 1]["wcs"].all_pix2world([[nx / 2, ny - 1]], 0)[0]
    bottom_of_upper = exposures[0, 2]["wcs"].all_pix2world([[nx / 2, 0]], 0)[0]
    d_ra = (top_of_lower[0] - bottom_of_upper[0]) * np.cos(np.radians(top_of_lower[1]))
    sep = np.hypot(d_ra, top_of_lower[1] - bottom_of_upper[1]) * 3600.0 / IDCSCALE
    assert 45.0 < sep < 60.0  # 50 px gap, seen through a few pixels of distortion


def test_pixel_area_map_matches_the_wcs_jacobian(exposures):
    w, area = exposures[0, 2]["wcs"], exposures[0, 2]["area"]
    for x, y in [(10, 20), (250, 128), (500, 240)]:
        q = w.all_pix2world([[x - 0.5, y], [x + 0.5, y], [x, y - 0.5], [x, y + 0.5]], 0)
        c = np.cos(np.radians(q[:, 1].mean()))
        jac = np.array([[(q[1, 0] - q[0, 0]) * c, (q[3, 0] - q[2, 0]) * c], [q[1, 1] - q[0, 1], q[3, 1] - q[2, 1]]])
        assert abs(np.linalg.det(jac)) * 3600.0**2 / IDCSCALE**2 == pytest.approx(area[y, x], rel=1e-5)


# ------------------------------------------------------------------ detector


def test_defects_are_drawn_per_chip_and_bad_columns_run_to_the_readout():
    shape = (256, 512)
    hot, bad = draw_defects(np.random.default_rng(0), shape)
    ny, nx = shape
    for c in CHIPS:
        mine = hot[hot["chip"] == c]
        assert len(mine) == round(5e-4 * ny * nx)
        assert len(set(zip(mine["x"], mine["y"]))) == len(mine)  # no pixel drawn twice
        assert np.all((mine["rate"] >= 0.2) & (mine["rate"] <= 5.0))
        assert 0 < mine["flagged"].sum() < len(mine)
        cols = bad[bad["chip"] == c]
        assert len(cols) == 1 and 8 <= cols["x"][0] < nx - 8
        # WFC2 (SCI,1) reads out at row 0, WFC1 (SCI,2) at the top row: the trap
        # spoils the column between it and the far edge.
        if c == 1:
            assert cols["y_max"][0] == ny - 1 and ny // 4 <= cols["y_min"][0] < 3 * ny // 4
        else:
            assert cols["y_min"][0] == 0 and ny // 4 <= cols["y_max"][0] < 3 * ny // 4
    again = draw_defects(np.random.default_rng(0), shape)
    assert all(np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for a, b in zip((hot, bad), again)
               for k in a.colnames)  # fmt: skip


def test_cosmic_rays_hit_about_the_requested_fraction_of_pixels():
    shape = (512, 512)
    cr = draw_cosmic_rays(np.random.default_rng(1), shape, 0.01)
    assert cr.shape == shape
    assert 0.008 < np.count_nonzero(cr) / cr.size < 0.012
    assert cr[cr > 0].min() >= 150.0 and cr.max() > 2000.0
    assert np.array_equal(cr, draw_cosmic_rays(np.random.default_rng(1), shape, 0.01))
    assert not draw_cosmic_rays(np.random.default_rng(1), shape, 0.0).any()


def test_expose_flags_saturation_hot_pixels_and_bad_columns():
    shape = (64, 128)
    source = np.zeros(shape)
    source[10, 10] = 1e6  # far above the full well
    hot = Table({"chip": [1, 1, 2], "x": [5, 6, 7], "y": [20, 20, 20], "rate": [1.0, 1.0, 1.0],
                 "flagged": [True, False, True]})  # fmt: skip
    bad = Table({"chip": [1], "x": [50], "y_min": [30], "y_max": [63]})
    sci, err, dq = expose(np.random.default_rng(2), source, np.ones(shape), 30.0, np.zeros(shape), hot, bad, 1, 400.0)
    assert sci.dtype == err.dtype == np.float32 and dq.dtype == np.int16
    expected = np.zeros(shape, np.int16)
    expected[10, 10] = DQ_SATURATED
    expected[20, 5] = DQ_HOT  # the unflagged one and the other chip's are left alone
    expected[30:, 50] = DQ_BAD_DETECTOR
    assert np.array_equal(dq, expected)
    assert sci[10, 10] == pytest.approx(FULL_WELL, abs=GAIN["C"])
    assert np.median(sci[30:, 50]) < 0.5 * 30.0 < np.median(sci[:30, 50])
    # Whole ADU of amplifier C (the left half of SCI,1) at unit pixel area.
    left = sci[:, :64].astype(np.float64) / GAIN["C"]
    assert np.allclose(left, np.rint(left), atol=1e-3)
