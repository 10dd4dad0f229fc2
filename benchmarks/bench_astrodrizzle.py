"""Benchmark: gpudriz's whole pipeline against AstroDrizzle on one synthetic association.

Writes a seeded ACS/WFC-like association with its truth (:mod:`gpudriz.demo.synthetic`:
2-point dither x CR-SPLIT=2, two SIP-distorted chips per exposure, stars,
galaxies, sky, noise, cosmic rays, hot pixels, bad columns), copies it into two
folders and runs, one after the other on this machine:

- gpudriz (``Multidrizzle(...).build()``, ``.run()``, CPU backend, default
  parameters) in this Python, after a warm-up run on a tiny association so that
  Numba's compilation (or its loading from the on-disk cache) is not timed;
- AstroDrizzle (drizzlepac) in its own Python environment, through a
  subprocess.

Two comparisons (``--configs``):

- ``defaults``: each pipeline at its own defaults, as a new user runs it
  (AstroDrizzle with only ``updatewcs=False``, :data:`ASTRODRIZZLE_DEFAULTS`);
- ``table2``: both at the MultiDrizzle manual's Table 2 values, AstroDrizzle's
  spelt in its own names (:data:`ASTRODRIZZLE_TABLE2`, every choice explained
  there) and gpudriz's given explicitly (:data:`GPUDRIZ_TABLE2`, where its
  defaults differ).

Each run is scored by the same code (:mod:`gpudriz.demo.science`) against the
injected truth: from the cosmic-ray masks, the fraction of cosmic-ray pixels
above 5 sigma found, the fraction of clean pixels (no injected defect)
flagged, the hot pixels that DQ leaves unflagged caught, star peaks flagged;
from the final ``_drz.fits`` (SCI in e-/s, WHT), the residual objects above
5 sigma in the background (and how many sit on injected cosmic rays),
aperture photometry of isolated stars (r = 0.2" against the truth on the same
pixels, r = 1" against the true total flux) and centroid offsets.  The tables
print side by side with the wall times and each step's time.

AstroDrizzle must not share this Python's packages; make its environment once::

    python3 -m venv /tmp/advenv && /tmp/advenv/bin/pip install drizzlepac

Run (full ACS/WFC chips by default; ``--chip`` for smaller ones)::

    python benchmarks/bench_astrodrizzle.py --python /tmp/advenv/bin/python [--chip 512 1024]
        [--seed 1] [--workdir DIR] [--keep] [--ad-in-memory]

``ASTRODRIZZLE_PYTHON`` may name the interpreter instead of ``--python``.
AstroDrizzle runs offline with ``updatewcs=False`` (no reference files are
read: the headers' SIP is the whole distortion model).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

#: AstroDrizzle at its own defaults: only what running offline requires.
#: Reference files are unavailable offline; the synthetic headers carry their
#: whole distortion model as SIP, which is what gpudriz reads too.
ASTRODRIZZLE_DEFAULTS = {"updatewcs": False}

#: The bit AstroDrizzle sets in DQ for a cosmic ray (its default crbit).
AD_CRBIT = 4096

#: AstroDrizzle's parameters for the Table 2 comparison: the MultiDrizzle
#: manual's Table 2 values in AstroDrizzle's names.  Where AstroDrizzle's own
#: default differs, the comment says so.
ASTRODRIZZLE_TABLE2 = {
    # Reference files are unavailable offline; the synthetic headers carry
    # their whole distortion model as SIP, which is what gpudriz reads too.
    "updatewcs": False,
    "build": True,  # gpudriz writes one multi-extension _drz (AstroDrizzle default: False)
    "clean": False,  # both keep their intermediates on disk
    "context": True,
    "num_cores": None,  # AstroDrizzle default: every core (2 here), as gpudriz's Numba threads
    "in_memory": False,  # AstroDrizzle default; --ad-in-memory sets True
    "crbit": 4096,
    "resetbits": "4096",
    "proc_unit": "native",  # the synthetic flt data are already electrons
    # Step 2, static mask.
    "static": True,
    "static_sig": 4.0,
    # Step 3, sky: MultiDrizzle's per-exposure minimum rule is 'localmin'.
    "skysub": True,
    "skymethod": "localmin",
    "skystat": "median",
    "skywidth": 0.1,
    "skylower": -50.0,  # Table 2 (AstroDrizzle default: None)
    "skyupper": 200.0,  # Table 2 (AstroDrizzle default: None)
    "skyclip": 5,
    "skylsigma": 4.0,
    "skyusigma": 4.0,
    "use_static": True,
    "sky_bits": "0",  # gpudriz's bits = 0: every flagged DQ pixel is bad
    # Step 4, separate drizzle: native scale, the camera's orientation
    # (gpudriz's driz_sep_scale / driz_sep_rot INDEF; driz_sep_wcs=False).
    "driz_separate": True,
    "driz_sep_kernel": "turbo",
    "driz_sep_wt_scl": "exptime",
    "driz_sep_pixfrac": 1.0,
    "driz_sep_fillval": None,
    "driz_sep_bits": "0",
    "driz_sep_wcs": False,
    # Step 5, median.
    "median": True,
    "median_newmasks": True,
    "combine_maskpt": 0.7,  # MultiDrizzle's value, gpudriz's (AstroDrizzle default: 0.3)
    "combine_type": "median",  # Table 2 (AstroDrizzle default: minmed)
    "combine_nsigma": "6 3",  # Table 2; unused by median (AstroDrizzle default: '4 3')
    "combine_nlow": 0,
    "combine_nhigh": 1,  # Table 2 (AstroDrizzle default: 0)
    "combine_lthresh": None,
    "combine_hthresh": None,
    "combine_grow": 1,  # unused by median
    # Step 6, blot.
    "blot": True,
    "blot_interp": "poly5",
    "blot_sinscl": 1.0,
    "blot_addsky": True,
    # Step 7, driz_cr.  AstroDrizzle's grow 1 is no growth, as gpudriz's.
    "driz_cr": True,
    "driz_cr_corr": False,
    "driz_cr_snr": "3.0 2.5",  # Table 2 (AstroDrizzle default: '3.5 3.0')
    "driz_cr_scale": "1.2 0.7",
    "driz_cr_grow": 1,
    "driz_cr_ctegrow": 0,
    # Step 8, final drizzle: north up at the ACS/WFC IDCSCALE, as gpudriz's
    # final_rot = 0 and final_scale INDEF (the first input's IDCSCALE).
    "driz_combine": True,
    "final_wht_type": "EXP",
    "final_kernel": "square",
    "final_wt_scl": "exptime",
    "final_pixfrac": 1.0,
    "final_fillval": None,
    "final_bits": "0",
    "final_units": "cps",  # e-/s, gpudriz's unit
    "final_wcs": True,  # needed for final_rot / final_scale to apply (default: False)
    "final_rot": 0.0,
    "final_scale": 0.05,
}

#: gpudriz's parameters for the Table 2 comparison: where its defaults differ
#: from Table 2 (docs/differences.md says why), Table 2's values.
GPUDRIZ_TABLE2 = {"combine_type": "median", "combine_nsigma": (6.0, 3.0), "driz_cr_snr": (3.0, 2.5)}

CONFIGS = ("defaults", "table2")

#: AstroDrizzle's step names (its trailer file's timing table) -> gpudriz's.
AD_STEPS = {
    "Initialization": "build",
    "Static Mask": "static",
    "Subtract Sky": "skysub",
    "Separate Drizzle": "driz_separate",
    "Create Median": "median",
    "Blot": "blot",
    "Driz_CR": "driz_cr",
    "Final Drizzle": "driz_combine",
}
STEP_ORDER = tuple(AD_STEPS.values())

# Runs in AstroDrizzle's Python: argv = folder, association, parameters (JSON),
# result file.  Import time is measured apart from the run.
_DRIVER = """
import json, os, sys, time
t0 = time.perf_counter()
import drizzlepac
from drizzlepac import astrodrizzle
t1 = time.perf_counter()
os.chdir(sys.argv[1])
astrodrizzle.AstroDrizzle(sys.argv[2], **json.loads(sys.argv[3]))
t2 = time.perf_counter()
import astropy, numpy
with open(sys.argv[4], "w") as f:
    json.dump({"import_s": t1 - t0, "run_s": t2 - t1, "drizzlepac": drizzlepac.__version__,
               "astropy": astropy.__version__, "numpy": numpy.__version__}, f)
"""

AD_TRAILER = "astrodrizzle.log"
_AD_STEP_RE = re.compile(r"^\[INFO\s*\]\s+(.+?)\s+([0-9.]+) sec\s*$")


def add_calacs_keywords(directory: Path):
    """Add to the ``_flt`` files the CALACS keywords AstroDrizzle reads and the synthetic lack.

    AstroDrizzle's input check (``stsci.tools.check_files``) sums NGOODPIX over
    the SCI extensions to drop exposures without good pixels; CALACS writes it,
    the synthetic data (made for gpudriz, which does not read it) do not.  Its
    value here is the number of pixels with DQ = 0.
    """
    for path in sorted(directory.glob("*_flt.fits")):
        with fits.open(path, mode="update") as hdul:
            for hdu in hdul:
                if hdu.header.get("EXTNAME") == "SCI" and "NGOODPIX" not in hdu.header:
                    dq = hdul["DQ", hdu.header["EXTVER"]].data
                    hdu.header["NGOODPIX"] = (int(np.count_nonzero(dq == 0)), "number of good pixels")


def chip_wcs(directory: Path, truth) -> dict:
    """``{(exposure file, extver): astropy WCS}`` of every chip, from the untouched inputs."""
    out = {}
    for name in truth.exposures:
        with fits.open(directory / name) as hdul:
            for hdu in hdul:
                if hdu.header.get("EXTNAME") == "SCI":
                    out[(name, hdu.header["EXTVER"])] = WCS(hdu.header, hdul)
    return out


def science(truth, crmasks: dict, drz: Path) -> dict:
    """The science figures of one run, by the same code for both pipelines.

    Parameters
    ----------
    truth : gpudriz.demo.synthetic.Truth
    crmasks : dict
        ``{(exposure file, extver): (bool CR mask, chip WCS)}``.
    drz : Path
        Final product: ``<root>_drz.fits`` (SCI, WHT, ...; SCI in e-/s), or,
        when that is absent (AstroDrizzle's default ``build=False``), its
        ``<root>_drz_sci.fits`` and ``<root>_drz_wht.fits``.
    """
    from gpudriz.demo.science import (
        cosmic_ray_figures,
        flag_figures,
        photometry_figures,
        residual_objects,
    )

    cr, ncr, flagged, npeaks = cosmic_ray_figures(truth, crmasks)
    image, weight, wcs, unit = read_product(drz)
    return {
        "cr_detected": cr, "cr_count": ncr,
        "cr_flagged_pixels": int(sum(m.sum() for m, _ in crmasks.values())),
        "peaks_flagged": flagged, "peak_count": npeaks,
        **flag_figures(truth, crmasks),
        **residual_objects(truth, image, weight, wcs, crmasks),
        **photometry_figures(truth, image, wcs),
        "frame": f"{image.shape[1]}x{image.shape[0]}", "bunit": unit,
    }  # fmt: skip


def read_product(drz: Path):
    """``(SCI, WHT, WCS, BUNIT)`` of a final product in either layout (see :func:`science`)."""
    if drz.exists():
        with fits.open(drz) as hdul:
            return (hdul["SCI"].data, hdul["WHT"].data, WCS(hdul["SCI"].header),
                    hdul["SCI"].header.get("BUNIT", "?"))  # fmt: skip
    stem = drz.name[: -len(".fits")]
    sci_path, wht_path = drz.with_name(f"{stem}_sci.fits"), drz.with_name(f"{stem}_wht.fits")
    if not (sci_path.exists() and wht_path.exists()):
        raise FileNotFoundError(f"no final product: neither {drz.name} nor {sci_path.name} and "
                                f"{wht_path.name} in {drz.parent}")  # fmt: skip
    with fits.open(sci_path) as hdul:
        hdu = next(h for h in hdul if h.data is not None)
        return hdu.data, fits.getdata(wht_path), WCS(hdu.header), hdu.header.get("BUNIT", "?")


def sky_error(truth, skies: dict) -> float:
    """Largest |measured - true| sky over the chips, e- per pixel; ``skies`` by (file, extver)."""
    return max(abs(s - truth.sky[truth.exposures.index(name)]) for (name, _), s in skies.items())


def warm_up(directory: Path):
    """Run gpudriz once on a tiny association so that Numba's compilation is not timed."""
    from gpudriz.demo.synthetic import make_association
    from gpudriz.pipeline.multidrizzle import Multidrizzle

    truth = make_association(directory, chip_shape=(64, 128), seed=1)
    t0 = time.perf_counter()
    md = Multidrizzle(input=truth.asn_file, workdir=directory, backend="cpu")
    md.build()
    md.run()
    return time.perf_counter() - t0


def run_gpudriz(directory: Path, truth, wcs: dict, pars=None) -> dict:
    """Time gpudriz's pipeline (CPU backend; defaults, or ``pars``) in ``directory``, score it."""
    from gpudriz.backend.arrays import to_host
    from gpudriz.pipeline.multidrizzle import Multidrizzle

    t0 = time.perf_counter()
    md = Multidrizzle(input=truth.asn_file, workdir=directory, backend="cpu", **(pars or {}))
    md.build()
    t1 = time.perf_counter()
    md.run()
    t2 = time.perf_counter()
    steps = {"build": t1 - t0, **md.timings}
    masks, skies = {}, {}
    for w in md.chips:
        key = (w.chip.path.name, w.chip.extver)
        skies[key] = float(w.sky)
        if w.crmask is not None:
            masks[key] = (np.asarray(to_host(w.crmask), dtype=bool), wcs[key])
    figures = science(truth, masks, md.products["drz"])
    return {"seconds": t2 - t0, "steps": steps, "sky_error": sky_error(truth, skies), **figures}


def run_astrodrizzle(directory: Path, truth, wcs: dict, python: str, pars: dict) -> dict:
    """Time AstroDrizzle in ``directory`` with interpreter ``python`` and measure its science.

    Its cosmic rays are read from the DQ arrays it updates in its copy of the
    ``_flt`` files (bit ``crbit`` = 4096); its ``*_crmask.fits`` files hold the
    same pixels (checked when present).
    """
    result_file = directory / "bench_result.json"
    log_file = directory / "astrodrizzle_stdout.txt"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    t0 = time.perf_counter()
    with open(log_file, "w") as log:
        proc = subprocess.run(
            [python, "-c", _DRIVER, str(directory), truth.asn_file, json.dumps(pars), str(result_file)],
            stdout=log, stderr=subprocess.STDOUT, env=env, check=False,
        )  # fmt: skip
    total = time.perf_counter() - t0
    if proc.returncode != 0 or not result_file.exists():
        tail = log_file.read_text(errors="replace").splitlines()[-15:]
        raise RuntimeError(
            f"AstroDrizzle failed (exit {proc.returncode}); the end of {log_file}:\n" + "\n".join(tail)
        )
    info = json.loads(result_file.read_text())
    masks, skies = {}, {}
    for name in truth.exposures:
        with fits.open(directory / name) as hdul:
            for hdu in hdul:
                if hdu.header.get("EXTNAME") != "SCI":
                    continue
                key = (name, hdu.header["EXTVER"])
                skies[key] = float(hdu.header["MDRIZSKY"])
                cr = (hdul["DQ", key[1]].data.astype(np.int64) & AD_CRBIT) != 0
                masks[key] = (cr, wcs[key])
                crmask_file = directory / f"{Path(name).stem.rsplit('_', 1)[0]}_sci{key[1]}_crmask.fits"
                if crmask_file.exists() and not np.array_equal(fits.getdata(crmask_file) == 0, cr):
                    raise RuntimeError(f"{crmask_file.name} and the DQ bit {AD_CRBIT} of {name} disagree.")
    drz = directory / f"{truth.rootname}_drz.fits"
    figures = science(truth, masks, drz)
    return {
        "seconds": info["run_s"], "subprocess_s": total, "import_s": info["import_s"],
        "steps": ad_step_times(directory / AD_TRAILER), "versions": info,
        "sky_error": sky_error(truth, skies), **figures,
    }  # fmt: skip


def ad_step_times(trailer: Path) -> dict:
    """Step times from AstroDrizzle's trailer file's timing table, in gpudriz's step names."""
    steps = {}
    if trailer.exists():
        for line in trailer.read_text(errors="replace").splitlines():
            m = _AD_STEP_RE.match(line)
            if m and m.group(1) in AD_STEPS:
                steps[AD_STEPS[m.group(1)]] = float(m.group(2))
    return steps


def _pct(x):
    return f"{100 * x:.2f}%" if np.isfinite(x) else "n/a"


def _count(x, total):
    return f"{x} of {total}"


def table(gd: dict, ad: dict) -> str:
    """The side-by-side Markdown table of wall times, science figures and step times."""
    def both(fmt, key):
        return fmt(gd[key]), fmt(ad[key])

    f4 = "{:.4f}".format
    rows = [
        ("wall time, s", *both("{:.1f}".format, "seconds")),
        ("cosmic-ray pixels > 5 sigma found", f"{_pct(gd['cr_detected'])} of {gd['cr_count']}",
         f"{_pct(ad['cr_detected'])} of {ad['cr_count']}"),
        ("clean pixels flagged (rate)", *both("{:.2e}".format, "false_flag_rate")),
        ("clean pixels flagged (count)", _count(gd["false_flags"], gd["clean_pixels"]),
         _count(ad["false_flags"], ad["clean_pixels"])),
        ("unflagged hot pixels caught", f"{_pct(gd['hot_caught'])} of {gd['hot_count']}",
         f"{_pct(ad['hot_caught'])} of {ad['hot_count']}"),
        ("star peaks flagged", f"{_pct(gd['peaks_flagged'])} of {gd['peak_count']}",
         f"{_pct(ad['peaks_flagged'])} of {ad['peak_count']}"),
        ("> 5 sigma residual objects in the final image (background)",
         *both(str, "residual_objects")),
        ("of which on injected cosmic rays", *both(str, "residual_on_cr")),
        ("of which on hot pixels", *both(str, "residual_on_hot")),
        ("isolated stars measured", *both(str, "stars")),
        ("flux r = 0.2\" / truth on the same pixels, median", *both(f4, "phot_small")),
        ("flux r = 0.2\", robust scatter", *both(f4, "phot_small_scatter")),
        ("flux r = 1\" / true total flux, median", *both(f4, "phot_total")),
        ("flux r = 1\", robust scatter", *both(f4, "phot_total_scatter")),
        ("centroid offset, median (px)", *both("{:.4f}".format, "centroid")),
        ("sky, max abs(measured - true) (e-)", *both("{:.3f}".format, "sky_error")),
        ("final frame (nx x ny), BUNIT", f"{gd['frame']}, {gd['bunit']}",
         f"{ad['frame']}, {ad['bunit']}"),
    ]  # fmt: skip
    for step in STEP_ORDER:
        a, b = gd["steps"].get(step), ad["steps"].get(step)
        rows.append((f"step {step}, s", "-" if a is None else f"{a:.2f}", "-" if b is None else f"{b:.2f}"))
    lines = ["| | gpudriz (cpu) | AstroDrizzle |", "|---|---:|---:|"]
    lines += [f"| {name} | {a} | {b} |" for name, a, b in rows]
    return "\n".join(lines)


def _astrodrizzle_python(arg) -> str:
    python = arg or os.environ.get("ASTRODRIZZLE_PYTHON")
    if not python:
        raise SystemExit(
            "--python is required: the interpreter of an environment with drizzlepac "
            "(python3 -m venv /tmp/advenv && /tmp/advenv/bin/pip install drizzlepac)."
        )
    if shutil.which(python) is None:
        raise SystemExit(f"--python {python!r} is not an executable Python interpreter.")
    return python


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chip", nargs=2, type=int, default=(2048, 4096), metavar=("NY", "NX"),
                    help="chip shape (default: ACS/WFC's 2048 4096)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the synthetic association")
    ap.add_argument("--python", help="AstroDrizzle's Python (default: $ASTRODRIZZLE_PYTHON)")
    ap.add_argument("--workdir", type=Path, help="folder for the runs (default: a new temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the files (always kept with --workdir)")
    ap.add_argument("--ad-in-memory", action="store_true", help="AstroDrizzle with in_memory=True")
    ap.add_argument("--configs", default=",".join(CONFIGS),
                    help="comma-separated comparisons to run: defaults, table2 (default: both)")
    args = ap.parse_args(argv)  # fmt: skip
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = sorted(set(configs) - set(CONFIGS))
    if unknown or not configs:
        raise SystemExit(f"--configs takes {', '.join(CONFIGS)}; got {args.configs!r}.")
    python = _astrodrizzle_python(args.python)
    ny, nx = args.chip
    if ny < 64 or nx < 128:
        raise SystemExit(f"--chip {ny} {nx} is too small: at least 64 128 (NY NX).")
    in_memory = {"in_memory": True} if args.ad_in_memory else {}

    import numba

    import gpudriz
    from gpudriz.demo.synthetic import make_association

    root = args.workdir or Path(tempfile.mkdtemp(prefix="bench_astrodrizzle_"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        truth = make_association(root / "inputs", chip_shape=(ny, nx), seed=args.seed)
        made = time.perf_counter() - t0
        wcs = chip_wcs(root / "inputs", truth)
        print(f"association: 4 exposures x 2 chips of {nx}x{ny} (seed {args.seed}), made in {made:.1f} s; "
              f"{len(truth.stars)} stars, {len(truth.cosmic_rays)} cosmic-ray pixels")  # fmt: skip
        print(f"machine: {platform.machine()}, os.cpu_count()={os.cpu_count()}, Python "
              f"{platform.python_version()}; gpudriz {gpudriz.__version__} on {numba.get_num_threads()} "
              f"Numba thread(s)")  # fmt: skip
        warm = warm_up(root / "warmup")
        print(f"gpudriz warm-up on 64x128 chips (Numba compilation or cache load): {warm:.1f} s")
        for config in configs:
            gd_dir, ad_dir = root / f"gpudriz_{config}", root / f"astrodrizzle_{config}"
            for d in (gd_dir, ad_dir):
                shutil.rmtree(d, ignore_errors=True)
                shutil.copytree(root / "inputs", d)
            add_calacs_keywords(ad_dir)
            gd_pars = GPUDRIZ_TABLE2 if config == "table2" else {}
            ad_pars = dict(ASTRODRIZZLE_TABLE2 if config == "table2" else ASTRODRIZZLE_DEFAULTS,
                           **in_memory)  # fmt: skip
            gd = run_gpudriz(gd_dir, truth, wcs, gd_pars)
            ad = run_astrodrizzle(ad_dir, truth, wcs, python, ad_pars)
            v = ad["versions"]
            print(f"\n## {config}: gpudriz {gd_pars or 'defaults'}; AstroDrizzle {ad_pars}\n")
            print(f"gpudriz: {gd['seconds']:.1f} s; AstroDrizzle: {ad['seconds']:.1f} s (drizzlepac "
                  f"{v['drizzlepac']}, astropy {v['astropy']}, numpy {v['numpy']}; subprocess "
                  f"{ad['subprocess_s']:.1f} s with {ad['import_s']:.1f} s of imports)\n")  # fmt: skip
            print(table(gd, ad))
            print(f"\nAstroDrizzle / gpudriz wall time: {ad['seconds'] / gd['seconds']:.2f}x")
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"files kept in {root}")


if __name__ == "__main__":
    main()
