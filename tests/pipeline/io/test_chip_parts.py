"""A chip's part (``read_sci(part)``, ``read_dq(part)``...): those pixels of the whole array, read without the rest."""

import numpy as np
import pytest
from astropy.io import fits
from helpers.exposure_files import chip_hdus, make_two_chip, primary_hdu, tan_header

from gpudriz.pipeline.io.instruments import part_shape, part_slices, read_exposure

SHAPE = (40, 70)
PARTS = [(0, 0, 70, 40), (3, 5, 20, 11), (69, 39, 1, 1), (0, 7, 70, 1), (12, 0, 1, 40)]


@pytest.fixture(scope="module")
def chip(tmp_path_factory):
    path = tmp_path_factory.mktemp("parts") / "j_flt.fits"
    rng = np.random.default_rng(1)
    # uint16 DQ is stored as int16 with BZERO = 32768: the part is scaled as the whole array is.
    dq = rng.integers(0, 65535, SHAPE).astype(np.uint16)
    make_two_chip(path, shape=SHAPE, value=rng.normal(size=SHAPE).astype(np.float32), dq_dtype=np.uint16)
    with fits.open(path, mode="update") as h:
        h["DQ", 1].data = dq
    return read_exposure(path).chips[0], dq


@pytest.mark.parametrize("part", PARTS)
def test_every_plane_of_a_part_is_those_pixels_of_the_whole(chip, part):
    c, dq = chip
    rows, cols = part_slices(part)
    for name in ("read_sci", "read_err", "read_dq"):
        whole, got = getattr(c, name)(), getattr(c, name)(part)
        assert got.shape == part_shape(SHAPE, part) and got.dtype == whole.dtype, name
        np.testing.assert_array_equal(got, whole[rows, cols], err_msg=name)
    np.testing.assert_array_equal(c.read_dq(part), dq[rows, cols].astype(np.uint32))


def test_header_only_constant_planes_give_a_part_of_the_constant(tmp_path):
    path = tmp_path / "ic_flt.fits"
    sci = tan_header((30, 50))
    sci.update(EXTNAME="SCI", EXTVER=1, NPIX1=50, NPIX2=30, PIXVALUE=3.5, BUNIT="ELECTRONS/S")
    dq = fits.Header({"EXTNAME": "DQ", "EXTVER": 1, "NPIX1": 50, "NPIX2": 30, "PIXVALUE": 0})
    fits.HDUList([primary_hdu("WFC3", "IR"), fits.ImageHDU(header=sci), fits.ImageHDU(header=dq)]).writeto(path)
    (c,) = read_exposure(path).chips
    sci_part = c.read_sci((4, 2, 7, 3))
    assert sci_part.shape == (3, 7) and sci_part.dtype == np.float32 and (sci_part == 3.5).all()
    assert c.read_dq((4, 2, 7, 3)).shape == (3, 7)


def test_a_chip_without_dq_gives_a_good_part(tmp_path):
    path = tmp_path / "n.fits"
    fits.HDUList([primary_hdu("ACS", "WFC"), *chip_hdus(1, SHAPE, dq=False)]).writeto(path)
    (c,) = read_exposure(path).chips
    dq = c.read_dq((1, 2, 3, 4))
    assert dq.shape == (4, 3) and dq.dtype == np.uint32 and not dq.any()
