"""The ``gpudriz`` command: help, version, usage errors and the README's demo command."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gpudriz.cli import main


def test_help_version_and_usage(capsys):
    assert main(["--help"]) == 0
    assert "gpudriz INPUT [name=value ...]" in capsys.readouterr().out
    assert main([]) == 0
    assert "gpudriz demo [DIR]" in capsys.readouterr().out
    assert main(["help"]) == 0
    out = capsys.readouterr().out
    assert "final_pixfrac" in out and "driz_cr_snr" in out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("gpudriz ")
    assert main(["--bogus"]) == 2
    assert "unknown option '--bogus'" in capsys.readouterr().err


def test_bad_demo_arguments(tmp_path, capsys):
    assert main(["demo", str(tmp_path), "--chip", "10", "20"]) == 2
    assert "at least 64" in capsys.readouterr().err
    assert main(["demo", str(tmp_path), "--drizzle-only", "--size", "10"]) == 2
    assert "--size must be at least 64" in capsys.readouterr().err
    assert main(["demo", str(tmp_path), "--drizzle-only", "--size", "128", "--kernel", "nope"]) == 1
    assert "Kernel 'nope' is not supported" in capsys.readouterr().err


def test_drizzle_only_demo_prints_its_summary(tmp_path, capsys):
    assert main(["demo", str(tmp_path), "--drizzle-only", "--size", "128", "--backend", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "flux conservation: out/in = 1.0000" in out and "stars: median measured/true flux" in out
    assert (tmp_path / "demo_drz.fits").exists()


def test_pipeline_errors_are_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "missing_flt.fits")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gpudriz: error: ") and err.count("\n") == 1
    assert main([str(tmp_path / "x_flt.fits"), "--config"]) == 2
    assert "--config needs a file name" in capsys.readouterr().err


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
