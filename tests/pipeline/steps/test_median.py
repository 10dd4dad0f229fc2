"""The median's task on the whole run's single images: the whole run's median and counts."""

import pickle

import numpy as np
from astropy.io import fits

from gpudriz.pipeline.steps.median import MedianParams, median_singles


def _inputs(whole_run, pars, init):
    singles = whole_run.state.singles
    groups = [g for g, _ in singles]
    return ([s.sci_path for _, s in singles], [s.wht_path for _, s in singles],
            [g[0].exposure.exptime for g in groups], [np.mean([w.sky for w in g]) for g in groups],
            [np.mean([w.chip.rdnoise for w in g]) for g in groups], init.separate_frame,
            MedianParams.from_pars(pars), "cpu")  # fmt: skip


def test_median_is_the_whole_runs(whole_run, pars, init, prov, tmp_path):
    med = median_singles(*_inputs(whole_run, pars, init), tmp_path, "final", prov)
    ref = whole_run.state.median
    assert med.nimages == ref.nimages == 4
    np.testing.assert_array_equal(fits.getdata(med.path), fits.getdata(ref.path))
    np.testing.assert_array_equal(fits.getdata(med.count_path), fits.getdata(ref.count_path))


def test_median_inputs_survive_pickling(whole_run, pars, init, prov, tmp_path):
    inputs = _inputs(whole_run, pars, init) + (tmp_path, "again", prov)
    med = median_singles(*pickle.loads(pickle.dumps(inputs)))
    # The frame's WCS only goes into the header: the pixels are exact.
    np.testing.assert_array_equal(fits.getdata(med.path), fits.getdata(whole_run.state.median.path))
