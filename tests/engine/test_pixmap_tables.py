"""Lookup-table distortions as the fast pixmap applies them (:mod:`gpudriz.pixmap_tables`);
calc_pixmap through them is tested in ``test_pixmap.py``."""

import numpy as np
import pytest
from astropy.wcs import WCS, DistortionLookupTable
from gpudriz.fallback.pixmap import table_offset

from gpudriz.pixmap_tables import (
    TABLE_NAMES,
    lookup_tables,
    pack_tables,
    without_tables,
)


def test_table_offset_is_astropys():
    """The kernels' lookup (packed tables, 1-D and 2-D, clamped outside) equals astropy's."""
    rng = np.random.default_rng(5)
    w = WCS(naxis=2)
    w.det2im1 = DistortionLookupTable(rng.normal(size=(1, 40)).astype(np.float32),
                                      (1.0, 1.0), (0.0, 0.0), (1.0, 1.0))  # fmt: skip
    w.cpdis1 = DistortionLookupTable(rng.normal(size=(9, 12)).astype(np.float32),
                                     (5.0, 4.0), (100.0, 75.0), (16.0, 8.0))  # fmt: skip
    w.cpdis2 = DistortionLookupTable(rng.normal(size=(7, 5)).astype(np.float32),
                                     (2.5, 3.0), (30.0, 20.0), (20.0, 12.0))  # fmt: skip
    tables, tparams = pack_tables(w)
    pts = rng.uniform(-30.0, 250.0, size=(300, 2))
    for k, name in enumerate(TABLE_NAMES):
        lut = getattr(w, name)
        for x, y in pts:
            ours = table_offset(tables, tparams, k, x, y)
            want = 0.0 if lut is None else lut.get_offset(float(x), float(y))
            assert ours == pytest.approx(want, abs=1e-12), (name, x, y)


def test_lookup_tables_found_and_removed():
    w = WCS(naxis=2)
    assert lookup_tables(w) == [] and lookup_tables(object()) == []
    w.cpdis2 = DistortionLookupTable(np.zeros((3, 4), np.float32), (1.0, 1.0), (0.0, 0.0),
                                     (1.0, 1.0))  # fmt: skip
    assert lookup_tables(w) == ["cpdis2"]
    smooth = without_tables(w)
    assert lookup_tables(smooth) == [] and lookup_tables(w) == ["cpdis2"]  # a copy
    tables, tparams = pack_tables(w)
    assert tables.size == 12 and tparams.shape[0] == len(TABLE_NAMES)
    assert tparams[3, 1:3].tolist() == [4.0, 3.0] and not tparams[:3].any()
