"""The README's main job: `gpudriz demo` on built-in synthetic data, and the CLI's basics."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from gpudriz.cli import main


def test_pipeline_demo_writes_products_and_checks_truth(tmp_path, capsys):
    assert main(["demo", str(tmp_path), "--chip", "128", "256", "--backend", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "MultiDrizzle pipeline" in out
    assert "cosmic rays above 5 sigma detected" in out
    with fits.open(tmp_path / "j8demo01_drz.fits") as hdul:
        assert [h.name for h in hdul[1:]] == ["SCI", "WHT", "CTX", "ERR", "INPUTS"]
    png = (tmp_path / "j8demo01_drz.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and b"IEND" in png[-12:]


def test_readme_demo_command_from_a_fresh_folder(tmp_path):
    """The README's main job exactly as written: ``gpudriz demo``, no argument, relative folder."""
    script = Path(sys.executable).with_name("gpudriz")
    if not script.exists():
        pytest.skip(f"the gpudriz console script is not installed next to {sys.executable}")
    env = {k: v for k, v in os.environ.items() if k != "GPUDRIZ_BACKEND"}
    proc = subprocess.run([str(script), "demo"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "residual objects above 5 sigma" in proc.stdout
    assert (tmp_path / "gpudriz_demo" / "j8demo01_drz.fits").exists()
    # One line, not one per chip and step, about the fast pixmap's fallback.
    assert proc.stderr.count("calc_pixmap:") <= 1, proc.stderr


def test_drizzle_only_demo_conserves_flux_and_recovers_stars(tmp_path, capsys):
    assert main(["demo", str(tmp_path), "--drizzle-only", "--size", "192", "--backend", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "flux conservation: out/in = 1.0000" in out
    with fits.open(tmp_path / "demo_drz.fits") as hdul:
        assert [h.name for h in hdul[1:]] == ["SCI", "WHT", "CTX"]
        assert hdul["SCI"].header["CTYPE1"] == "RA---TAN"
        assert np.isfinite(hdul["SCI"].data).all()
        assert hdul["CTX"].data.max() == 15  # four exposures overlap
    from gpudriz.demo.drizzle_demo import run_demo

    r = run_demo(tmp_path / "again", n_in=192, backend="cpu")
    assert r.photometry_ratio_median == pytest.approx(1.0, abs=0.02)
    assert r.centroid_offset_median < 0.05


def test_help_version_and_usage(capsys):
    assert main(["--help"]) == 0
    assert "gpudriz INPUT [name=value ...]" in capsys.readouterr().out
    assert main(["help"]) == 0
    out = capsys.readouterr().out
    assert "final_pixfrac" in out and "driz_cr_snr" in out
    assert main(["--version"]) == 0
    assert main(["--bogus"]) == 2


def test_bad_demo_arguments(tmp_path, capsys):
    assert main(["demo", str(tmp_path), "--chip", "10", "20"]) == 2
    assert "at least 64" in capsys.readouterr().err
    assert main(["demo", str(tmp_path), "--drizzle-only", "--size", "10"]) == 2
    assert "--size must be at least 64" in capsys.readouterr().err
    assert main(["demo", str(tmp_path), "--drizzle-only", "--size", "128", "--kernel", "nope"]) == 1
    assert "Kernel 'nope' is not supported" in capsys.readouterr().err
