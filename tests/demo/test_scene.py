"""The synthetic sky: galaxy and star stamps, and the noiseless scene on any pixel grid."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
from astropy.table import Table
from astropy.wcs import WCS

from gpudriz.demo.instrument import ChipGeometry, global_cd
from gpudriz.demo.scene import (
    PSF,
    add_galaxies,
    draw_scene,
    render_scene,
    render_sources,
)


def test_galaxy_stamp_holds_its_flux_and_is_centred(exposures):
    w = exposures[0, 1]["wcs"]
    ra, dec = w.all_pix2world([[200.3, 120.6]], 0)[0]
    gal = Table({"ra": [ra], "dec": [dec], "flux": [100.0], "r_eff": [0.3], "sersic_n": [1.0],
                 "axis_ratio": [0.5], "pa": [30.0], "r_trunc": [1.2]})  # fmt: skip
    image = np.zeros((256, 512))
    add_galaxies(image, w, gal, 400.0)
    assert image.sum() == pytest.approx(40000.0, rel=1e-9)
    y, x = np.indices(image.shape)
    assert (image * x).sum() / image.sum() == pytest.approx(200.3, abs=0.02)
    assert (image * y).sum() / image.sum() == pytest.approx(120.6, abs=0.02)
    assert np.count_nonzero(image > 0.01 * image.max()) > 100  # extended, not a point


def _grid(shape=(64, 64), scale=0.04):
    """A north-up TAN grid of ``scale`` arcsec pixels."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [150.0, 2.0]
    w.wcs.crpix = [shape[1] / 2, shape[0] / 2]
    w.wcs.cd = [[-scale / 3600.0, 0.0], [0.0, scale / 3600.0]]
    return w


def _star(w, x, y, flux):
    ra, dec = w.all_pix2world([[x, y]], 0)[0]
    return Table({"ra": [ra], "dec": [dec], "flux": [flux], "isolated": [True]})


NO_GALAXIES = Table({k: np.zeros(0) for k in ("ra", "dec", "flux", "r_eff", "sersic_n", "axis_ratio", "pa",
                                               "r_trunc")})  # fmt: skip


def test_render_scene_puts_a_star_where_the_wcs_says_with_its_flux():
    w, shape = _grid(), (64, 64)
    image = render_scene(None, w, shape, stars=_star(w, 31.3, 30.6, 100.0), galaxies=NO_GALAXIES)
    assert image.shape == shape
    assert image.sum() == pytest.approx(100.0, rel=1e-9)  # the stamp is inside the grid
    y, x = np.indices(shape)
    assert (image * x).sum() / image.sum() == pytest.approx(31.3, abs=0.01)
    assert (image * y).sum() / image.sum() == pytest.approx(30.6, abs=0.01)
    # A source off the grid draws nothing; one on the edge column only the part of its
    # double-Gaussian PSF right of the grid's edge, x = -0.5.
    assert not render_scene(None, w, shape, stars=_star(w, 200.0, 30.0, 100.0), galaxies=NO_GALAXIES).any()
    edge = render_scene(None, w, shape, stars=_star(w, 0.0, 30.0, 100.0), galaxies=NO_GALAXIES)
    inside = sum(f * 0.5 * (1.0 + math.erf(0.5 / (math.sqrt(2.0) * s))) for f, s in PSF)
    assert edge.sum() == pytest.approx(100.0 * inside, rel=1e-5)  # stamps are normalised over +-9.5 px


def test_render_sources_is_the_scene_times_the_exposure_time():
    w, shape = _grid(), (64, 64)
    stars = _star(w, 20.2, 40.7, 50.0)
    gal = Table({"ra": stars["ra"], "dec": stars["dec"], "flux": [80.0], "r_eff": [0.2], "sersic_n": [1.0],
                 "axis_ratio": [0.6], "pa": [10.0], "r_trunc": [0.8]})  # fmt: skip
    truth = SimpleNamespace(stars=stars, galaxies=gal)
    scene = render_scene(truth, w, shape)
    assert scene.sum() == pytest.approx(130.0, rel=1e-9)
    assert np.allclose(render_sources(w, shape, stars, gal, 400.0), 400.0 * scene, rtol=1e-12, atol=0)


def test_draw_scene_draws_the_requested_sources_with_close_pairs():
    chips = {c: ChipGeometry(c, (128, 256), 50) for c in (1, 2)}
    dithers = np.array([(0.0, 0.0), (2.5, 1.5)])
    args = (chips, dithers, (150.1, 2.2), global_cd(40.0))
    stars, galaxies = draw_scene(np.random.default_rng(3), *args, 200, 12)
    assert len(stars) == 200 and len(galaxies) == 12
    assert np.all((stars["flux"] >= 10.0) & (stars["flux"] <= 500.0))
    assert np.allclose(galaxies["r_trunc"], 4.0 * galaxies["r_eff"])
    # A tenth of the stars are companions within 6 px of another: never isolated.
    assert (~stars["isolated"]).sum() >= 20
    again, _ = draw_scene(np.random.default_rng(3), *args, 200, 12)
    assert np.array_equal(np.asarray(again["ra"]), np.asarray(stars["ra"]))
    dense, _ = draw_scene(np.random.default_rng(3), *args, None, None)
    assert len(dense) > 0
