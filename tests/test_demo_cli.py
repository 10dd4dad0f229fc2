"""The README's main job: `gpudriz demo` on built-in synthetic data."""

import numpy as np
import pytest
from astropy.io import fits

from gpudriz.cli import main


def test_demo_conserves_flux_and_recovers_stars(tmp_path, capsys):
    assert main(["demo", str(tmp_path), "--size", "192", "--backend", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "flux conservation: out/in = 1.0000" in out
    with fits.open(tmp_path / "demo_drz.fits") as hdul:
        assert [h.name for h in hdul[1:]] == ["SCI", "WHT", "CTX"]
        sci = hdul["SCI"].data
        assert hdul["SCI"].header["CTYPE1"] == "RA---TAN"
        assert np.isfinite(sci).all()
        assert hdul["CTX"].data.max() == 15  # four exposures overlap
    from gpudriz.demo import run_demo

    r = run_demo(tmp_path / "again", n_in=192, backend="cpu")
    assert r.photometry_ratio_median == pytest.approx(1.0, abs=0.02)
    assert r.centroid_offset_median < 0.05


def test_pipeline_command_is_reported_missing(capsys):
    assert main(["j8cw030x0_asn.fits", "final_pixfrac=0.8"]) == 2
    assert "not part of this release" in capsys.readouterr().err


def test_bad_demo_arguments(tmp_path, capsys):
    assert main(["demo", str(tmp_path), "--size", "10"]) == 2
    assert "--size must be at least 64" in capsys.readouterr().err
    assert main(["demo", str(tmp_path), "--size", "128", "--kernel", "nope"]) == 1
    assert "Kernel 'nope' is not supported" in capsys.readouterr().err
