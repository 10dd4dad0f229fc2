"""The static step's task on single chips: its masks AND-ed give the whole run's."""

import pickle

import numpy as np

from gpudriz.pipeline.steps.static import StaticParams, combine_static, static_chip


def test_static_masks_of_one_chip_number_give_the_whole_runs(init, whole_run, chip_input, pars):
    params = StaticParams.from_pars(pars)
    ks = [k for k, w in enumerate(init.chips) if w.key == 1]
    masks = [static_chip(chip_input(k), params, "cpu") for k in ks]
    for k, mask in zip(ks, masks):
        assert mask.shape == init.chips[k].chip.shape and mask.dtype == bool
        # AND over exposures: the run's mask is bad wherever one exposure's is.
        assert not (whole_run.chips[k].static_ok & ~mask).any()
    np.testing.assert_array_equal(np.logical_and.reduce(masks), whole_run.chips[ks[0]].static_ok)
    combined = combine_static([(1, m) for m in masks], "cpu")
    np.testing.assert_array_equal(combined[1], whole_run.chips[ks[0]].static_ok)


def test_static_inputs_survive_pickling(init, chip_input, pars):
    inputs = (chip_input(0), StaticParams.from_pars(pars), "cpu")
    again = pickle.loads(pickle.dumps(inputs))
    assert again[1] == inputs[1] and again[2] == "cpu"
    np.testing.assert_array_equal(static_chip(*again), static_chip(*inputs))
