"""driz_separate's task for one exposure: its single images are the whole run's."""

import pickle

import numpy as np
from astropy.io import fits

from gpudriz.pipeline.steps.separate import SeparateParams, separate_exposure


def _exposure(init, chip_input, e):
    root = init.exposures[e].rootname
    ks = [k for k, w in enumerate(init.chips) if w.exposure.rootname == root]
    return [chip_input(k, "static_ok", "sky") for k in ks], init.exposures[e].exptime


def test_single_images_of_one_exposure_are_the_whole_runs(init, whole_run, chip_input, pars, prov,
                                                           tmp_path):  # fmt: skip
    chips, exptime = _exposure(init, chip_input, 2)
    single = separate_exposure(chips, exptime, init.separate_frame, SeparateParams.from_pars(pars), "cpu",
                               tmp_path, prov)  # fmt: skip
    _, ref = whole_run.state.singles[2]
    assert single.sci_path == tmp_path / ref.sci_path.name and single.rootname == ref.rootname
    for ours, theirs in ((single.sci_path, ref.sci_path), (single.wht_path, ref.wht_path)):
        np.testing.assert_array_equal(fits.getdata(ours), fits.getdata(theirs))
    assert fits.getheader(single.sci_path)["BUNIT"] == "ELECTRONS/S"


def test_separate_inputs_survive_pickling(init, chip_input, pars, prov, tmp_path):
    chips, exptime = _exposure(init, chip_input, 0)
    inputs = (chips, exptime, init.separate_frame, SeparateParams.from_pars(pars), "cpu")
    again = pickle.loads(pickle.dumps(inputs + (tmp_path / "b", prov)))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = separate_exposure(*inputs, tmp_path / "a", prov)
    b = separate_exposure(*again)
    assert again[-1] == prov and again[3] == inputs[3] and again[2].shape == inputs[2].shape
    # astropy pickles a WCS through its header text (CRVAL to ~1e-12 deg): pixmaps move by < 1e-6 px.
    np.testing.assert_allclose(fits.getdata(b.sci_path), fits.getdata(a.sci_path), rtol=1e-4, atol=1e-4)
