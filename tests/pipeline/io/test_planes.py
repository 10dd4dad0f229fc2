"""Planes read where the build found them (gpudriz.pipeline.io.planes) give exactly what astropy reads.

Every kind of stored array astropy returns as stored gets a layout and is read
without astropy; scaled, BLANK-flagged or compressed ones get none; a file
changed after the build is read by astropy again.
"""

import gzip
import os

import numpy as np
import pytest
from astropy.io import fits
from helpers.exposure_files import chip_hdus, make_two_chip, primary_hdu

from gpudriz.pipeline.io import instruments
from gpudriz.pipeline.io.fits import InputError
from gpudriz.pipeline.io.instruments import read_exposure

SHAPE = (40, 70)
PARTS = [None, (0, 0, 70, 40), (3, 5, 20, 11), (69, 39, 1, 1), (12, 0, 1, 40)]


def _astropy_reads(chip, part):
    """The chip's planes read by astropy (no layouts)."""
    plain = instruments.Chip(**{**chip.__dict__, "layouts": {}})
    return plain.read_sci(part), plain.read_err(part), plain.read_dq(part)


def _assert_same(got, want):
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape and g.flags.writeable
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("dq_dtype", [np.int16, np.int32, np.int64, np.float32])
@pytest.mark.parametrize("part", PARTS)
def test_stored_planes_are_read_without_astropy_as_astropy_reads_them(tmp_path, dq_dtype, part, monkeypatch):
    rng = np.random.default_rng(2)
    path = make_two_chip(tmp_path / "j_flt.fits", shape=SHAPE, dq_dtype=dq_dtype,
                         value=rng.normal(size=SHAPE).astype(np.float32))  # fmt: skip
    chips = read_exposure(path).chips
    wanted = [_astropy_reads(c, part) for c in chips]
    for c in chips:
        assert set(c.layouts) == {c.sci_ext, c.err_ext, c.dq_ext}
    monkeypatch.setattr(instruments.fits, "open", None)  # a read through astropy would fail
    for c, want in zip(chips, wanted):
        _assert_same((c.read_sci(part), c.read_err(part), c.read_dq(part)), want)


def test_byte_flags_are_read_without_astropy(tmp_path, monkeypatch):
    path = make_two_chip(tmp_path / "b_flt.fits", shape=SHAPE)
    flags = np.random.default_rng(3).integers(0, 256, SHAPE).astype(np.uint8)
    with fits.open(path, mode="update") as h:
        h["DQ", 2].data = flags
    c = read_exposure(path).chips[1]
    assert c.layouts[c.dq_ext].dtype == "u1"
    monkeypatch.setattr(instruments.fits, "open", None)
    np.testing.assert_array_equal(c.read_dq((2, 3, 5, 7)), flags[3:10, 2:7].astype(np.uint32))


def test_float64_science_is_read_as_float32(tmp_path, monkeypatch):
    hdus = [primary_hdu("ACS", "WFC"), *chip_hdus(1, SHAPE, value=np.linspace(0, 1, 2800).reshape(SHAPE))]
    fits.HDUList(hdus).writeto(tmp_path / "d.fits")
    (c,) = read_exposure(tmp_path / "d.fits").chips
    assert c.layouts[c.sci_ext].dtype == ">f8"
    monkeypatch.setattr(instruments.fits, "open", None)
    got = c.read_sci((1, 2, 3, 4))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.linspace(0, 1, 2800).reshape(SHAPE)[2:6, 1:4].astype(np.float32))


@pytest.mark.parametrize("change", ["bzero", "bscale", "blank"])
def test_scaled_or_blank_planes_have_no_layout_and_read_as_before(tmp_path, change):
    path = make_two_chip(tmp_path / "s_flt.fits", shape=SHAPE, dq_dtype=np.int16)
    with fits.open(path, mode="update") as h:
        if change == "bzero":  # uint16 flags: int16 stored, BZERO = 32768
            h["DQ", 1].data = np.full(SHAPE, 40000, np.uint16)
        elif change == "bscale":
            h["SCI", 1].data = np.full(SHAPE, 7, np.int16)
            h["SCI", 1].header["BSCALE"] = 0.5
        else:
            h["DQ", 1].header["BLANK"] = -1
    c = read_exposure(path).chips[0]
    index = {"bzero": c.dq_ext, "bscale": c.sci_ext, "blank": c.dq_ext}[change]
    assert index not in c.layouts and c.err_ext in c.layouts
    if change == "bzero":
        np.testing.assert_array_equal(c.read_dq(), np.full(SHAPE, 40000, np.uint32))
    if change == "bscale":
        np.testing.assert_array_equal(c.read_sci(), np.full(SHAPE, 3.5, np.float32))


def test_a_compressed_file_has_no_layouts(tmp_path):
    raw = make_two_chip(tmp_path / "z_flt.fits", shape=SHAPE).read_bytes()
    (tmp_path / "g_flt.fits.gz").write_bytes(gzip.compress(raw))
    chips = read_exposure(tmp_path / "g_flt.fits.gz").chips
    assert all(c.layouts == {} for c in chips)
    np.testing.assert_array_equal(chips[0].read_sci(), read_exposure(tmp_path / "z_flt.fits").chips[0].read_sci())


def test_a_file_rewritten_after_the_build_is_read_by_astropy_again(tmp_path):
    path = make_two_chip(tmp_path / "r_flt.fits", shape=SHAPE)
    c = read_exposure(path).chips[0]
    # A longer primary header moves every array by a block: read at the old place, values would be wrong.
    with fits.open(path) as h:
        h[0].header.update({f"NEWKEY{i:02d}": i for i in range(40)})
        h["SCI", 1].data = np.full(SHAPE, 9.0, np.float32)
        h.writeto(tmp_path / "new.fits")
    os.replace(tmp_path / "new.fits", path)
    np.testing.assert_array_equal(c.read_sci(), np.full(SHAPE, 9.0, np.float32))
    np.testing.assert_array_equal(c.read_dq((0, 0, 4, 1)), [[0, 4, 4096, 16]])


def test_a_file_cut_after_the_build_is_reported_by_astropy(tmp_path):
    path = make_two_chip(tmp_path / "t_flt.fits", shape=SHAPE)
    c = read_exposure(path).chips[1]
    path.write_bytes(path.read_bytes()[: c.layouts[c.sci_ext].offset + 100])
    with pytest.raises(InputError, match="t_flt.fits"):
        c.read_dq()
