"""The checks of a set of exposures made before any step runs."""

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from gpudriz.pipeline.io.checks import (
    check_chip_shapes,
    check_ivms,
    check_rootnames,
    check_wcs,
    empty_chips,
)
from gpudriz.pipeline.io.fits import InputError


@dataclass(eq=False)
class FakeChip:
    path: Path
    extver: int
    shape: tuple = (4, 5)
    header: fits.Header = field(default_factory=fits.Header)
    wcs: WCS = None
    sci: np.ndarray = None

    @property
    def name(self):
        return f"{self.path.name}[SCI,{self.extver}]"

    def read_sci(self):
        return self.sci


@dataclass(eq=False)
class FakeExposure:
    path: Path
    rootname: str
    chips: list


def _exposure(name, root=None, **chip_kw):
    path = Path(f"/data/{name}")
    return FakeExposure(path, root or name.split("_")[0], [FakeChip(path, 1, **chip_kw)])


def test_rootnames_must_differ():
    check_rootnames([_exposure("a_flt.fits"), _exposure("b_flt.fits")])
    with pytest.raises(InputError, match=r"'/data/a_flt\.fits' and '/data/a_flc\.fits' have the same rootname 'a'"):
        check_rootnames([_exposure("a_flt.fits"), _exposure("a_flc.fits")])


def test_chips_of_one_number_share_a_shape():
    check_chip_shapes([_exposure("a_flt.fits"), _exposure("b_flt.fits")])
    with pytest.raises(InputError, match=r"SCI,1 has shape \(4, 6\) but '/data/a_flt\.fits' SCI,1 has \(4, 5\)"):
        check_chip_shapes([_exposure("a_flt.fits"), _exposure("b_flt.fits", shape=(4, 6))])


@pytest.mark.parametrize("cd, ok", [
    ({"CD1_1": -1e-5, "CD2_2": 1e-5}, True),
    ({"CD1_1": -1e-5, "CD1_2": 0.0}, False),  # the second row is missing: singular as written
    ({"CD1_1": -1e-5, "CD2_2": "x"}, False),  # not a number
])  # fmt: skip
def test_cd_matrix_must_be_invertible(cd, ok):
    exposures = [_exposure("a_flt.fits", header=fits.Header(cd))]
    if ok:
        check_wcs(exposures)
    else:
        with pytest.raises(InputError, match="singular or non-finite CD matrix"):
            check_wcs(exposures)


def test_without_cd_cards_the_wcs_matrix_is_used():
    w = WCS(naxis=2)
    w.wcs.cdelt = [-1e-5, 1e-5]
    check_wcs([_exposure("a_flt.fits", wcs=w)])


def test_ivm_needs_an_image_of_the_chip_shape(tmp_path):
    good = tmp_path / "good_ivm.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((4, 5), np.float32), name="IVM", ver=1)]).writeto(good)
    bad = tmp_path / "bad_ivm.fits"
    fits.PrimaryHDU(np.ones((3, 5), np.float32)).writeto(bad)
    exposures = [_exposure("a_flt.fits"), _exposure("b_flt.fits")]
    check_ivms(exposures, [good, None])
    with pytest.raises(InputError, match=r"bad_ivm\.fits' has no \(4, 5\) image for chip 1 .*found shape \(3, 5\)"):
        check_ivms(exposures, [good, bad])


def test_empty_chips_are_found_and_logged(caplog):
    full = _exposure("a_flt.fits", sci=np.ones((4, 5), np.float32))
    zeros = _exposure("b_flt.fits", sci=np.zeros((4, 5), np.float32))
    nans = _exposure("c_flt.fits", sci=np.full((4, 5), np.nan, np.float32))
    with caplog.at_level(logging.WARNING, logger="gpudriz"):
        empty = empty_chips([full, zeros, nans])
    assert empty == {(zeros.path, 1), (nans.path, 1)}
    assert "every pixel is 0" in caplog.text and "every chip is all NaN" in caplog.text
