"""Fixtures of the demo tests: the default synthetic association, made once for all of them."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from gpudriz.demo.synthetic import CHIPS, make_association, pixel_area_map


@pytest.fixture(scope="session")
def assoc(tmp_path_factory):
    """The default association, made once: (folder, truth)."""
    folder = tmp_path_factory.mktemp("assoc")
    return folder, make_association(folder)


@pytest.fixture(scope="session")
def exposures(assoc):
    """Per exposure and chip: sci, err, dq, WCS and pixel-area map."""
    folder, truth = assoc
    out = {}
    for e, name in enumerate(truth.exposures):
        with fits.open(folder / name) as hdul:
            for c in CHIPS:
                w = WCS(hdul["SCI", c].header)
                out[e, c] = {
                    "sci": hdul["SCI", c].data.astype(np.float64),
                    "err": hdul["ERR", c].data.astype(np.float64),
                    "dq": hdul["DQ", c].data.astype(np.int64),
                    "wcs": w,
                    "area": pixel_area_map(w, truth.chip_shape),
                }
    return out
