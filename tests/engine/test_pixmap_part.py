"""calc_pixmap's ``part``: the pixmap of a part of the image equals those pixels of the whole map.

The mosaic mode's final tiles map only the part of a chip that lands on a tile; the tiled
products equal the untiled ones only if those pixels are the whole map's, value for value.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from helpers.paths import WCS_DIR
from helpers.pixmaps import dist_lookup_wcs, tan_wcs

from gpudriz.pixmap import calc_pixmap


def _hrc():
    """The real ACS/HRC chip (SIP order 4, 1024 x 1024) and a north-up TAN frame around it."""
    with fits.open(WCS_DIR / "j8bt06nyq_sip_flt.fits") as hdul, warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        hdr = hdul[1].header
        w = WCS(hdr, hdul)
    shape = (hdr["WCSNAX2"], hdr["WCSNAX1"])
    ra, dec = w.pixel_to_world_values(511.5, 511.5)
    to = tan_wcs((float(ra), float(dec)), (800.0, 700.0), 0.025 / 3600, 12.0)
    return w, to, shape


def _dist_lookup():
    """astropy's test header with SIP, D2IM and NPOL tables (ACS/WFC-like) and a TAN frame around it."""
    w = dist_lookup_wcs()
    ra, dec = w.pixel_to_world_values(255.5, 127.5)
    return w, tan_wcs((float(ra), float(dec)), (300.0, 200.0), 0.05 / 3600, -20.0), (256, 512)


# Parts at cell boundaries, inside cells, a single pixel, whole rows and columns, the whole image.
PARTS = [(0, 0, 64, 64), (100, 37, 333, 250), (1, 1, 1, 1), (0, 511, 1024, 1), (1000, 0, 24, 1024),
         (0, 0, 1024, 1024)]  # fmt: skip


@pytest.mark.parametrize("part", PARTS)
@pytest.mark.parametrize("method", ["fast", "exact"])
def test_a_part_is_the_whole_maps_pixels_value_for_value(part, method):
    w_from, w_to, shape = _hrc()
    whole = calc_pixmap(w_from, w_to, shape=shape, method=method, backend="cpu")
    x0, y0, nx, ny = part
    got = calc_pixmap(w_from, w_to, shape=shape, method=method, backend="cpu", part=part)
    assert got.shape == (ny, nx, 2) and got.flags.c_contiguous
    np.testing.assert_array_equal(got, whole[y0 : y0 + ny, x0 : x0 + nx])


def test_the_blot_direction_too():
    """TAN to the SIP chip: the nodes invert the chip's SIP (astropy's iterative inverse)."""
    w_chip, w_frame, shape = _hrc()
    whole = calc_pixmap(w_frame, w_chip, shape=(900, 1000), backend="cpu")
    got = calc_pixmap(w_frame, w_chip, shape=(900, 1000), backend="cpu", part=(130, 70, 600, 500))
    np.testing.assert_array_equal(got, whole[70:570, 130:730])


def test_a_part_through_lookup_tables():
    """D2IM and NPOL applied per pixel: the part's table coordinates move with it (rounding only)."""
    w_from, w_to, shape = _dist_lookup()
    whole = calc_pixmap(w_from, w_to, shape=shape, backend="cpu")
    got = calc_pixmap(w_from, w_to, shape=shape, backend="cpu", part=(37, 65, 300, 150))
    np.testing.assert_allclose(got, whole[65:215, 37:337], rtol=0, atol=1e-9)


def test_a_bounding_box_applies_in_the_images_pixels():
    """Pixels outside a kept 'from' bounding box are NaN in the part as in the whole."""
    w_from, w_to, shape = _hrc()
    class Boxed:
        """A gwcs-like object with a bounding box, over the astropy WCS."""

        bounding_box = ((100.0, 700.0), (-0.5, 500.0))
        pixel_to_world_values = staticmethod(w_from.pixel_to_world_values)

    whole = calc_pixmap(Boxed(), w_to, shape=shape, backend="cpu")
    got = calc_pixmap(Boxed(), w_to, shape=shape, backend="cpu", part=(50, 450, 700, 100))
    assert np.isnan(got[:, :50]).all() and np.isfinite(got[:51, 50:651]).all()
    np.testing.assert_array_equal(got, whole[450:550, 50:750])


@pytest.mark.parametrize("part", [(0, 0, 0, 5), (-1, 0, 5, 5), (1020, 0, 5, 5), (0, 0, 5), (0.5, 0, 5, 5), "abcd"])
def test_a_part_outside_the_image_is_refused(part):
    w_from, w_to, shape = _hrc()
    with pytest.raises(ValueError, match="'part' must be"):
        calc_pixmap(w_from, w_to, shape=shape, part=part)
