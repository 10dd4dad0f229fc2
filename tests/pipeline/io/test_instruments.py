"""Exposures and chips: arrays, WCS, pixel scale, read-only access and broken files."""

import gzip
import hashlib
import math
import os
import stat

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from helpers.exposure_files import (
    SHAPE,
    chip_hdus,
    make_single,
    make_two_chip,
    one_sentence,
    primary_hdu,
    tan_header,
)

from gpudriz.pipeline.io.fits import InputError
from gpudriz.pipeline.io.instruments import read_exposure
from gpudriz.pixmap import pixel_scale


def test_simple_fits_image(tmp_path):
    """Data in the primary HDU (no SCI extension) is one chip."""
    path = tmp_path / "simple.fits"
    h = tan_header()
    h.update(EXPTIME=10.0, BUNIT="ELECTRONS/S")
    fits.PrimaryHDU(np.ones(SHAPE, np.float32), header=h).writeto(path)
    (c,) = read_exposure(path).chips
    assert (c.extver, c.sci_ext, c.shape, c.units, c.exptime) == (1, 0, SHAPE, "electrons/s", 10.0)
    assert not c.has_err and not c.has_dq and np.all(c.read_sci() == 1.0)



def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns



# --------------------------------------------------------------------------
# arrays, WCS, pixel scale, read-only access
# --------------------------------------------------------------------------


def test_read_arrays(wfc):
    c1, c2 = read_exposure(wfc).chips
    sci, err, dq = c2.read_sci(), c2.read_err(), c2.read_dq()
    assert (sci.dtype, err.dtype, dq.dtype) == (np.float32, np.float32, np.uint32)
    assert sci.shape == err.shape == dq.shape == SHAPE
    np.testing.assert_array_equal(sci, np.arange(60, dtype=np.float32).reshape(SHAPE) + 200)
    assert np.all(err == 1.0)
    assert dq[0, :4].tolist() == [0, 4, 4096, 16] and not dq[1:].any()
    sci[:] = -1  # the arrays are the caller's own
    assert c2.read_sci()[0, 0] == 200


def test_dq_flags_keep_the_high_bit(tmp_path):
    path = make_two_chip(tmp_path / "x_flt.fits")
    with fits.open(path, mode="update") as h:
        h["DQ", 1].data[2, 2] = -32768  # flag 32768 in a signed 16-bit DQ array
    dq = read_exposure(path).chips[0].read_dq()
    assert dq[2, 2] == 32768 and dq.dtype == np.uint32


@pytest.mark.parametrize("dtype", [np.int32, np.uint16, np.int64, np.float32])
def test_dq_dtypes(tmp_path, dtype):
    path = make_two_chip(tmp_path / "x_flt.fits", dq_dtype=dtype)
    assert read_exposure(path).chips[0].read_dq()[0, :4].tolist() == [0, 4, 4096, 16]


def test_fractional_dq_is_refused(tmp_path):
    path = make_two_chip(tmp_path / "x_flt.fits", dq_dtype=np.float32)
    with fits.open(path, mode="update") as h:
        h["DQ", 1].data[1, 1] = 0.5
    with pytest.raises(InputError) as e:
        read_exposure(path).chips[0].read_dq()
    one_sentence(e, path, "DQ,1", "integer flags")


def test_without_err_and_dq(tmp_path):
    path = make_two_chip(tmp_path / "x_flt.fits", err=False, dq=False)
    c = read_exposure(path).chips[0]
    assert not c.has_err and not c.has_dq
    dq = c.read_dq()
    assert dq.dtype == np.uint32 and dq.shape == SHAPE and not dq.any()
    with pytest.raises(InputError) as e:
        c.read_err()
    one_sentence(e, path, "ERR", "SCI,1")


def test_err_shape_mismatch(tmp_path):
    path = tmp_path / "x_flt.fits"
    hdus = [primary_hdu("ACS", "WFC")] + chip_hdus(1, err=False)
    hdus.append(fits.ImageHDU(np.zeros((3, 3), np.float32), name="ERR", ver=1))
    fits.HDUList(hdus).writeto(path)
    with pytest.raises(InputError) as e:
        read_exposure(path)
    one_sentence(e, path, "ERR,1", "(6, 10)")


def test_wcs_with_sip(tmp_path):
    sip = tan_header(sip=True)
    path = make_single(tmp_path / "s.fits", "", "", bunit="ELECTRONS", wcs=sip)
    (c,) = read_exposure(path).chips
    assert c.wcs.sip is not None and c.wcs.sip.a_order == 2
    assert c.wcs.pixel_shape == (SHAPE[1], SHAPE[0])
    ref = WCS(sip)
    np.testing.assert_allclose(c.wcs.all_pix2world([[0.0, 0.0], [9.0, 5.0]], 0),
                               ref.all_pix2world([[0.0, 0.0], [9.0, 5.0]], 0), rtol=0, atol=1e-12)  # fmt: skip
    # the WCS no longer needs the file: the handle is closed
    os.remove(path)
    assert np.all(np.isfinite(c.wcs.all_pix2world([[4.0, 3.0]], 0)))


def test_wcs_with_lookup_tables(tmp_path):
    """Paper IV lookup-table distortion (CPDISj + WCSDVARR), as in HST flt files, read before closing."""
    h = tan_header()
    for j in (1, 2):
        h[f"CPDIS{j}"] = "Lookup"
        for record in (f"EXTVER: {j}", "NAXES: 2", "AXIS.1: 1", "AXIS.2: 2"):
            h.append(fits.Card.fromstring(f"DP{j}     = '{record}'"))
    tables = []
    for j in (1, 2):
        th = fits.Header({"EXTNAME": "WCSDVARR", "EXTVER": j, "CRPIX1": 1.0, "CRPIX2": 1.0, "CRVAL1": 0.0,
                          "CRVAL2": 0.0, "CDELT1": 5.0, "CDELT2": 5.0})  # fmt: skip
        tables.append(fits.ImageHDU(np.full((3, 3), 0.25 * j, np.float32), header=th))
    path = tmp_path / "lut_flt.fits"
    fits.HDUList([primary_hdu("", ""), *chip_hdus(1, wcs=h, sci_extra={"BUNIT": "ELECTRONS"}), *tables]).writeto(path)
    (c,) = read_exposure(path, overrides={"rdnoise": 1.0}).chips
    assert c.wcs.cpdis1 is not None and c.wcs.cpdis2 is not None
    assert c.pixel_scale == pytest.approx(0.05, rel=1e-6)  # without the lookup-table shifts
    os.remove(path)
    corrected = c.wcs.all_pix2world([[0.0, 0.0]], 0)
    linear = c.wcs.wcs_pix2world([[0.25, 0.5]], 0)  # the tables shift x by 0.25 px and y by 0.5 px
    np.testing.assert_allclose(corrected, linear, rtol=0, atol=1e-10)


def test_pixel_scale_without_idcscale_is_undistorted(tmp_path):
    # CRPIX far from the chip centre, so the SIP terms distort the centre's pixel
    sip = tan_header(sip=True, crpix=(-20.0, -30.0))
    path = make_single(tmp_path / "s.fits", "", "", bunit="ELECTRONS", wcs=sip)
    (c,) = read_exposure(path).chips
    assert c.pixel_scale == pytest.approx(0.05, rel=1e-6)
    centre = ((SHAPE[1] - 1) / 2, (SHAPE[0] - 1) / 2)
    distorted = pixel_scale(c.wcs, centre) * 180 / math.pi * 3600
    assert abs(distorted - 0.05) > 1e-3  # the test would notice a distorted scale


def test_reading_never_modifies_the_file(tmp_path):
    path = make_two_chip(tmp_path / "x_flt.fits")
    before = _digest(path)
    os.chmod(path, stat.S_IRUSR)  # read-only: opening for writing would fail
    try:
        e = read_exposure(path, overrides={"crbit": 8})
        for c in e.chips:
            c.read_sci(), c.read_err(), c.read_dq(), c.gain_map()
            c.sky = 12.0  # pipeline state stays in memory
    finally:
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    assert _digest(path) == before


def test_file_changed_since_read(tmp_path):
    path = make_two_chip(tmp_path / "x_flt.fits")
    c = read_exposure(path).chips[1]
    fits.HDUList([primary_hdu("ACS", "WFC")] + chip_hdus(1)).writeto(path, overwrite=True)
    with pytest.raises(InputError) as e:
        c.read_sci()
    one_sentence(e, path, "SCI,2")


def test_mdrizsky_from_sci_or_primary(tmp_path):
    path = make_two_chip(tmp_path / "x_flt.fits", sci_extra={"MDRIZSKY": 31.5})
    assert [c.mdrizsky for c in read_exposure(path).chips] == [31.5, 31.5]
    path = make_two_chip(tmp_path / "y_flt.fits", primary_extra={"MDRIZSKY": 7.0})
    assert read_exposure(path).chips[0].mdrizsky == 7.0


# --------------------------------------------------------------------------
# broken files
# --------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as e:
        read_exposure(tmp_path / "nothere_flt.fits")
    one_sentence(e, tmp_path / "nothere_flt.fits", "does not exist")


def test_corrupt_file(tmp_path):
    path = tmp_path / "bad_flt.fits"
    path.write_bytes(b"SIMPLE  = garbage" * 10)
    with pytest.raises(InputError) as e:
        read_exposure(path)
    one_sentence(e, path, "not a readable FITS file")


def test_truncated_file(tmp_path):
    """A file cut inside its last DQ extension must not read as a chip without DQ."""
    path = make_two_chip(tmp_path / "x_flt.fits")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 4000])
    with pytest.raises(InputError) as e:
        read_exposure(path)
    one_sentence(e, path, "truncated or corrupt")


def test_gzipped_exposure(tmp_path):
    raw = make_two_chip(tmp_path / "x_flt.fits").read_bytes()
    path = tmp_path / "y_flt.fits.gz"
    path.write_bytes(gzip.compress(raw))
    c = read_exposure(path).chips[1]
    assert c.read_sci()[0, 0] == 200 and c.read_dq()[0, 2] == 4096


def test_no_sci_extension(tmp_path):
    path = tmp_path / "t.fits"
    table = fits.BinTableHDU.from_columns([fits.Column(name="A", format="E", array=np.zeros(2))])
    fits.HDUList([primary_hdu("ACS", "WFC"), table]).writeto(path)
    with pytest.raises(InputError) as e:
        read_exposure(path)
    one_sentence(e, path, "no SCI extension")


@pytest.mark.parametrize("ctypes", [None, ("LINEAR", "LINEAR")])
def test_no_celestial_wcs(tmp_path, ctypes):
    h = fits.Header() if ctypes is None else fits.Header({"CTYPE1": ctypes[0], "CTYPE2": ctypes[1]})
    path = make_single(tmp_path / "n.fits", "", "", wcs=h)
    with pytest.raises(InputError) as e:
        read_exposure(path)
    one_sentence(e, path, "SCI,1", "no celestial WCS")


def test_cube_is_refused(tmp_path):
    path = tmp_path / "cube.fits"
    fits.HDUList([primary_hdu("", ""), fits.ImageHDU(np.zeros((2, 3, 4), np.float32), name="SCI")]).writeto(path)
    with pytest.raises(InputError) as e:
        read_exposure(path)
    one_sentence(e, path, "NAXIS=3")


def test_duplicate_extver(tmp_path):
    path = tmp_path / "d.fits"
    fits.HDUList([primary_hdu("", "")] + chip_hdus(1, err=False, dq=False) * 2).writeto(path)
    with pytest.raises(InputError) as e:
        read_exposure(path)
    one_sentence(e, path, "same EXTVER")


def test_bad_ccdchip(tmp_path):
    path = make_two_chip(tmp_path / "x_flt.fits", sci_extra={"CCDCHIP": 3})
    with pytest.raises(InputError) as e:
        read_exposure(path)
    one_sentence(e, path, "CCDCHIP=3")
