"""Many tiny exposures: layout, WCS of the two chips, and determinism."""

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from gpudriz.demo.tiny_inputs import write_tiny_exposures


def test_tiny_exposures_have_two_chips_side_by_side_on_the_sky(tmp_path):
    paths = write_tiny_exposures(tmp_path, 3, shape=(16, 32), seed=5)
    assert [p.name for p in paths] == ["tiny0000_flt.fits", "tiny0001_flt.fits", "tiny0002_flt.fits"]
    for p in paths:
        with fits.open(p) as hdul:
            assert [(h.name, h.ver) for h in hdul[1:]] == [("SCI", 1), ("DQ", 1), ("SCI", 2), ("DQ", 2)]
            assert hdul[0].header["ROOTNAME"] == p.name[:8] and hdul[0].header["EXPTIME"] == 100.0
            assert hdul["SCI", 1].data.shape == (16, 32) and not hdul["DQ", 2].data.any()
            w1, w2 = WCS(hdul["SCI", 1].header), WCS(hdul["SCI", 2].header)
            # Chip 2 continues chip 1 along x: its pixel 0 is chip 1's pixel 32.
            assert np.allclose(w2.all_pix2world([[0.0, 5.0]], 0), w1.all_pix2world([[32.0, 5.0]], 0), atol=1e-10)
            # Sky plus stars and cosmic rays: the median is near the 50 e- sky.
            assert 40.0 < float(np.median(hdul["SCI", 1].data)) < 60.0
    again = write_tiny_exposures(tmp_path / "again", 3, shape=(16, 32), seed=5)
    for a, b in zip(paths, again):
        assert np.array_equal(fits.getdata(a, "SCI", 2), fits.getdata(b, "SCI", 2))


def test_exposures_are_dithered_and_unicode_prefixes_have_no_rootname(tmp_path):
    paths = write_tiny_exposures(tmp_path, 2, prefix="tïny")
    crpix = [fits.getheader(p, ("SCI", 1))["CRPIX1"] for p in paths]
    assert crpix[0] != crpix[1] and abs(crpix[0] - crpix[1]) < 1.0  # sub-pixel dither
    assert all("ROOTNAME" not in fits.getheader(p) for p in paths)
