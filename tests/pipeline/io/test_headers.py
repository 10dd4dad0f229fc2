"""The manual's overrides, group and header keywords (read through read_exposure)."""


import logging
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from helpers.exposure_files import (
    AMP_GAIN,
    chip_hdus,
    make_two_chip,
    one_sentence,
    primary_hdu,
)

from gpudriz.pipeline.io.fits import InputError
from gpudriz.pipeline.io.headers import (
    UINT32_MAX,
    ChipHeaders,
    chip_units,
    flag_bits,
    keyword_number,
    override_number,
    parse_group,
    parse_overrides,
)
from gpudriz.pipeline.io.instruments import read_exposure

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
    one_sentence(e, wfc, "NOSUCHKEY", key)


def test_override_keyword_not_a_number(tmp_path):
    path = make_two_chip(tmp_path / "x_flt.fits", primary_extra={"MYGAIN": "high"})
    with pytest.raises(InputError) as e:
        read_exposure(path, overrides={"gnkeyword": "MYGAIN"})
    one_sentence(e, path, "MYGAIN", "'high'")


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
    one_sentence(e, needle)


def test_string_override_values(wfc):
    c = read_exposure(wfc, overrides={"gain": "2.5", "crbit": "2048"}, bits="96").chips[0]
    assert (c.gain, c.crbit, c.good_bits) == (2.5, 2048, 96)


@pytest.mark.parametrize("bits", [-1, 2**32, 1.5, True, "many"])
def test_bad_bits(wfc, bits):
    with pytest.raises(InputError) as e:
        read_exposure(wfc, bits=bits)
    one_sentence(e, "'bits'")


def test_exptime_errors(tmp_path):
    path = make_two_chip(tmp_path / "x_flt.fits", primary_extra={"EXPTIME": 0.0})
    with pytest.raises(InputError) as e:
        read_exposure(path)
    one_sentence(e, path, "EXPTIME", "positive")
    assert read_exposure(path, overrides={"exptime": 12.0}).exptime == 12.0
    path = tmp_path / "noexp_flt.fits"
    fits.HDUList([primary_hdu("ACS", "WFC", exptime=None)] + chip_hdus(1)).writeto(path)
    with pytest.raises(InputError) as e:
        read_exposure(path)
    one_sentence(e, path, "EXPTIME", "exptime or expkeyword")


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
    one_sentence(e, wfc, "group 3", "SCI,1, SCI,2")


@pytest.mark.parametrize("group", ["err,1", "sci", "sci,x", 0, "0", True, 1.0, "a,b"])
def test_bad_group(wfc, group):
    with pytest.raises(InputError) as e:
        read_exposure(wfc, group=group)
    one_sentence(e, "'group'")




# --------------------------------------------------------------------------
# the parsers on their own
# --------------------------------------------------------------------------


@pytest.mark.parametrize("group, chips", [
    (None, None), ("", None), (2, [2]), ("sci,1", [1]), ("[sci,2]", [2]), ("1, 2, 1", [1, 2]),
    (["sci,2", 1], [2, 1]),
])  # fmt: skip
def test_parse_group(group, chips):
    assert parse_group(group) == chips


def test_flag_bits_and_override_numbers():
    assert flag_bits(" 4096 ", "crbit") == 4096 and flag_bits(UINT32_MAX, "bits") == UINT32_MAX
    assert override_number("2.5", "gain", positive=True) == 2.5
    assert override_number(0, "rdnoise", nonnegative=True) == 0.0
    with pytest.raises(InputError, match=r"^'gain' must be a finite number; got nan\.$"):
        override_number(float("nan"), "gain")
    with pytest.raises(InputError, match=r"^'gain' must be a number; got 'x'\.$"):
        override_number("x", "gain")
    with pytest.raises(InputError, match=r"^'rdnoise' must be non-negative; got -1\.0\.$"):
        override_number(-1, "rdnoise", nonnegative=True)


def test_parse_overrides_resolves_aliases_and_drops_blanks():
    got = parse_overrides({"gainkeyword": " ccdgain ", "rdnoise": None, "exptime": " ", "crbit": "0"})
    assert got == {"gnkeyword": "CCDGAIN", "crbit": 0}


def test_keyword_number_looks_in_sci_then_primary():
    sci, primary = fits.Header({"GAIN": 2.0}), fits.Header({"GAIN": 9.0, "NOISE": True})
    assert keyword_number("GAIN", "x.fits", (sci, primary), positive=True) == 2.0
    with pytest.raises(InputError, match=r"^keyword NOISE of 'x\.fits' is True; expected a number\.$"):
        keyword_number("NOISE", "x.fits", (sci, primary))
    with pytest.raises(InputError, match=r"^'x\.fits' has no RN keyword; pass rdnoise\.$"):
        keyword_number("RN", "x.fits", (sci, primary), why="; pass rdnoise")


def test_chip_units_reads_bunit_spellings(caplog):
    def ctx(bunit):
        sci = fits.Header() if bunit is None else fits.Header({"BUNIT": bunit})
        return ChipHeaders(Path("x.fits"), fits.Header(), sci, 1, (2, 2), "ACS", "WFC")

    assert chip_units(ctx("e-/s"), "electrons") == ("electrons/s", "e-/s")
    assert chip_units(ctx("COUNTS"), "electrons") == ("counts", "COUNTS")
    with caplog.at_level(logging.WARNING, logger="gpudriz"):
        assert chip_units(ctx(None), "electrons") == ("electrons", "")
        assert chip_units(ctx("furlongs"), "") == ("counts", "furlongs")
    assert "furlongs" in caplog.text
