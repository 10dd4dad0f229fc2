"""The fast pixmap's node grid (:mod:`gpudriz.pixmap_grid`); calc_pixmap's results are tested in
``test_pixmap.py``."""

import numpy as np
import pytest
from astropy.wcs import Sip
from helpers.pixmaps import tan_wcs

from gpudriz.pixmap_grid import (
    DEFAULT_STEP,
    MIN_STEP,
    auto_step,
    bad_cells,
    node_grid,
    refine_pays,
    world_to_pixel_nodes,
)


def test_auto_step_suits_the_chip_size():
    assert auto_step(4096, 2048) == DEFAULT_STEP
    assert auto_step(1024, 1024) == DEFAULT_STEP
    assert auto_step(1024, 512) == DEFAULT_STEP
    assert auto_step(512, 256) == 32
    assert auto_step(128, 64) == 8
    assert auto_step(10, 7) == MIN_STEP


def test_failed_inversion_nodes_are_nan():
    w = tan_wcs(crpix=(50.0, 50.0), scale=1e-4)
    w.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    a = np.zeros((3, 3))
    b = np.zeros((3, 3))
    a[2, 0], b[0, 2], a[1, 1] = 2e-3, 2e-3, 1e-3
    w.sip = Sip(a, b, None, None, w.wcs.crpix)
    xs = np.linspace(-400.0, 400.0, 41)
    x, y = np.meshgrid(xs, xs)
    world = w.pixel_to_world_values(x.ravel() - 300, y.ravel() - 300)
    px, py = world_to_pixel_nodes(w, world)
    nan = np.isnan(px)
    assert nan.any() and not nan.all()
    np.testing.assert_array_equal(nan, np.isnan(py))
    with pytest.warns(UserWarning, match="failed to converge"):
        rx, ry = w.world_to_pixel_values(*world)
    np.testing.assert_allclose(px[~nan], rx[~nan], rtol=0, atol=1e-3)


def test_node_grid_covers_every_stencil():
    w_from, w_to = tan_wcs(rot=10.0), tan_wcs()
    grid, x0, y0 = node_grid(w_from, w_to, 50, 40, 16)
    assert (x0, y0) == (-16, -16) and grid.shape == ((40 - 1) // 16 + 4, (50 - 1) // 16 + 4, 2)
    want = np.stack(w_to.world_to_pixel_values(*w_from.pixel_to_world_values(-16.0, 32.0)))
    np.testing.assert_allclose(grid[3, 0], want, rtol=0, atol=1e-9)
    assert not bad_cells(grid).any()


def test_a_nan_node_marks_the_cells_whose_stencil_holds_it():
    grid = np.zeros((8, 9, 2))
    grid[4, 5, 1] = np.nan
    bad = bad_cells(grid)
    assert bad.shape == (5, 6)
    rows, cols = np.nonzero(bad)
    assert set(rows) == {1, 2, 3, 4} and set(cols) == {2, 3, 4, 5}


def test_refining_pays_only_for_many_failed_cells():
    failed = np.zeros((16, 16), bool)
    assert not refine_pays(failed, 64, 4096, 4096)
    failed[0, 0] = True
    assert not refine_pays(failed, 64, 4096, 4096)  # one cell: cheaper exact
    failed[:] = True
    assert refine_pays(failed, 64, 4096, 4096)
    assert not refine_pays(failed, MIN_STEP, 4096, 4096)  # no finer grid
