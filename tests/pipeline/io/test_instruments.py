"""Tests of gpudriz.pipeline.io.instruments: instrument models, overrides, group, and read-only access."""

import gzip
import hashlib
import logging
import math
import os
import stat
import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from gpudriz.pipeline.io.inputs import InputError
from gpudriz.pipeline.io.amplifiers import amp_split
from gpudriz.pipeline.io.instruments import DEFAULT_CRBIT, read_exposure
from gpudriz.pixmap import pixel_scale

SHAPE = (6, 10)  # (ny, nx) of the small test chips
AMP_GAIN = {"A": 1.5, "B": 1.6, "C": 2.0, "D": 2.1}
AMP_NOISE = {"A": 4.0, "B": 4.5, "C": 5.0, "D": 5.5}


def _wcs(shape=SHAPE, scale=0.05, crval=(150.0, 2.0), sip=False, crpix=None):
    """A TAN (or TAN-SIP) header at ``scale`` arcsec/pixel."""
    ny, nx = shape
    cx, cy = crpix if crpix is not None else ((nx + 1) / 2.0, (ny + 1) / 2.0)
    d = scale / 3600.0
    h = fits.Header()
    suffix = "-SIP" if sip else ""
    h.update(CTYPE1="RA---TAN" + suffix, CTYPE2="DEC--TAN" + suffix, CRVAL1=crval[0], CRVAL2=crval[1],
             CRPIX1=cx, CRPIX2=cy, CD1_1=-d, CD1_2=0.0, CD2_1=0.0, CD2_2=d)  # fmt: skip
    if sip:
        h.update(A_ORDER=2, B_ORDER=2, A_2_0=2e-3, A_1_1=1e-3, A_0_2=-1e-3, B_2_0=5e-4, B_1_1=-1e-3, B_0_2=2e-3)
    return h


def _primary(instrument, detector, *, ccdamp="ABCD", exptime=400.0, **extra):
    h = fits.Header()
    if instrument:
        h["INSTRUME"] = instrument
    if detector:
        h["DETECTOR"] = detector
    if ccdamp is not None:
        h["CCDAMP"] = ccdamp
    if exptime is not None:
        h["EXPTIME"] = exptime
    for a in "ABCD":
        h[f"ATODGN{a}"] = AMP_GAIN[a]
        h[f"READNSE{a}"] = AMP_NOISE[a]
    h.update(extra)
    return fits.PrimaryHDU(header=h)


def _chip_hdus(extver, shape=SHAPE, *, sci_extra=None, err=True, dq=True, dq_dtype=np.int16, value=None, wcs=None):
    sci_h = _wcs(shape) if wcs is None else wcs.copy()
    sci_h.update(sci_extra or {})
    data = np.arange(shape[0] * shape[1], dtype=np.float32).reshape(shape) + 100 * extver if value is None else value
    hdus = [fits.ImageHDU(data, header=sci_h, name="SCI", ver=extver)]
    if err:
        hdus.append(fits.ImageHDU(np.full(shape, 0.5 * extver, np.float32), name="ERR", ver=extver))
    if dq:
        flags = np.zeros(shape, dtype=dq_dtype)
        flags[0, :4] = [0, 4, 4096, 16]
        hdus.append(fits.ImageHDU(flags, name="DQ", ver=extver))
    return hdus


def make_two_chip(path, instrument="ACS", detector="WFC", *, ccdamp="ABCD", sci_extra=None, primary_extra=None,
                  bunit="ELECTRONS", **chip_kw):  # fmt: skip
    """ACS/WFC or WFC3/UVIS flt layout: SCI,1 is CCDCHIP 2, SCI,2 is CCDCHIP 1, each with ERR and DQ."""
    hdus = [_primary(instrument, detector, ccdamp=ccdamp, ROOTNAME="J8AA01ABQ", **(primary_extra or {}))]
    for extver, ccdchip in ((1, 2), (2, 1)):
        extra = {"CCDCHIP": ccdchip, "BUNIT": bunit, "IDCSCALE": 0.05}
        extra.update(sci_extra or {})
        hdus += _chip_hdus(extver, sci_extra=extra, **chip_kw)
    fits.HDUList(hdus).writeto(path)
    return path


def make_single(path, instrument, detector, *, ccdamp=None, bunit=None, sci_extra=None, primary_extra=None,
                shape=SHAPE, **chip_kw):  # fmt: skip
    """A one-chip exposure (HRC, IR, generic)."""
    extra = {} if bunit is None else {"BUNIT": bunit}
    extra.update(sci_extra or {})
    hdus = [_primary(instrument, detector, ccdamp=ccdamp, **(primary_extra or {}))]
    hdus += _chip_hdus(1, shape, sci_extra=extra, **chip_kw)
    fits.HDUList(hdus).writeto(path)
    return path


def _error(excinfo, *needles):
    msg = str(excinfo.value)
    assert "\n" not in msg and msg.endswith("."), msg
    for needle in needles:
        assert str(needle) in msg, (needle, msg)


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


@pytest.fixture
def wfc(tmp_path):
    return make_two_chip(tmp_path / "j8aa01abq_flt.fits")


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
    _error(e, path, "CCDAMP='C'", "SCI,2")


def test_ccdchip_from_extver_when_absent(tmp_path):
    path = tmp_path / "x_flt.fits"
    hdus = [_primary("ACS", "WFC")] + _chip_hdus(1) + _chip_hdus(2)
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
    _error(e, path, "ATODGND", "amplifier D")
    chip = read_exposure(path, overrides={"gain": 2.0}).chips[0]  # an override needs no header gain
    assert all(a.gain == 2.0 for a in chip.amps)


def test_bad_amplifier_values(tmp_path):
    path = make_two_chip(tmp_path / "x_flt.fits", primary_extra={"ATODGNC": 0.0})
    with pytest.raises(InputError) as e:
        read_exposure(path)
    _error(e, path, "ATODGNC", "positive")
    path = make_two_chip(tmp_path / "y_flt.fits", primary_extra={"READNSEA": -1.0})
    with pytest.raises(InputError) as e:
        read_exposure(path)
    _error(e, "READNSEA", "non-negative")


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
    _error(e, path, "CCDAMP")


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
    _error(err, "j8bt06nyq_sip_flt.fits", "NEXTEND = 4", "holds 2")
    # ... and a header-only SCI extension: a clear error, not a crash
    with fits.open(wcs_dir / "j8bt06nyq_sip_flt.fits") as h:
        sample = fits.HDUList([x.copy() for x in h])
    sample[0].header["NEXTEND"] = len(sample) - 1
    sample.writeto(tmp_path / "j8bt06nyq_sample_flt.fits")
    with pytest.raises(InputError) as err:
        read_exposure(tmp_path / "j8bt06nyq_sample_flt.fits")
    _error(err, "j8bt06nyq_sample_flt.fits", "SCI,1", "no 2-D image")


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
    sci = _wcs((1014, 1014), scale=0.13)
    sci.update(EXTNAME="SCI", EXTVER=1, NPIX1=1014, NPIX2=1014, PIXVALUE=3.5, LTV1=-5.0, LTV2=-5.0,
               BUNIT="ELECTRONS/S")  # fmt: skip
    dq = fits.Header({"EXTNAME": "DQ", "EXTVER": 1, "NPIX1": 1014, "NPIX2": 1014, "PIXVALUE": 0})
    fits.HDUList([_primary("WFC3", "IR"), fits.ImageHDU(header=sci), fits.ImageHDU(header=dq)]).writeto(path)
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


def test_simple_fits_image(tmp_path):
    """Data in the primary HDU (no SCI extension) is one chip."""
    path = tmp_path / "simple.fits"
    h = _wcs()
    h.update(EXPTIME=10.0, BUNIT="ELECTRONS/S")
    fits.PrimaryHDU(np.ones(SHAPE, np.float32), header=h).writeto(path)
    (c,) = read_exposure(path).chips
    assert (c.extver, c.sci_ext, c.shape, c.units, c.exptime) == (1, 0, SHAPE, "electrons/s", 10.0)
    assert not c.has_err and not c.has_dq and np.all(c.read_sci() == 1.0)


# --------------------------------------------------------------------------
# overrides
# --------------------------------------------------------------------------


def test_override_values(wfc):
    e = read_exposure(wfc, overrides={"gain": 3.0, "rdnoise": 2.0, "exptime": 55.0, "crbit": 8192})
    assert e.exptime == 55.0
    for c in e.chips:
        assert (c.gain, c.rdnoise, c.exptime, c.crbit) == (3.0, 2.0, 55.0, 8192)
        assert np.all(c.gain_map() == 3.0) and np.all(c.rdnoise_map() == 2.0)
    assert read_exposure(wfc, overrides={"crbit": 0}).chips[0].crbit == 0


def test_override_keywords(tmp_path):
    path = make_two_chip(tmp_path / "x_flt.fits", primary_extra={"MYGAIN": 2.5, "TEXPTIME": 800.0},
                         sci_extra={"MYNOISE": 3.25})  # fmt: skip
    e = read_exposure(path, overrides={"gnkeyword": "mygain", "rnkeyword": "MYNOISE", "expkeyword": "TEXPTIME"})
    assert e.exptime == 800.0
    assert all((c.gain, c.rdnoise, c.exptime) == (2.5, 3.25, 800.0) for c in e.chips)
    assert read_exposure(path, overrides={"gainkeyword": "MYGAIN"}).chips[0].gain == 2.5  # section 1.4's spelling


def test_blank_overrides_are_ignored(wfc):
    c = read_exposure(wfc, overrides={"gain": None, "gnkeyword": "", "crbit": None}).chips[0]
    assert c.gain == pytest.approx((AMP_GAIN["C"] + AMP_GAIN["D"]) / 2) and c.crbit == 4096


@pytest.mark.parametrize("key", ["gnkeyword", "rnkeyword", "expkeyword"])
def test_missing_override_keyword(wfc, key):
    with pytest.raises(InputError) as e:
        read_exposure(wfc, overrides={key: "NOSUCHKEY"})
    _error(e, wfc, "NOSUCHKEY", key)


def test_override_keyword_not_a_number(tmp_path):
    path = make_two_chip(tmp_path / "x_flt.fits", primary_extra={"MYGAIN": "high"})
    with pytest.raises(InputError) as e:
        read_exposure(path, overrides={"gnkeyword": "MYGAIN"})
    _error(e, path, "MYGAIN", "'high'")


@pytest.mark.parametrize("overrides, needle", [
    ({"gain": 2.0, "gnkeyword": "X"}, "'gain' or 'gnkeyword'"),
    ({"rdnoise": 2.0, "rnkeyword": "X"}, "'rdnoise' or 'rnkeyword'"),
    ({"exptime": 2.0, "expkeyword": "X"}, "'exptime' or 'expkeyword'"),
    ({"gain": -1.0}, "'gain' must be positive"),
    ({"gain": 0.0}, "'gain' must be positive"),
    ({"gain": "abc"}, "'gain' must be a number"),
    ({"gain": float("nan")}, "'gain'"),
    ({"rdnoise": -0.5}, "'rdnoise' must be non-negative"),
    ({"exptime": 0.0}, "'exptime' must be positive"),
    ({"crbit": -1}, "'crbit'"),
    ({"crbit": 1.5}, "'crbit'"),
    ({"gnkeyword": 5}, "'gnkeyword'"),
    ({"gian": 2.0}, "'gian'"),
    ([("gain", 2.0)], "'overrides'"),
])  # fmt: skip
def test_bad_overrides(wfc, overrides, needle):
    with pytest.raises(InputError) as e:
        read_exposure(wfc, overrides=overrides)
    _error(e, needle)


def test_string_override_values(wfc):
    c = read_exposure(wfc, overrides={"gain": "2.5", "crbit": "2048"}, bits="96").chips[0]
    assert (c.gain, c.crbit, c.good_bits) == (2.5, 2048, 96)


@pytest.mark.parametrize("bits", [-1, 2**32, 1.5, True, "many"])
def test_bad_bits(wfc, bits):
    with pytest.raises(InputError) as e:
        read_exposure(wfc, bits=bits)
    _error(e, "'bits'")


def test_exptime_errors(tmp_path):
    path = make_two_chip(tmp_path / "x_flt.fits", primary_extra={"EXPTIME": 0.0})
    with pytest.raises(InputError) as e:
        read_exposure(path)
    _error(e, path, "EXPTIME", "positive")
    assert read_exposure(path, overrides={"exptime": 12.0}).exptime == 12.0
    path = tmp_path / "noexp_flt.fits"
    fits.HDUList([_primary("ACS", "WFC", exptime=None)] + _chip_hdus(1)).writeto(path)
    with pytest.raises(InputError) as e:
        read_exposure(path)
    _error(e, path, "EXPTIME", "exptime or expkeyword")


# --------------------------------------------------------------------------
# group
# --------------------------------------------------------------------------


@pytest.mark.parametrize("group, extvers", [
    (None, [1, 2]), ("", [1, 2]), (1, [1]), ("1", [1]), ("2", [2]), ("sci,2", [2]), ("SCI,1", [1]),
    ("[sci,2]", [2]), ("1,2", [1, 2]), ("2,1", [1, 2]), ("sci,1,sci,2", [1, 2]), (["sci,2", 1], [1, 2]),
    ((2,), [2]),
])  # fmt: skip
def test_group_selection(wfc, group, extvers):
    assert [c.extver for c in read_exposure(wfc, group=group).chips] == extvers


@pytest.mark.parametrize("group", [3, "3", "sci,3", "1,3"])
def test_unknown_group(wfc, group):
    with pytest.raises(InputError) as e:
        read_exposure(wfc, group=group)
    _error(e, wfc, "group 3", "SCI,1, SCI,2")


@pytest.mark.parametrize("group", ["err,1", "sci", "sci,x", 0, "0", True, 1.0, "a,b"])
def test_bad_group(wfc, group):
    with pytest.raises(InputError) as e:
        read_exposure(wfc, group=group)
    _error(e, "'group'")


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
    _error(e, path, "DQ,1", "integer flags")


def test_without_err_and_dq(tmp_path):
    path = make_two_chip(tmp_path / "x_flt.fits", err=False, dq=False)
    c = read_exposure(path).chips[0]
    assert not c.has_err and not c.has_dq
    dq = c.read_dq()
    assert dq.dtype == np.uint32 and dq.shape == SHAPE and not dq.any()
    with pytest.raises(InputError) as e:
        c.read_err()
    _error(e, path, "ERR", "SCI,1")


def test_err_shape_mismatch(tmp_path):
    path = tmp_path / "x_flt.fits"
    hdus = [_primary("ACS", "WFC")] + _chip_hdus(1, err=False)
    hdus.append(fits.ImageHDU(np.zeros((3, 3), np.float32), name="ERR", ver=1))
    fits.HDUList(hdus).writeto(path)
    with pytest.raises(InputError) as e:
        read_exposure(path)
    _error(e, path, "ERR,1", "(6, 10)")


def test_wcs_with_sip(tmp_path):
    sip = _wcs(sip=True)
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
    h = _wcs()
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
    fits.HDUList([_primary("", ""), *_chip_hdus(1, wcs=h, sci_extra={"BUNIT": "ELECTRONS"}), *tables]).writeto(path)
    (c,) = read_exposure(path, overrides={"rdnoise": 1.0}).chips
    assert c.wcs.cpdis1 is not None and c.wcs.cpdis2 is not None
    assert c.pixel_scale == pytest.approx(0.05, rel=1e-6)  # without the lookup-table shifts
    os.remove(path)
    corrected = c.wcs.all_pix2world([[0.0, 0.0]], 0)
    linear = c.wcs.wcs_pix2world([[0.25, 0.5]], 0)  # the tables shift x by 0.25 px and y by 0.5 px
    np.testing.assert_allclose(corrected, linear, rtol=0, atol=1e-10)


def test_pixel_scale_without_idcscale_is_undistorted(tmp_path):
    # CRPIX far from the chip centre, so the SIP terms distort the centre's pixel
    sip = _wcs(sip=True, crpix=(-20.0, -30.0))
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
    fits.HDUList([_primary("ACS", "WFC")] + _chip_hdus(1)).writeto(path, overwrite=True)
    with pytest.raises(InputError) as e:
        c.read_sci()
    _error(e, path, "SCI,2")


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
    _error(e, tmp_path / "nothere_flt.fits", "does not exist")


def test_corrupt_file(tmp_path):
    path = tmp_path / "bad_flt.fits"
    path.write_bytes(b"SIMPLE  = garbage" * 10)
    with pytest.raises(InputError) as e:
        read_exposure(path)
    _error(e, path, "not a readable FITS file")


def test_truncated_file(tmp_path):
    """A file cut inside its last DQ extension must not read as a chip without DQ."""
    path = make_two_chip(tmp_path / "x_flt.fits")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 4000])
    with pytest.raises(InputError) as e:
        read_exposure(path)
    _error(e, path, "truncated or corrupt")


def test_gzipped_exposure(tmp_path):
    raw = make_two_chip(tmp_path / "x_flt.fits").read_bytes()
    path = tmp_path / "y_flt.fits.gz"
    path.write_bytes(gzip.compress(raw))
    c = read_exposure(path).chips[1]
    assert c.read_sci()[0, 0] == 200 and c.read_dq()[0, 2] == 4096


def test_no_sci_extension(tmp_path):
    path = tmp_path / "t.fits"
    table = fits.BinTableHDU.from_columns([fits.Column(name="A", format="E", array=np.zeros(2))])
    fits.HDUList([_primary("ACS", "WFC"), table]).writeto(path)
    with pytest.raises(InputError) as e:
        read_exposure(path)
    _error(e, path, "no SCI extension")


@pytest.mark.parametrize("ctypes", [None, ("LINEAR", "LINEAR")])
def test_no_celestial_wcs(tmp_path, ctypes):
    h = fits.Header() if ctypes is None else fits.Header({"CTYPE1": ctypes[0], "CTYPE2": ctypes[1]})
    path = make_single(tmp_path / "n.fits", "", "", wcs=h)
    with pytest.raises(InputError) as e:
        read_exposure(path)
    _error(e, path, "SCI,1", "no celestial WCS")


def test_cube_is_refused(tmp_path):
    path = tmp_path / "cube.fits"
    fits.HDUList([_primary("", ""), fits.ImageHDU(np.zeros((2, 3, 4), np.float32), name="SCI")]).writeto(path)
    with pytest.raises(InputError) as e:
        read_exposure(path)
    _error(e, path, "NAXIS=3")


def test_duplicate_extver(tmp_path):
    path = tmp_path / "d.fits"
    fits.HDUList([_primary("", "")] + _chip_hdus(1, err=False, dq=False) * 2).writeto(path)
    with pytest.raises(InputError) as e:
        read_exposure(path)
    _error(e, path, "same EXTVER")


def test_bad_ccdchip(tmp_path):
    path = make_two_chip(tmp_path / "x_flt.fits", sci_extra={"CCDCHIP": 3})
    with pytest.raises(InputError) as e:
        read_exposure(path)
    _error(e, path, "CCDCHIP=3")
