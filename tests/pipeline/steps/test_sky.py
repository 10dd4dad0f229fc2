"""The sky step's task on single chips: combined per exposure they give the whole run's sky."""

import dataclasses
import math
import pickle

import pytest

from gpudriz.pipeline.steps.sky import SkyParams, combine_skies, sky_chip


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
