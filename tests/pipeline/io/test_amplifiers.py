"""Amplifier regions of every instrument model, with their gains and read noises (read through read_exposure)."""

import logging
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from helpers.exposure_files import (
    AMP_GAIN,
    AMP_NOISE,
    SHAPE,
    chip_hdus,
    make_single,
    make_two_chip,
    one_sentence,
    primary_hdu,
    tan_header,
)

from gpudriz.pipeline.io.amplifiers import (
    INSTRUMENT_MODELS,
    amp_boundary,
    amp_regions,
    amp_split,
    regions_generic,
)
from gpudriz.pipeline.io.fits import InputError
from gpudriz.pipeline.io.headers import ChipHeaders
from gpudriz.pipeline.io.instruments import DEFAULT_CRBIT, read_exposure

# --------------------------------------------------------------------------
# ACS/WFC and WFC3/UVIS
# --------------------------------------------------------------------------


def test_acs_wfc_exposure(wfc):
    e = read_exposure(wfc, bits=3458)
    assert (e.path, e.rootname, e.instrument, e.detector, e.exptime) == (wfc, "j8aa01abq", "ACS", "WFC", 400.0)
    assert e.primary_header["CCDAMP"] == "ABCD"
    assert [(c.extver, c.sci_ext, c.shape) for c in e.chips] == [(1, 1, SHAPE), (2, 4, SHAPE)]
    for c in e.chips:
        assert c.path == wfc and c.exptime == 400.0
        assert c.units == "electrons" and c.bunit == "ELECTRONS"
        assert c.has_err and c.has_dq and (c.err_ext, c.dq_ext) == (c.sci_ext + 1, c.sci_ext + 2)
        assert c.crbit == DEFAULT_CRBIT == 4096 and c.good_bits == 3458
        assert c.sky == 0.0 and c.mdrizsky is None
        assert c.pixel_scale == 0.05  # IDCSCALE
        assert c.header["CCDCHIP"] in (1, 2)
    assert e.chips[0].name == "j8aa01abq_flt.fits[SCI,1]"


def test_acs_wfc_amplifier_halves(wfc):
    c1, c2 = read_exposure(wfc).chips
    half = SHAPE[1] // 2  # no LTV keywords: the middle column
    # SCI,1 is CCDCHIP 2: amp C on the left half of the columns, D on the right
    assert [(a.name, a.x0, a.x1, a.y0, a.y1) for a in c1.amps] == [("C", 0, half, 0, 6), ("D", half, 10, 0, 6)]
    assert [(a.name, a.x0, a.x1) for a in c2.amps] == [("A", 0, half), ("B", half, 10)]
    for chip, (left, right) in ((c1, "CD"), (c2, "AB")):
        g, r = chip.gain_map(), chip.rdnoise_map()
        assert g.dtype == r.dtype == np.float32 and g.shape == SHAPE
        assert np.all(g[:, :half] == np.float32(AMP_GAIN[left])) and np.all(g[:, half:] == np.float32(AMP_GAIN[right]))
        assert np.all(r[:, :half] == np.float32(AMP_NOISE[left]))
        assert np.all(r[:, half:] == np.float32(AMP_NOISE[right]))
        assert chip.gain == pytest.approx((AMP_GAIN[left] + AMP_GAIN[right]) / 2)
        assert chip.rdnoise == pytest.approx((AMP_NOISE[left] + AMP_NOISE[right]) / 2)


def test_wfc3_uvis_same_layout(tmp_path):
    path = make_two_chip(tmp_path / "iaaa01abq_flt.fits", "WFC3", "UVIS")
    e = read_exposure(path)
    assert (e.instrument, e.detector) == ("WFC3", "UVIS")
    assert [a.name for a in e.chips[0].amps] == ["C", "D"]  # UVIS2
    assert [a.name for a in e.chips[1].amps] == ["A", "B"]  # UVIS1
    assert e.chips[1].gain == pytest.approx((AMP_GAIN["A"] + AMP_GAIN["B"]) / 2)
    assert all(c.units == "electrons" for c in e.chips)


def test_ccdamp_one_amplifier_per_chip(tmp_path):
    path = make_two_chip(tmp_path / "x_flt.fits", ccdamp="AD")
    c1, c2 = read_exposure(path).chips
    assert [(a.name, a.x0, a.x1) for a in c1.amps] == [("D", 0, 10)]
    assert [(a.name, a.x0, a.x1) for a in c2.amps] == [("A", 0, 10)]
    assert np.all(c1.gain_map() == np.float32(AMP_GAIN["D"])) and c1.rdnoise == AMP_NOISE["D"]


def test_ccdamp_without_amp_of_chip(tmp_path):
    path = make_two_chip(tmp_path / "x_flt.fits", ccdamp="C")
    assert [a.name for a in read_exposure(path, group=1).chips[0].amps] == ["C"]
    with pytest.raises(InputError) as e:
        read_exposure(path)
    one_sentence(e, path, "CCDAMP='C'", "SCI,2")


def test_ccdchip_from_extver_when_absent(tmp_path):
    path = tmp_path / "x_flt.fits"
    hdus = [primary_hdu("ACS", "WFC")] + chip_hdus(1) + chip_hdus(2)
    fits.HDUList(hdus).writeto(path)
    c1, c2 = read_exposure(path).chips
    assert [a.name for a in c1.amps] == ["C", "D"] and [a.name for a in c2.amps] == ["A", "B"]


@pytest.mark.parametrize("ltv1, ltm, split", [
    (-(2048 - 3), 1.0, 3),    # a subarray whose 4th column is detector column 2049 (first of amp D)
    (-(2048 - 9), 1.0, 9),
    (0.0, 1.0, 10),           # a subarray at the origin: all left of the boundary
    (-(1024 - 4) + 0.25, 0.5, 4),  # 2x2 binning
])  # fmt: skip
def test_amplifier_boundary_from_ltv(tmp_path, ltv1, ltm, split):
    path = make_two_chip(tmp_path / "x_flt.fits", sci_extra={"LTV1": ltv1, "LTV2": 0.0, "LTM1_1": ltm})
    c1 = read_exposure(path, group=1).chips[0]
    regions = [(a.name, a.x0, a.x1) for a in c1.amps]
    assert regions == [r for r in [("C", 0, split), ("D", split, 10)] if r[2] > r[1]]
    g = c1.gain_map()
    assert np.all(g[:, :split] == np.float32(AMP_GAIN["C"])) and np.all(g[:, split:] == np.float32(AMP_GAIN["D"]))


def test_full_frame_boundary_is_the_middle():
    assert amp_split(4096, 0.0, 1.0, 2048) == 2048  # ACS/WFC, WFC3/UVIS flt
    assert amp_split(2048, 0.25, 0.5, 2048) == 1024  # binned 2x2
    assert amp_split(1014, -5.0, 1.0, 512) == 507  # WFC3/IR flt: 5 reference pixels trimmed


def test_missing_amplifier_gain(tmp_path):
    path = make_two_chip(tmp_path / "x_flt.fits")
    with fits.open(path, mode="update") as h:
        del h[0].header["ATODGND"]
    with pytest.raises(InputError) as e:
        read_exposure(path)
    one_sentence(e, path, "ATODGND", "amplifier D")
    chip = read_exposure(path, overrides={"gain": 2.0}).chips[0]  # an override needs no header gain
    assert all(a.gain == 2.0 for a in chip.amps)


def test_bad_amplifier_values(tmp_path):
    path = make_two_chip(tmp_path / "x_flt.fits", primary_extra={"ATODGNC": 0.0})
    with pytest.raises(InputError) as e:
        read_exposure(path)
    one_sentence(e, path, "ATODGNC", "positive")
    path = make_two_chip(tmp_path / "y_flt.fits", primary_extra={"READNSEA": -1.0})
    with pytest.raises(InputError) as e:
        read_exposure(path)
    one_sentence(e, "READNSEA", "non-negative")


# --------------------------------------------------------------------------
# HRC, IR, generic
# --------------------------------------------------------------------------


def test_acs_hrc_single_amp(tmp_path):
    path = make_single(tmp_path / "h_flt.fits", "ACS", "HRC", ccdamp="C", bunit="ELECTRONS")
    (c,) = read_exposure(path).chips
    assert [(a.name, a.y0, a.y1, a.x0, a.x1) for a in c.amps] == [("C", 0, 6, 0, 10)]
    assert (c.gain, c.rdnoise, c.units) == (AMP_GAIN["C"], AMP_NOISE["C"], "electrons")


def test_acs_hrc_without_ccdamp(tmp_path):
    path = make_single(tmp_path / "h_flt.fits", "ACS", "HRC", ccdamp=None)
    with pytest.raises(InputError) as e:
        read_exposure(path)
    one_sentence(e, path, "CCDAMP")


def test_acs_hrc_real_header(tmp_path, wcs_dir):
    """The real ACS/HRC header (SIP order 4) with pixels added."""
    with fits.open(wcs_dir / "j8bt06nyq_sip_flt.fits") as h:
        primary, sci = h[0].header.copy(), h[1].header.copy()
    primary["NEXTEND"] = 1  # only SCI is written here (the real file's NEXTEND is 4)
    path = tmp_path / "j8bt06nyq_flt.fits"
    fits.HDUList([fits.PrimaryHDU(header=primary), fits.ImageHDU(np.zeros((1024, 1024), np.float32), header=sci)]
                 ).writeto(path)  # fmt: skip
    e = read_exposure(path)
    (c,) = e.chips
    assert (e.instrument, e.detector, e.exptime, e.rootname) == ("ACS", "HRC", 60.0, "j8bt06nyq")
    assert [a.name for a in c.amps] == ["C"] and c.gain == pytest.approx(2.216) and c.rdnoise == pytest.approx(4.71)
    assert c.units == "electrons" and c.pixel_scale == 0.025  # IDCSCALE
    assert c.mdrizsky == pytest.approx(206.8161010742188)
    assert c.wcs.sip is not None and c.wcs.sip.a_order == 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        ref = WCS(sci)
    x, y = np.array([0.0, 511.0, 1023.0]), np.array([1023.0, 100.0, 0.0])
    np.testing.assert_allclose(c.wcs.all_pix2world(x, y, 0), ref.all_pix2world(x, y, 0), rtol=0, atol=1e-12)
    # the real file itself holds fewer extensions than its NEXTEND says (a header sample) ...
    with pytest.raises(InputError) as err:
        read_exposure(wcs_dir / "j8bt06nyq_sip_flt.fits")
    one_sentence(err, "j8bt06nyq_sip_flt.fits", "NEXTEND = 4", "holds 2")
    # ... and a header-only SCI extension: a clear error, not a crash
    with fits.open(wcs_dir / "j8bt06nyq_sip_flt.fits") as h:
        sample = fits.HDUList([x.copy() for x in h])
    sample[0].header["NEXTEND"] = len(sample) - 1
    sample.writeto(tmp_path / "j8bt06nyq_sample_flt.fits")
    with pytest.raises(InputError) as err:
        read_exposure(tmp_path / "j8bt06nyq_sample_flt.fits")
    one_sentence(err, "j8bt06nyq_sample_flt.fits", "SCI,1", "no 2-D image")


def test_wfc3_ir_quadrants(tmp_path):
    path = make_single(tmp_path / "ib_flt.fits", "WFC3", "IR", ccdamp="ABCD", bunit="ELECTRONS/S")
    (c,) = read_exposure(path).chips
    assert c.units == "electrons/s" and c.bunit == "ELECTRONS/S"
    ny, nx = SHAPE
    ys, xs = ny // 2, nx // 2
    g = c.gain_map()
    # calwf3's layout, rows counted upwards: A upper left, B lower left, C lower right, D upper right
    assert np.all(g[ys:, :xs] == np.float32(AMP_GAIN["A"]))
    assert np.all(g[:ys, :xs] == np.float32(AMP_GAIN["B"]))
    assert np.all(g[:ys, xs:] == np.float32(AMP_GAIN["C"]))
    assert np.all(g[ys:, xs:] == np.float32(AMP_GAIN["D"]))
    assert np.all(c.rdnoise_map()[ys:, :xs] == np.float32(AMP_NOISE["A"]))
    assert c.gain == pytest.approx(sum(AMP_GAIN.values()) / 4)


def test_wfc3_ir_full_frame_from_pixvalue(tmp_path):
    """A constant full-frame IR chip written HST's header-only way (NPIXn, PIXVALUE), LTV = -5."""
    path = tmp_path / "ic_flt.fits"
    sci = tan_header((1014, 1014), scale=0.13)
    sci.update(EXTNAME="SCI", EXTVER=1, NPIX1=1014, NPIX2=1014, PIXVALUE=3.5, LTV1=-5.0, LTV2=-5.0,
               BUNIT="ELECTRONS/S")  # fmt: skip
    dq = fits.Header({"EXTNAME": "DQ", "EXTVER": 1, "NPIX1": 1014, "NPIX2": 1014, "PIXVALUE": 0})
    fits.HDUList([primary_hdu("WFC3", "IR"), fits.ImageHDU(header=sci), fits.ImageHDU(header=dq)]).writeto(path)
    (c,) = read_exposure(path).chips
    assert c.shape == (1014, 1014) and c.has_dq and not c.has_err
    assert [(a.name, a.y0, a.y1, a.x0, a.x1) for a in c.amps] == [
        ("A", 507, 1014, 0, 507), ("B", 0, 507, 0, 507), ("C", 0, 507, 507, 1014), ("D", 507, 1014, 507, 1014)]
    sci_data = c.read_sci()
    assert sci_data.dtype == np.float32 and sci_data.shape == (1014, 1014) and np.all(sci_data == 3.5)
    assert c.read_dq().dtype == np.uint32 and not c.read_dq().any()
    assert c.pixel_scale == pytest.approx(0.13, rel=1e-6)  # no IDCSCALE: from the WCS


def test_generic_model(tmp_path, caplog):
    path = make_single(tmp_path / "w.fits", "WFPC2", "", primary_extra={"CCDGAIN": 7.0}, bunit="COUNTS")
    with caplog.at_level(logging.WARNING, logger="gpudriz"):
        e = read_exposure(path)
    (c,) = e.chips
    assert (e.instrument, e.detector) == ("WFPC2", "")
    assert (c.gain, c.rdnoise, c.units) == (7.0, 0.0, "counts")
    assert [(a.name, a.y0, a.y1, a.x0, a.x1) for a in c.amps] == [("", 0, 6, 0, 10)]
    assert "read noise 0" in caplog.text and "gain 1" not in caplog.text


def test_generic_defaults_and_unknown_units(tmp_path, caplog):
    path = make_single(tmp_path / "plain.fits", "", "", ccdamp=None, bunit="MJy/sr")
    with caplog.at_level(logging.WARNING, logger="gpudriz"):
        (c,) = read_exposure(path).chips
    assert (c.gain, c.rdnoise, c.units, c.bunit) == (1.0, 0.0, "counts", "MJy/sr")
    assert "gain 1 and read noise 0" in caplog.text and "MJy/sr" in caplog.text
    caplog.clear()
    path = make_single(tmp_path / "quiet.fits", "", "", bunit="counts/s")
    with caplog.at_level(logging.WARNING, logger="gpudriz"):
        (c,) = read_exposure(path, overrides={"rdnoise": 3.0}).chips
    assert (c.gain, c.rdnoise, c.units) == (1.0, 3.0, "counts/s")
    assert "read noise" not in caplog.text




# --------------------------------------------------------------------------
# the layouts on their own
# --------------------------------------------------------------------------


def _ctx(instrument, detector, *, extver=1, shape=(8, 12), sci=None, primary=None):
    return ChipHeaders(Path("x.fits"), fits.Header(primary or {}), fits.Header(sci or {}), extver, shape,
                       instrument, detector)  # fmt: skip


def test_boundary_without_ltv_is_the_middle_of_the_image():
    assert amp_boundary(12, fits.Header(), 1, half=2048) == 6
    assert amp_boundary(12, fits.Header({"LTV1": 0.0, "LTM1_1": 0.0}), 1, half=2048) == 6
    assert amp_boundary(4096, fits.Header({"LTV1": -1024.0}), 1, half=2048) == 1024  # subarray


def test_amp_regions_cover_the_chip_with_each_amplifiers_values():
    layout, units = INSTRUMENT_MODELS[("ACS", "WFC")]
    primary = {"CCDAMP": "ABCD", **{f"ATODGN{a}": AMP_GAIN[a] for a in "ABCD"},
               **{f"READNSE{a}": AMP_NOISE[a] for a in "ABCD"}}  # fmt: skip
    amps = amp_regions(_ctx("ACS", "WFC", sci={"CCDCHIP": 2}, primary=primary), layout, {})
    assert units == "electrons"
    assert [(a.name, a.x0, a.x1, a.gain, a.rdnoise) for a in amps] == [
        ("C", 0, 6, AMP_GAIN["C"], AMP_NOISE["C"]), ("D", 6, 12, AMP_GAIN["D"], AMP_NOISE["D"])]
    assert sum(a.npix for a in amps) == 8 * 12


def test_generic_regions_take_the_overrides():
    (amp,) = amp_regions(_ctx("NICMOS", "NIC1"), regions_generic, {"gain": 2.5, "rdnoise": 7.0})
    assert (amp.name, amp.slices, amp.gain, amp.rdnoise) == ("", (slice(0, 8), slice(0, 12)), 2.5, 7.0)
