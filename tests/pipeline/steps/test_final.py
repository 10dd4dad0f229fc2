"""The final drizzle's task: over every chip the whole run's product; over one chip, that chip alone."""

import pickle

import numpy as np
from astropy.io import fits

from gpudriz.pipeline.steps.final import FinalParams, final_drizzle


def _chips(init, chip_input, ks):
    return [chip_input(k, "static_ok", "sky", "crmask") for k in ks]


def test_final_drizzle_is_the_whole_runs_product(init, whole_run, chip_input, pars):
    ks = range(len(init.chips))
    image = final_drizzle(_chips(init, chip_input, ks), [None] * len(ks), init.final_frame,
                          FinalParams.from_pars(pars), "cpu")  # fmt: skip
    with fits.open(whole_run.products["drz"]) as h:
        for name, data in image.planes().items():
            np.testing.assert_array_equal(data, h[name].data, err_msg=name)


def test_final_drizzle_of_one_chip(init, chip_input, pars):
    image = final_drizzle(_chips(init, chip_input, [3]), [None], init.final_frame,
                          FinalParams.from_pars(pars), "cpu")  # fmt: skip
    covered = image.wht > 0
    assert covered.any() and not covered.all()
    # One input: context bit 0 wherever it has weight, and weights of exptime x coverage.
    np.testing.assert_array_equal(image.ctx != 0, covered)
    assert np.isfinite(image.sci[covered]).all()
    assert np.isfinite(image.err[covered]).all() and (image.err[covered] > 0).all()


def test_final_inputs_survive_pickling(init, chip_input, pars):
    inputs = (_chips(init, chip_input, [0, 1]), [None, None], init.final_frame, FinalParams.from_pars(pars),
              "cpu")  # fmt: skip
    a = final_drizzle(*inputs)
    b = final_drizzle(*pickle.loads(pickle.dumps(inputs)))
    # astropy pickles a WCS through its header text: pixmaps move by < 1e-6 px.
    np.testing.assert_allclose(b.sci, a.sci, rtol=1e-4, atol=1e-4 * np.nanmax(np.abs(a.sci)))
    np.testing.assert_array_equal(b.ctx, a.ctx)
