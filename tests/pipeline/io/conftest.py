"""Fixtures of the input tests."""

import pytest
from helpers.exposure_files import make_two_chip


@pytest.fixture
def wfc(tmp_path):
    """A two-chip ACS/WFC exposure with ERR and DQ extensions."""
    return make_two_chip(tmp_path / "j8aa01abq_flt.fits")
