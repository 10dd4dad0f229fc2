"""Conformance: run drizzle's own test suite against gpudriz.

gpudriz claims that a user of STScI's ``drizzle`` 3.x switches by changing an
import.  This script checks the claim with tests nobody here wrote: it
downloads drizzle's wheel from the package index (``pip download``), extracts
the test modules it ships into a temporary folder, writes a ``conftest.py``
that maps ``drizzle.resample`` and ``drizzle.utils`` onto gpudriz's names, runs
them with pytest in a subprocess (CPU backend) and prints the counts.

What the mapping cannot provide is skipped, with the reason, never counted as
passed:

- tests that call cdrizzle's C entry points directly (``cdrizzle.tdriz``,
  ``clip_polygon``, ...): they are not part of the drop-in API;
- tests that need a data file drizzle does not ship in its wheel (its
  reference images and the ``j8bt06nyq_flt.fits`` header live in its source
  repository only).  ``--data-dir DIR`` (repeatable) names folders holding
  such files, e.g. ``drizzle/tests/data`` of a drizzle checkout; by default
  the project's shared WCS headers beside the checkout are used.

drizzle's test helpers import ``gwcs``: ``pip install ".[conformance]"`` first.

Run: ``python benchmarks/drizzle_conformance.py [--version 3.0.0] [--data-dir DIR]
[--keep DIR] [-- PYTEST_ARGS...]``.  The network is needed for ``pip download`` only.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

#: Folders searched for drizzle's test data by default: the project's shared
#: WCS headers (``j8bt06nyq_sip_flt.fits``, the ``nrcb5_*`` NIRCam headers).
DEFAULT_DATA_DIRS = (Path(__file__).resolve().parents[2] / "shared" / "data" / "wcs",)

#: The conftest written beside drizzle's tests.  It is the whole mapping, so
#: it is kept as one text that ``tests/engine/test_drizzle_conformance.py`` runs on a
#: small suite of its own.
CONFTEST = '''\
"""Map drizzle's public modules onto gpudriz (written by benchmarks/drizzle_conformance.py)."""

import functools
import os
import sys
import types
from pathlib import Path

import pytest

import gpudriz
import gpudriz.pixmap

HERE = Path(__file__).resolve().parent
PACKAGE = HERE / "drizzle"
DATA_DIRS = [Path(p) for p in os.environ.get("DRIZZLE_CONFORMANCE_DATA", "").split(os.pathsep) if p]


class _CdrizzleEntries(types.ModuleType):
    """drizzle.cdrizzle: every C entry point skips the test that calls it."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)

        def entry(*args, **kwargs):
            pytest.skip(f"calls cdrizzle.{name} directly (a C entry point, not the drop-in API)")

        entry.__name__ = name
        return entry


def _module(name, **attrs):
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module
    return module


# The package itself is the extracted folder (so drizzle.tests imports from
# it); its public modules are gpudriz's names.
drizzle = _module("drizzle", __path__=[str(PACKAGE)], __version__="gpudriz " + gpudriz.__version__)
drizzle.resample = _module(
    "drizzle.resample", Drizzle=gpudriz.Drizzle, blot_image=gpudriz.blot_image
)
drizzle.utils = _module(
    "drizzle.utils",
    calc_pixmap=gpudriz.calc_pixmap,
    decode_context=gpudriz.decode_context,
    estimate_pixel_scale_ratio=gpudriz.pixmap.estimate_pixel_scale_ratio,
    _estimate_pixel_scale=gpudriz.pixmap.pixel_scale,
)
drizzle.cdrizzle = sys.modules["drizzle.cdrizzle"] = _CdrizzleEntries("drizzle.cdrizzle")


def _with_missing_data_skipped(read):
    """Wrap drizzle's ``wcs_from_file`` helper: find data in DATA_DIRS, else skip."""

    @functools.wraps(read)
    def wrapper(filename, *args, **kwargs):
        name = Path(filename).name
        for folder in [PACKAGE / "tests" / "data", *DATA_DIRS]:
            if (folder / name).is_file():
                return read(str(folder / name), *args, **kwargs)
        pytest.skip(f"needs {name}, which drizzle does not ship in its wheel (see --data-dir)")

    return wrapper


try:
    from drizzle.tests import helpers as _helpers
except ImportError as exc:  # e.g. gwcs missing: say so once, plainly
    raise pytest.UsageError(f"drizzle's test helpers cannot be imported: {exc}") from exc
else:
    _helpers.wcs_from_file = _with_missing_data_skipped(_helpers.wcs_from_file)
'''

PYTEST_INI = "[pytest]\naddopts = -p no:cacheprovider\n"


def download_wheel(version: str, dest: Path) -> Path:
    """Download drizzle's wheel for this platform with pip; return its path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
           "--quiet", f"drizzle=={version}", "-d", str(dest)]  # fmt: skip
    subprocess.run(cmd, check=True)
    wheels = sorted(dest.glob(f"drizzle-{version}-*.whl"))
    if not wheels:
        raise SystemExit(f"pip download left no drizzle {version} wheel in {dest}.")
    return wheels[0]


def extract_tests(wheel: Path, dest: Path) -> int:
    """Extract ``drizzle/tests/`` from the wheel into ``dest/drizzle/tests``; return the file count."""
    n = 0
    with zipfile.ZipFile(wheel) as zf:
        for member in zf.namelist():
            if member.startswith("drizzle/tests/") and not member.endswith("/"):
                zf.extract(member, dest)
                n += 1
    if n == 0:
        raise SystemExit(f"{wheel.name} ships no tests.")
    (dest / "drizzle" / "__init__.py").touch()  # the package is the conftest's module
    return n


def write_harness(dest: Path) -> None:
    """Write the mapping conftest and an isolating pytest.ini into ``dest``."""
    (dest / "conftest.py").write_text(CONFTEST)
    (dest / "pytest.ini").write_text(PYTEST_INI)


def run_pytest(dest: Path, data_dirs, pytest_args=()) -> Path:
    """Run pytest on the extracted tests in a subprocess (CPU backend); return the JUnit XML."""
    report = dest / "report.xml"
    env = dict(os.environ)
    env["GPUDRIZ_BACKEND"] = env.get("GPUDRIZ_BACKEND", "cpu")
    env["DRIZZLE_CONFORMANCE_DATA"] = os.pathsep.join(str(d) for d in data_dirs)
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", f"--junitxml={report}",
           "--rootdir", str(dest), "drizzle/tests", *pytest_args]  # fmt: skip
    subprocess.run(cmd, cwd=dest, env=env, check=False)
    return report


def summarise(report: Path):
    """Counts, failed test ids and skip reasons (grouped) from a JUnit XML report."""
    counts = collections.Counter()
    failed, reasons = [], collections.Counter()
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
                failed.append(name)
            elif child.tag == "skipped":
                outcome = "skipped"
                msg = child.get("message", "")
                reasons["needs a data file drizzle does not ship" if "needs " in msg else msg] += 1
        counts[outcome] += 1
    return counts, failed, reasons


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--version", default="3.0.0", help="drizzle version (default 3.0.0)")
    ap.add_argument("--data-dir", action="append", type=Path, default=None,
                    help="folder with drizzle's test data files (repeatable)")  # fmt: skip
    ap.add_argument("--keep", type=Path, default=None,
                    help="work in this folder and keep it (default: a temporary one)")  # fmt: skip
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = ap.parse_args(argv)
    data_dirs = args.data_dir if args.data_dir else [d for d in DEFAULT_DATA_DIRS if d.is_dir()]

    tmp = None
    if args.keep is None:
        tmp = tempfile.TemporaryDirectory(prefix="drizzle_conformance_")
        dest = Path(tmp.name)
    else:
        dest = args.keep
        shutil.rmtree(dest / "drizzle", ignore_errors=True)
        dest.mkdir(parents=True, exist_ok=True)
    try:
        wheel = download_wheel(args.version, dest / "wheel")
        nfiles = extract_tests(wheel, dest)
        write_harness(dest)
        print(f"drizzle {args.version}: {nfiles} test files from {wheel.name}; data from "
              f"{', '.join(map(str, data_dirs)) or 'nowhere'}")  # fmt: skip
        report = run_pytest(dest, data_dirs, args.pytest_args)
        if not report.exists():
            # pytest stopped before running anything (its message is printed above).
            print("drizzle's tests did not run: see pytest's message above (drizzle's test "
                  "helpers need gwcs: pip install \".[conformance]\").", file=sys.stderr)
            return 2
        counts, failed, reasons = summarise(report)
    finally:
        if tmp is not None:
            tmp.cleanup()
    total = sum(counts.values())
    print(f"\ndrizzle {args.version}'s tests on gpudriz: {counts['passed']} passed, "
          f"{counts['failed']} failed, {counts['skipped']} skipped, of {total}")  # fmt: skip
    for reason, n in reasons.most_common():
        print(f"  skipped {n:3d}: {reason}")
    for name in failed:
        print(f"  FAILED {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
