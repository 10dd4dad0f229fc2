"""The blot's task for one chip: its blot and noise term are the whole run's."""

import pickle

import numpy as np
from astropy.io import fits

from gpudriz.pipeline.steps.blot import BlotParams, blot_chip, read_median


def test_blot_of_one_chip_is_the_whole_runs(whole_run, chip_input, init, pars, prov, tmp_path):
    med, counts = read_median(whole_run.state.median, "cpu")
    k = 5
    r = blot_chip(chip_input(k, "sky"), med, counts, 4, init.separate_frame, BlotParams.from_pars(pars),
                  "cpu", tmp_path, prov)  # fmt: skip
    ref = whole_run.chips[k]
    assert r.blot_path.name == ref.blot_path.name and r.median_var_path.name == ref.median_var_path.name
    np.testing.assert_array_equal(fits.getdata(r.blot_path), fits.getdata(ref.blot_path))
    np.testing.assert_array_equal(fits.getdata(r.median_var_path), fits.getdata(ref.median_var_path))


def test_blot_inputs_survive_pickling(whole_run, chip_input, init, pars, prov, tmp_path):
    med, counts = read_median(whole_run.state.median, "cpu")
    inputs = (chip_input(1, "sky"), med, counts, 4, init.separate_frame, BlotParams.from_pars(pars), "cpu",
              tmp_path, prov)  # fmt: skip
    r = blot_chip(*pickle.loads(pickle.dumps(inputs)))
    ref = fits.getdata(whole_run.chips[1].blot_path)
    # astropy pickles a WCS through its header text: the pixmap moves by < 1e-6 px.
    np.testing.assert_allclose(fits.getdata(r.blot_path), ref, rtol=1e-4, atol=1e-3 * np.abs(ref).max())
