"""``gpudriz demo --mosaic N``: a synthetic mosaic association, run tiled, scored against its truth."""

import numpy as np
import pytest
from astropy.io import fits

from gpudriz.cli import main
from gpudriz.demo.mosaic_data import MOSAIC_LIST, make_mosaic
from gpudriz.demo.mosaic_demo import run_mosaic_demo
from gpudriz.pipeline.io.tile_products import read_tile_table


def test_make_mosaic_writes_overlapping_pairs_with_their_own_skies(tmp_path):
    make_mosaic(tmp_path, 8, seed=2)
    files = (tmp_path / MOSAIC_LIST).read_text().split()
    assert len(files) == 8
    crval, skies = [], []
    for name in files:
        with fits.open(tmp_path / name) as h:
            crval.append((h[1].header["CRVAL1"], h[1].header["CRVAL2"]))
            skies.append(float(np.median(h[1].data)))
    assert len(set(np.round(skies, 1))) == 8  # a different sky in each exposure
    # Four pointings: the two exposures of a pair are within a pixel, the pointings far apart but overlapping.
    assert len({(round(a, 4), round(b, 4)) for a, b in crval}) >= 4


@pytest.mark.parametrize("n", [0, 3, -2])
def test_an_odd_or_too_small_mosaic_is_refused(tmp_path, n):
    with pytest.raises(ValueError):
        make_mosaic(tmp_path, n)
    assert main(["demo", "--mosaic", str(n), str(tmp_path / "x")]) == 2


def test_the_mosaic_demo_writes_tiles_a_table_a_quicklook_and_good_science(tmp_path):
    r = run_mosaic_demo(tmp_path / "m", 8, backend="cpu", workers=0, tile_size=128)
    table = read_tile_table(r.tile_table)
    assert len(table) >= 2 and r.quicklook.is_file()
    f = r.figures
    assert f.cr_detected > 0.95 and f.false_flag_rate < 1e-3
    assert "gpudriz demo --mosaic 8" in r.summary()
