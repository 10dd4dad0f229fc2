"""The WCS helpers: parsing headers, the linear part of a WCS and affine corrections."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from gpudriz.pipeline.geometry.wcs import (
    celestial_wcs,
    corrected_wcs,
    linear_wcs,
    parse_wcs,
    pixel_to_world,
    world_to_pixel,
)
from gpudriz.pipeline.io.fits import InputError

SHAPE = (40, 60)


def _header(sip=False, ctype=("RA---TAN", "DEC--TAN")):
    d = 0.05 / 3600.0
    suffix = "-SIP" if sip else ""
    h = fits.Header()
    h.update(CTYPE1=ctype[0] + suffix, CTYPE2=ctype[1] + suffix, CRVAL1=150.0, CRVAL2=2.0, CRPIX1=30.5,
             CRPIX2=20.5, CD1_1=-d, CD1_2=0.0, CD2_1=0.0, CD2_2=d)  # fmt: skip
    if sip:
        h.update(A_ORDER=2, B_ORDER=2, A_2_0=2e-5, A_0_2=-1e-5, B_1_1=3e-5, B_2_0=1e-5)
    return h


def test_celestial_wcs_sets_the_pixel_shape():
    w = celestial_wcs(_header(), None, "'x.fits' SCI,1", SHAPE)
    assert w.has_celestial and w.pixel_shape == (SHAPE[1], SHAPE[0])


def test_a_non_celestial_header_is_refused_naming_it():
    with pytest.raises(InputError) as info:
        celestial_wcs(_header(ctype=("LINEAR", "LINEAR")), None, "'x.fits' SCI,1", SHAPE)
    assert str(info.value) == ("'x.fits' SCI,1 has no celestial WCS (CTYPE: 'LINEAR', 'LINEAR'); "
                               "expected e.g. RA---TAN, DEC--TAN.")  # fmt: skip


def test_an_unusable_header_is_one_sentence_with_astropys_reason():
    h = _header()
    h["CTYPE1"] = "RA---XYZ"
    with pytest.raises(InputError, match=r"^'ref\.fits' has an unusable distortion model \(.+\)\.$"):
        parse_wcs(h, None, "'ref.fits'", model="distortion model")


def test_linear_wcs_drops_the_distortion_only():
    w = celestial_wcs(_header(sip=True), None, "x", SHAPE)
    lin = linear_wcs(w)
    assert w.sip is not None and lin.sip is None
    assert list(lin.wcs.ctype) == ["RA---TAN", "DEC--TAN"] and list(w.wcs.ctype)[0].endswith("-SIP")
    assert lin.pixel_shape == w.pixel_shape
    np.testing.assert_array_equal(lin.wcs.crval, w.wcs.crval)
    np.testing.assert_array_equal(lin.wcs.cd, w.wcs.cd)


def test_pixel_world_round_trip():
    w = WCS(_header())
    x, y = np.array([0.0, 10.5, 59.0]), np.array([0.0, 3.25, 39.0])
    lon, lat = pixel_to_world(w, x, y)
    assert lon.dtype == np.float64 and np.all(np.abs(lat - 2.0) < 1e-3)
    rx, ry = world_to_pixel(w, lon, lat)
    np.testing.assert_allclose(rx, x, atol=1e-8)
    np.testing.assert_allclose(ry, y, atol=1e-8)


def test_corrected_wcs_moves_pixels_by_the_correction():
    ref = celestial_wcs(_header(), None, "ref", SHAPE)
    w = celestial_wcs(_header(sip=True), None, "chip", SHAPE)
    offset = np.array([1.5, -0.75])
    new = corrected_wcs(w, ref, np.eye(2), offset)
    assert new.sip is not None and new is not w
    x, y = np.array([5.0, 30.0, 50.0]), np.array([5.0, 20.0, 35.0])
    before = np.array(world_to_pixel(ref, *pixel_to_world(w, x, y)))
    after = np.array(world_to_pixel(ref, *pixel_to_world(new, x, y)))
    np.testing.assert_allclose(after - before, np.repeat(offset[:, None], 3, axis=1), atol=1e-3)
    same = corrected_wcs(w, ref, np.eye(2), np.zeros(2))
    np.testing.assert_allclose(same.wcs.crval, w.wcs.crval, rtol=0, atol=1e-12)
