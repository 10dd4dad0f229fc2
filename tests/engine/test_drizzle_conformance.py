"""The conformance script's mapping conftest, run on a small suite written here (no network).

``benchmarks/drizzle_conformance.py`` runs drizzle's own tests against gpudriz
through the conftest it writes; the download needs the package index, so CI
checks only what the script adds: the name mapping, the skips for cdrizzle's
C entry points and for data drizzle does not ship, and the counting.
"""

import importlib.util
import subprocess
import sys
import textwrap

import pytest
from helpers.paths import BENCHMARKS_DIR

SCRIPT = BENCHMARKS_DIR / "drizzle_conformance.py"

HELPERS = '''
import os

def wcs_from_file(filename, ext=None):
    with open(filename) as f:
        return f.read().strip()
'''

FAKE_TESTS = '''
import numpy as np
import pytest

import gpudriz
from drizzle import cdrizzle, resample, utils
from drizzle.utils import _estimate_pixel_scale, estimate_pixel_scale_ratio

from .helpers import wcs_from_file


def test_public_names_are_gpudrizs():
    assert resample.Drizzle is gpudriz.Drizzle
    assert resample.blot_image is gpudriz.blot_image
    assert utils.calc_pixmap is gpudriz.calc_pixmap
    assert utils.decode_context is gpudriz.decode_context
    assert callable(_estimate_pixel_scale) and callable(estimate_pixel_scale_ratio)


def test_drizzle_through_the_mapping():
    y, x = np.indices((6, 7), dtype=np.float64)
    d = resample.Drizzle(out_shape=(6, 7))
    d.add_image(np.ones((6, 7), np.float32), exptime=1.0, pixmap=np.dstack([x, y]))
    assert d.out_wht.sum() > 0


def test_calls_cdrizzle():
    cdrizzle.tdriz(None)
    raise AssertionError("not reached: the call skips")


def test_data_found_in_data_dir():
    assert wcs_from_file("present.hdr") == "found"


def test_data_missing():
    wcs_from_file("absent.fits")


def test_fails():
    assert False
'''


def _load_script():
    spec = importlib.util.spec_from_file_location("drizzle_conformance", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_conftest_maps_drizzle_onto_gpudriz_and_skips_what_it_cannot(tmp_path):
    conf = _load_script()
    tests = tmp_path / "drizzle" / "tests"
    tests.mkdir(parents=True)
    (tmp_path / "drizzle" / "__init__.py").touch()
    (tests / "__init__.py").touch()
    (tests / "helpers.py").write_text(textwrap.dedent(HELPERS))
    (tests / "test_fake.py").write_text(textwrap.dedent(FAKE_TESTS))
    data = tmp_path / "data"
    data.mkdir()
    (data / "present.hdr").write_text("found")
    conf.write_harness(tmp_path)

    report = conf.run_pytest(tmp_path, [data])
    counts, failed, reasons = conf.summarise(report)

    assert counts == {"passed": 3, "skipped": 2, "failed": 1}
    assert failed == ["drizzle.tests.test_fake::test_fails"]
    assert reasons == {
        "calls cdrizzle.tdriz directly (a C entry point, not the drop-in API)": 1,
        "needs a data file drizzle does not ship": 1,
    }


def test_extract_tests_takes_only_drizzles_tests(tmp_path):
    import zipfile

    conf = _load_script()
    wheel = tmp_path / "drizzle-0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("drizzle/resample.py", "raise ImportError")
        zf.writestr("drizzle/tests/test_a.py", "")
        zf.writestr("drizzle/tests/data/x.fits", "")
    dest = tmp_path / "out"
    assert conf.extract_tests(wheel, dest) == 2
    assert not (dest / "drizzle" / "resample.py").exists()
    assert (dest / "drizzle" / "tests" / "test_a.py").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths in the harness test")
def test_script_help_runs():
    out = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--data-dir" in out.stdout
