"""The static step's task on single chips: its masks AND-ed give the whole run's."""

import logging
import pickle

import numpy as np
import pytest
from astropy.io import fits
from helpers.naive_stats import NOISE, SKY, naive_clipped_stats, sky_scene

from gpudriz.backend.arrays import to_host
from gpudriz.pipeline.io.inputs import InputError
from gpudriz.pipeline.steps.static import (
    StaticMask,
    StaticParams,
    chip_static_mask,
    combine_static,
    read_static_file,
    static_chip,
)


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


# --------------------------------------------------------------------------
# the static mask of one chip and its file (was test_static_mask.py)
# --------------------------------------------------------------------------


def defective_chip(seed, shape=(256, 256), cold=((10, 20), (100, 200), (250, 3)), column=37):
    """A sky scene with cold pixels and a bad column far below the sky.

    Stars and cosmic rays keep the density of the 256 x 256 scene.
    """
    area = shape[0] * shape[1] / 65536
    data, _ = sky_scene(shape, seed=seed, nstars=round(25 * area), ncr=round(300 * area))
    bad = np.zeros(shape, dtype=bool)
    for y, x in cold:
        bad[y, x] = True
    if column is not None:
        bad[:, column] = True
    data[bad] = SKY - 15 * NOISE
    return data, bad


def reference_mask(data, static_sig=4.0, dq_good=None):
    """MultiDrizzle's rule with the NumPy reference statistics."""
    s = naive_clipped_stats(data, mask=dq_good, nclip=3, lsigma=3.0, usigma=3.0, binwidth=0.1)
    return ~(data.astype(np.float64) < s.mode - static_sig * s.sigma)


# --------------------------------------------------------------------------
# one chip
# --------------------------------------------------------------------------


def test_flags_cold_pixels_and_bad_column_not_noise(xp):
    data, bad = defective_chip(seed=21)
    mask = chip_static_mask(xp.asarray(data), xp=xp)
    host = to_host(mask)
    assert host.dtype == bool and host.shape == data.shape
    np.testing.assert_array_equal(host, reference_mask(data))
    assert not host[bad].any()
    # Noise reaches the threshold in the Gaussian tail only: ~4 sigma below a
    # mode that scatters by ~0.1 sigma, with a 3-sigma clipped rms a few per
    # cent low, i.e. 1e-4 of the pixels (~5 here; a 3-sigma cut flags ~100).
    assert np.count_nonzero(~host & ~bad) <= 15


@pytest.mark.parametrize("static_sig", [2.0, 4.0, 6.0])
def test_threshold_follows_static_sig(xp, static_sig):
    data, bad = defective_chip(seed=22)
    mask = to_host(chip_static_mask(xp.asarray(data), xp=xp, static_sig=static_sig))
    np.testing.assert_array_equal(mask, reference_mask(data, static_sig))
    assert not mask[bad].any()


def test_lower_static_sig_flags_more(xp):
    data, _ = defective_chip(seed=23)
    counts = [np.count_nonzero(~to_host(chip_static_mask(xp.asarray(data), xp=xp, static_sig=s)))
              for s in (2.0, 3.0, 4.0)]
    assert counts[0] > counts[1] > counts[2]


def test_dq_good_limits_the_statistics(xp):
    # A quarter of the chip bad in DQ and at a low level would pull the mode
    # and rms; left out of the statistics, the threshold is the clean one.
    data, bad = defective_chip(seed=24)
    dq_good = np.ones(data.shape, dtype=bool)
    dq_good[:64] = False
    data[:64] = SKY - 30 * NOISE
    mask = to_host(chip_static_mask(xp.asarray(data), xp=xp, dq_good=xp.asarray(dq_good)))
    np.testing.assert_array_equal(mask, reference_mask(data, dq_good=dq_good))
    assert not mask[bad].any()
    assert not mask[:64].any()  # compared with the threshold like every pixel
    assert np.count_nonzero(~mask[64:] & ~bad[64:]) <= 15


def test_nan_pixels_stay_good_and_do_not_count(xp):
    data, bad = defective_chip(seed=25)
    nan = np.zeros(data.shape, dtype=bool)
    nan[5:9, 50:60] = True
    dirty = data.copy()
    dirty[nan] = np.nan
    mask = to_host(chip_static_mask(xp.asarray(dirty), xp=xp))
    assert mask[nan].all()
    np.testing.assert_array_equal(mask[~nan], reference_mask(data, dq_good=~nan)[~nan])


def test_nothing_measurable_flags_nothing(xp, caplog):
    data, _ = defective_chip(seed=26, shape=(32, 32), cold=((1, 2),), column=5)
    with caplog.at_level(logging.WARNING, logger="gpudriz"):
        mask = chip_static_mask(xp.asarray(data), xp=xp, dq_good=xp.zeros(data.shape, dtype=bool))
    assert to_host(mask).all()
    assert "no usable pixel" in caplog.text


def test_constant_chip_flags_nothing(xp):
    mask = chip_static_mask(xp.full((16, 16), 3.0), xp=xp)
    assert to_host(mask).all()


@pytest.mark.parametrize("static_sig", [0.0, -1.0, float("inf"), "4", True])
def test_bad_static_sig(xp, static_sig):
    with pytest.raises(ValueError, match="'static_sig'"):
        chip_static_mask(xp.zeros((4, 4)), xp=xp, static_sig=static_sig)


def test_dq_good_shape_mismatch(xp):
    with pytest.raises(ValueError, match="'dq_good' has shape"):
        chip_static_mask(xp.zeros((4, 4)), xp=xp, dq_good=xp.ones((4, 3), dtype=bool))


# --------------------------------------------------------------------------
# AND over exposures
# --------------------------------------------------------------------------


def test_and_over_exposures_per_chip(xp):
    a, bad_a = defective_chip(seed=27, cold=((1, 1), (2, 2)), column=None)
    b, bad_b = defective_chip(seed=28, cold=((3, 3),), column=9)
    c, bad_c = defective_chip(seed=29, cold=((4, 4),), column=None)
    static = StaticMask(xp)
    ma, mb = chip_static_mask(xp.asarray(a), xp=xp), chip_static_mask(xp.asarray(b), xp=xp)
    static.add(1, ma)
    static.add(1, mb)
    static.add(2, chip_static_mask(xp.asarray(c), xp=xp))
    assert static.keys() == [1, 2] and len(static) == 2 and 1 in static and 3 not in static
    combined = to_host(static.get(1))
    np.testing.assert_array_equal(combined, to_host(ma) & to_host(mb))
    assert not combined[bad_a | bad_b].any()
    # chip 2 saw only its own exposure
    assert not to_host(static.get(2))[bad_c].any()
    assert to_host(static.get(2))[bad_a | bad_b].all()


def test_add_copies_its_input(xp):
    static = StaticMask(xp)
    first = xp.ones((4, 4), dtype=bool)
    static.add("wfc1", first)
    first[0, 0] = False
    assert to_host(static.get("wfc1")).all()
    second = xp.ones((4, 4), dtype=bool)
    second[1, 1] = False
    static.add("wfc1", second)
    assert to_host(first)[1, 1]  # the first mask given is untouched
    assert np.count_nonzero(~to_host(static.get("wfc1"))) == 1


def test_add_refuses_another_shape(xp):
    static = StaticMask(xp)
    static.add(1, xp.ones((4, 4), dtype=bool))
    with pytest.raises(ValueError, match=r"chip 1 has shape \(4, 5\); earlier masks .* \(4, 4\)"):
        static.add(1, xp.ones((4, 5), dtype=bool))
    with pytest.raises(ValueError, match="must be 2-D"):
        static.add(2, xp.ones(4, dtype=bool))


def test_get_unknown_chip(xp):
    with pytest.raises(KeyError, match="no static mask was added for chip 7"):
        StaticMask(xp).get(7)


# --------------------------------------------------------------------------
# staticfile
# --------------------------------------------------------------------------


def _write(path, hdus):
    fits.HDUList(hdus).writeto(path)
    return path


def test_read_mask_extensions(tmp_path, xp):
    m1 = np.ones((6, 5), dtype=np.int16)
    m1[2, 3] = 0
    m2 = np.full((6, 5), 1.0, dtype=np.float32)
    m2[0, 0] = 0.0
    m2[1, 1] = np.nan  # not a number is not a good pixel
    m2[5, 4] = 7.0  # any non-zero is good
    path = _write(tmp_path / "static.fits", [
        fits.PrimaryHDU(),
        fits.ImageHDU(np.zeros((6, 5)), name="SCI"),  # ignored: MASK extensions exist
        fits.ImageHDU(m1, name="MASK", ver=1),
        fits.ImageHDU(m2, name="MASK", ver=2),
    ])
    masks = read_static_file(path, ["chip1", "chip2"], shapes={"chip1": (6, 5), "chip2": (6, 5)}, xp=xp)
    assert list(masks) == ["chip1", "chip2"]
    np.testing.assert_array_equal(to_host(masks["chip1"]), m1 != 0)
    want2 = np.ones((6, 5), dtype=bool)
    want2[0, 0] = want2[1, 1] = False
    np.testing.assert_array_equal(to_host(masks["chip2"]), want2)
    assert to_host(masks["chip2"]).dtype == bool


def test_read_plain_images_in_order(tmp_path, xp):
    primary = np.ones((3, 3), dtype=np.uint8)
    primary[0, 0] = 0
    ext = np.ones((3, 3), dtype=np.uint8)
    ext[2, 2] = 0
    path = _write(tmp_path / "plain.fits", [fits.PrimaryHDU(primary), fits.ImageHDU(ext)])
    masks = read_static_file(str(path), [2, 1], xp=xp)
    np.testing.assert_array_equal(to_host(masks[2]), primary != 0)
    np.testing.assert_array_equal(to_host(masks[1]), ext != 0)


def test_add_file_ands_with_computed_masks(tmp_path, xp):
    data, bad = defective_chip(seed=30, shape=(32, 40), cold=((3, 4),), column=None)
    static = StaticMask(xp)
    static.add(1, chip_static_mask(xp.asarray(data), xp=xp))
    user = np.ones((32, 40), dtype=np.int32)
    user[10:12, 20:30] = 0
    path = _write(tmp_path / "user.fits", [fits.PrimaryHDU(), fits.ImageHDU(user, name="MASK")])
    static.add_file(path)
    combined = to_host(static.get(1))
    assert not combined[bad].any()
    assert not combined[10:12, 20:30].any()
    np.testing.assert_array_equal(combined, to_host(chip_static_mask(xp.asarray(data), xp=xp)) & (user != 0))


def test_missing_file(tmp_path, xp):
    path = tmp_path / "nowhere.fits"
    with pytest.raises(InputError, match=r"staticfile '.*nowhere\.fits' does not exist\."):
        read_static_file(path, [1], xp=xp)


def test_not_fits(tmp_path, xp):
    path = tmp_path / "junk.fits"
    path.write_text("this is not FITS")
    with pytest.raises(InputError, match=r"staticfile '.*junk\.fits' is not a readable FITS file"):
        read_static_file(path, [1], xp=xp)


def test_shape_mismatch_names_file_and_chip(tmp_path, xp):
    path = _write(tmp_path / "small.fits", [
        fits.PrimaryHDU(), fits.ImageHDU(np.ones((4, 4)), name="MASK"), fits.ImageHDU(np.ones((5, 4)), name="MASK"),
    ])
    with pytest.raises(InputError, match=r"staticfile '.*small\.fits' .*mask of chip 2\) has shape \(5, 4\); "
                                         r"expected \(4, 4\)"):
        read_static_file(path, [1, 2], shapes={1: (4, 4), 2: (4, 4)}, xp=xp)
    static = StaticMask(xp)
    static.add(1, xp.ones((4, 4), dtype=bool))
    static.add(2, xp.ones((6, 6), dtype=bool))
    with pytest.raises(InputError, match=r"mask of chip 2\) has shape \(5, 4\); expected \(6, 6\)"):
        static.add_file(path)


def test_wrong_number_of_images(tmp_path, xp):
    path = _write(tmp_path / "one.fits", [fits.PrimaryHDU(), fits.ImageHDU(np.ones((4, 4)), name="MASK")])
    with pytest.raises(InputError, match=r"'.*one\.fits' holds 1 MASK extensions but the inputs have 2 chip"):
        read_static_file(path, [1, 2], xp=xp)
    empty = _write(tmp_path / "empty.fits", [fits.PrimaryHDU()])
    with pytest.raises(InputError, match=r"holds 0 2-D image HDUs"):
        read_static_file(empty, [1], xp=xp)


def test_add_file_before_any_chip(tmp_path):
    with pytest.raises(InputError, match="before any chip mask"):
        StaticMask().add_file(tmp_path / "x.fits")
