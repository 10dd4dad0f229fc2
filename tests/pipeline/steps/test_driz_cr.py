"""driz_cr's task for one chip: its cosmic rays and noise scale are the whole run's."""

import pickle

import numpy as np

from gpudriz.pipeline.steps.driz_cr import DrizCrParams, driz_cr_chip


def _inputs(whole_run, chip_input, pars, k):
    ref = whole_run.chips[k]
    return (chip_input(k, "sky"), ref.blot_path, ref.median_var_path, DrizCrParams.from_pars(pars), "cpu")


def test_cosmic_rays_of_one_chip_are_the_whole_runs(whole_run, chip_input, pars):
    k = 2
    r = driz_cr_chip(*_inputs(whole_run, chip_input, pars, k))
    ref = whole_run.chips[k]
    assert r.crmask.sum() > 0
    np.testing.assert_array_equal(r.crmask, ref.crmask)
    assert r.noise_scale == ref.cr_noise_scale
    np.testing.assert_array_equal(r.cor, ref.cor)  # driz_cr_corr=yes


def test_driz_cr_inputs_survive_pickling(whole_run, chip_input, pars):
    inputs = _inputs(whole_run, chip_input, pars, 6)
    again = pickle.loads(pickle.dumps(inputs))
    assert again[3] == inputs[3] and again[1] == inputs[1]
    r = driz_cr_chip(*again)
    np.testing.assert_array_equal(r.crmask, whole_run.chips[6].crmask)
