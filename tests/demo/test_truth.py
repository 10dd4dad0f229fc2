"""The truth of a synthetic association and its ``_truth.fits`` file."""

import numpy as np
import pytest

from gpudriz.demo.truth import read_truth


def test_truth_file_round_trips(assoc):
    folder, truth = assoc
    back = read_truth(folder / "j8demo01_truth.fits")
    for name in ("rootname", "exposures", "exptime", "chip_shape", "gain", "readnoise", "seed"):
        assert getattr(back, name) == getattr(truth, name)
    for name in ("pointing", "dither", "sky"):
        assert np.array_equal(getattr(back, name), getattr(truth, name))
    for name in ("stars", "galaxies", "cosmic_rays", "hot_pixels", "bad_columns"):
        a, b = getattr(truth, name), getattr(back, name)
        assert a.colnames == b.colnames and len(a) == len(b) > 0
        for col in a.colnames:
            assert np.array_equal(np.asarray(a[col]), np.asarray(b[col]))
    assert np.array_equal(back.cr_mask(2, 1), truth.cr_mask(2, 1))
    assert truth.stars["isolated"].any() and not truth.stars["isolated"].all()
    assert truth.stars["flux"].max() / truth.stars["flux"].min() > 20.0


def test_read_truth_rejects_other_files(assoc):
    folder, truth = assoc
    with pytest.raises(ValueError, match="not a truth file"):
        read_truth(folder / truth.exposures[0])


def test_cosmic_ray_images_hold_the_table_rows(assoc):
    _, truth = assoc
    for e in range(len(truth.exposures)):
        for c in (1, 2):
            rows = truth.cosmic_rays[(truth.cosmic_rays["exposure"] == e) & (truth.cosmic_rays["chip"] == c)]
            energy = truth.cr_energy(e, c)
            assert energy.shape == truth.chip_shape
            assert np.count_nonzero(energy) == len(rows) > 0
            assert energy.sum() == pytest.approx(float(np.sum(rows["energy"])))
            assert np.array_equal(truth.cr_mask(e, c), energy > 0)
    assert truth.asn_file == "j8demo01_asn.fits"


def test_read_truth_names_a_missing_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        read_truth(tmp_path / "nope_truth.fits")
