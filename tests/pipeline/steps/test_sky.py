"""The sky step's task on single chips: combined per exposure they give the whole run's sky."""

import dataclasses
import logging
import math
import pickle

import numpy as np
import pytest
from astropy.io import fits
from helpers.naive_stats import NOISE, SKY, naive_clipped_stats, sky_scene

from gpudriz.pipeline.io.inputs import InputError
from gpudriz.pipeline.steps.sky import (
    SKY_STATS,
    SkyParams,
    chip_sky,
    combine_skies,
    exposure_sky,
    sky_chip,
    user_sky,
)


def test_sky_of_one_exposure_gives_the_whole_runs(init, whole_run, chip_input, pars):
    params = SkyParams.from_pars(pars)
    ks = [k for k, w in enumerate(init.chips) if w.exposure.rootname == init.exposures[1].rootname]
    values = [sky_chip(chip_input(k, "static_ok"), params, "cpu") for k in ks]
    assert all(math.isfinite(v) and v > 0 for v in values)
    scales = [init.chips[k].chip.pixel_scale for k in ks]
    (skies,) = combine_skies([values], [scales], [init.chips[ks[0]].chip.exptime],
                             [init.exposures[1].path.name], "localmin")  # fmt: skip
    assert skies == [whole_run.chips[k].sky for k in ks]
    # localmin: the lowest surface brightness of the exposure's chips (one pixel scale here).
    assert skies[0] == pytest.approx(min(values), rel=1e-12)


def test_an_empty_chip_has_no_sky(chip_input, pars):
    empty = dataclasses.replace(chip_input(0, "static_ok"), empty=True)
    assert math.isnan(sky_chip(empty, SkyParams.from_pars(pars), "cpu"))


def test_sky_inputs_survive_pickling(chip_input, pars):
    inputs = (chip_input(3, "static_ok"), SkyParams.from_pars(pars), "cpu")
    again = pickle.loads(pickle.dumps(inputs))
    assert again[1] == inputs[1]
    assert sky_chip(*again) == sky_chip(*inputs)


# --------------------------------------------------------------------------
# the sky statistics of one chip, the exposure rules, skyuser (was test_skysub.py)
# --------------------------------------------------------------------------


#: How close the sky must be to the NumPy definition (e-): issue 15 asks 0.01 e- of the passes
#: through a histogram (:mod:`gpudriz.pipeline.steps.stats`); they are much closer.
SKY_TOL = 1e-3


def reference_sky(data, good=None, skystat="median", skywidth=0.1, skylower=-50.0, skyupper=200.0, skyclip=5,
                  skylsigma=4.0, skyusigma=4.0):
    """The sky by the NumPy reference statistics, MultiDrizzle's defaults."""
    s = naive_clipped_stats(data, mask=good, lower=skylower, upper=skyupper, nclip=skyclip, lsigma=skylsigma,
                            usigma=skyusigma, binwidth=skywidth)
    return getattr(s, skystat)


# --------------------------------------------------------------------------
# one chip
# --------------------------------------------------------------------------


@pytest.mark.parametrize("skystat", SKY_STATS)
def test_matches_reference(xp, skystat):
    data, _ = sky_scene(seed=41)
    got = chip_sky(xp.asarray(data), xp=xp, skystat=skystat)
    assert type(got) is float
    assert got == pytest.approx(reference_sky(data, skystat=skystat), rel=1e-12, abs=1e-3 * NOISE)


@pytest.mark.parametrize(
    "params",
    [
        dict(skyclip=0),
        dict(skyclip=1, skylsigma=2.0, skyusigma=3.0),
        dict(skylower=90.0, skyupper=130.0),
        dict(skylower=None, skyupper=None, skyclip=2),
        dict(skystat="mode", skywidth=0.3),
    ],
    ids=str,
)
def test_parameters_are_honoured(xp, params):
    data, _ = sky_scene(seed=42)
    got = chip_sky(xp.asarray(data), xp=xp, **params)
    assert got == pytest.approx(reference_sky(data, **params), rel=1e-12, abs=1e-3 * NOISE)


def test_sky_against_truth(xp):
    data, _ = sky_scene((512, 512), nstars=60, ncr=1500, seed=43)
    median = chip_sky(xp.asarray(data), xp=xp, skystat="median")
    mode = chip_sky(xp.asarray(data), xp=xp, skystat="mode")
    mean = chip_sky(xp.asarray(data), xp=xp, skystat="mean")
    assert abs(median - SKY) < 0.03 * NOISE
    # the histogram mode scatters by ~0.06 sigma at this size (test_stats)
    assert abs(mode - SKY) < 0.15 * NOISE
    # star wings inside +4 sigma survive the clipping and pull the mean up
    assert mean - SKY > median - SKY > 0


def test_limits_are_in_electrons_and_exclude_saturation(xp):
    # A saturated block at 60000 e- lies above skyupper = 200 e- and a dead
    # block at -1000 e- below skylower = -50 e-: with no clipping at all, the
    # limits alone keep them out.
    data, _ = sky_scene(seed=44)
    dirty = data.copy()
    dirty[:40, :40] = 6e4
    dirty[-40:, -40:] = -1e3
    keep = np.ones(data.shape, dtype=bool)
    keep[:40, :40] = keep[-40:, -40:] = False
    got = chip_sky(xp.asarray(dirty), xp=xp, skystat="mean", skyclip=0)
    want = naive_clipped_stats(data, mask=keep, lower=-50.0, upper=200.0, nclip=0).mean
    assert got == pytest.approx(want, rel=1e-12)


def test_good_mask_is_honoured(xp):
    data, contaminated = sky_scene(seed=45)
    good = ~contaminated
    got = chip_sky(xp.asarray(data), xp=xp, good=xp.asarray(good), skystat="mean")
    assert got == pytest.approx(reference_sky(data, good=good, skystat="mean"), abs=SKY_TOL)
    assert abs(got - SKY) < 0.02 * NOISE


def test_nan_pixels_are_ignored(xp):
    data, _ = sky_scene(seed=46)
    dirty = data.copy()
    dirty[::7, ::3] = np.nan
    keep = np.isfinite(dirty)
    got = chip_sky(xp.asarray(dirty), xp=xp)
    assert got == pytest.approx(reference_sky(data, good=keep), abs=SKY_TOL)


@pytest.mark.parametrize("case", ["all masked", "all nan", "all above skyupper"])
def test_no_usable_pixel_gives_nan(xp, caplog, case):
    data, _ = sky_scene((32, 32), nstars=0, ncr=0, seed=47)
    good = None
    if case == "all masked":
        good = xp.zeros(data.shape, dtype=bool)
    elif case == "all nan":
        data[:] = np.nan
    else:
        data += 1e3
    with caplog.at_level(logging.WARNING, logger="gpudriz"):
        got = chip_sky(xp.asarray(data), xp=xp, good=good)
    assert math.isnan(got)
    assert "sky is undefined" in caplog.text


def test_skystat_is_case_insensitive(xp):
    data, _ = sky_scene((64, 64), seed=48)
    assert chip_sky(xp.asarray(data), xp=xp, skystat=" Median ") == chip_sky(xp.asarray(data), xp=xp)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(skystat="average"), "skystat"),
        (dict(skystat=None), "skystat"),
        (dict(skywidth=0.0), "skywidth"),
        (dict(skyclip=-1), "skyclip"),
        (dict(skyclip=1.5), "skyclip"),
        (dict(skylsigma=-4.0), "skylsigma"),
        (dict(skyusigma=float("inf")), "skyusigma"),
        (dict(skylower=float("nan")), "skylower"),
        (dict(skylower=300.0), "skylower"),
        (dict(skyupper="200"), "skyupper"),
    ],
)
def test_bad_parameters_are_named(xp, kwargs, name):
    with pytest.raises(ValueError, match=f"'{name}'"):
        chip_sky(xp.zeros((4, 4)), xp=xp, **kwargs)


def test_good_shape_mismatch(xp):
    with pytest.raises(ValueError, match=r"'good' has shape \(4, 3\)"):
        chip_sky(xp.zeros((4, 4)), xp=xp, good=xp.ones((4, 3), dtype=bool))


# --------------------------------------------------------------------------
# the exposure: minimum surface brightness over its chips
# --------------------------------------------------------------------------


def test_minimum_rule_by_hand():
    # chip A: 100 e- on 0.05" pixels = 40000 e-/arcsec^2; chip B: 50 e- on
    # 0.025" pixels = 80000 e-/arcsec^2.  The lower, A's, is the exposure's;
    # on B's pixels it is 40000 * 0.025^2 = 25 e-.
    assert exposure_sky([100.0, 50.0], [0.05, 0.025]) == pytest.approx([100.0, 25.0], rel=1e-14)
    assert exposure_sky([50.0, 100.0], [0.025, 0.05]) == pytest.approx([25.0, 100.0], rel=1e-14)
    # B darker per unit area: 10 e- on 0.025" = 16000; on A's pixels 40 e-.
    assert exposure_sky([100.0, 10.0], [0.05, 0.025]) == pytest.approx([40.0, 10.0], rel=1e-14)


def test_equal_scales_take_the_lowest_chip():
    assert exposure_sky([12.0, 9.5, 11.0, 30.0], [0.1] * 4) == pytest.approx([9.5] * 4, rel=1e-14)


def test_two_chips_of_different_scale_from_data(xp):
    # One sky per unit area seen through pixels of 0.05" and 0.04": each chip
    # measures its own pixel area's share; the rule recovers both.
    sb = 40000.0
    scales = [0.05, 0.04]
    skies = []
    for i, pscale in enumerate(scales):
        data, _ = sky_scene(sky=sb * pscale**2, seed=50 + i)
        skies.append(chip_sky(xp.asarray(data), xp=xp))
    got = exposure_sky(skies, scales)
    truth = [sb * s**2 for s in scales]
    assert got == pytest.approx(truth, abs=0.05 * NOISE)
    # the chip with the lower surface brightness is returned as measured
    low = int(np.argmin([s / p**2 for s, p in zip(skies, scales)]))
    assert got[low] == pytest.approx(skies[low], rel=1e-14)


def test_nan_chip_is_skipped():
    assert exposure_sky([math.nan, 50.0], [0.05, 0.025]) == pytest.approx([200.0, 50.0], rel=1e-14)


def test_all_nan_subtracts_nothing(caplog):
    with caplog.at_level(logging.WARNING, logger="gpudriz"):
        assert exposure_sky([math.nan, math.nan], [0.05, 0.05], name="j8cw03a1q_flt.fits") == [0.0, 0.0]
    assert "j8cw03a1q_flt.fits" in caplog.text


@pytest.mark.parametrize(
    "values, scales, match",
    [
        ([], [], "one value per chip"),
        ([1.0, 2.0], [0.05], "one value per chip"),
        ([1.0], [0.0], "chip 0 has 0.0"),
        ([1.0, 2.0], [0.05, -0.05], "chip 1 has -0.05"),
        ([1.0], [math.inf], "'pixel_scales'"),
    ],
)
def test_exposure_sky_errors(values, scales, match):
    with pytest.raises(ValueError, match=match):
        exposure_sky(values, scales)


# --------------------------------------------------------------------------
# skyuser
# --------------------------------------------------------------------------


def test_user_sky_from_a_header():
    header = fits.Header({"SKYVAL": 123.5, "OTHER": 1})
    assert user_sky(header, "SKYVAL") == 123.5
    assert user_sky(header, " skyval ") == 123.5  # FITS keywords ignore case


def test_user_sky_searches_headers_in_order():
    sci = fits.Header({"EXTNAME": "SCI"})
    primary = fits.Header({"MYSKY": 42.0})
    assert user_sky([sci, primary], "MYSKY") == 42.0
    sci["MYSKY"] = 7
    assert user_sky([sci, primary], "MYSKY") == 7.0


def test_user_sky_accepts_numeric_strings():
    assert user_sky({"MYSKY": " 3.25 "}, "MYSKY") == 3.25


def test_user_sky_missing_keyword_names_file_and_keyword():
    with pytest.raises(InputError, match=r"skyuser keyword 'MYSKY' is not in 'j8_flt\.fits\[SCI,1\]'"):
        user_sky(fits.Header(), "MYSKY", source="j8_flt.fits[SCI,1]")
    with pytest.raises(InputError, match="is not in the header"):
        user_sky([fits.Header(), fits.Header()], "MYSKY")


@pytest.mark.parametrize("value", ["lots", True, math.nan])
def test_user_sky_not_a_number(value):
    with pytest.raises(InputError, match=r"skyuser keyword 'MYSKY' in 'x\.fits' holds .*expected a finite number"):
        user_sky({"MYSKY": value}, "MYSKY", source="x.fits")


@pytest.mark.parametrize("keyword", ["", "  ", None, 5])
def test_user_sky_needs_a_keyword(keyword):
    with pytest.raises(ValueError, match="'skyuser' must name a header keyword"):
        user_sky(fits.Header(), keyword)
