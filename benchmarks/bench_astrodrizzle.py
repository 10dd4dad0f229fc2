"""Benchmark: gpudriz's whole pipeline against AstroDrizzle on one synthetic association.

Writes a seeded ACS/WFC-like association with its truth (:mod:`gpudriz.synthetic`:
2-point dither x CR-SPLIT=2, two SIP-distorted chips per exposure, stars,
galaxies, sky, noise, cosmic rays, hot pixels, bad columns), copies it into two
folders and runs, one after the other on this machine:

- gpudriz (``Multidrizzle(...).build()``, ``.run()``, CPU backend, default
  parameters) in this Python, after a warm-up run on a tiny association so that
  Numba's compilation (or its loading from the on-disk cache) is not timed;
- AstroDrizzle (drizzlepac) in its own Python environment, through a
  subprocess, with the parameters of :data:`ASTRODRIZZLE_PARAMETERS`: gpudriz's
  defaults spelt in AstroDrizzle's names (every choice is explained there).

It then measures the same science figures on both runs with the same code
(:mod:`gpudriz.science`): cosmic-ray completeness and false flags on star peaks
from each run's cosmic-ray masks, aperture photometry and centroid offsets of
isolated stars on each final ``_drz.fits`` (SCI extension, e-/s), and prints
them side by side with the wall times, the time ratio and each step's time.

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

#: AstroDrizzle's parameters for the comparison: gpudriz's defaults (Table 2 of
#: the MultiDrizzle manual, see gpudriz.parameters) in AstroDrizzle's names.
#: Where AstroDrizzle's own default differs, the comment says so.
ASTRODRIZZLE_PARAMETERS = {
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
    # Step 5, median.  gpudriz applies nlow/nhigh to minmax only, so its
    # median rejects nothing; AstroDrizzle's would drop nhigh values.
    "median": True,
    "median_newmasks": True,
    "combine_maskpt": 0.7,  # MultiDrizzle's value, gpudriz's (AstroDrizzle default: 0.3)
    "combine_type": "median",  # Table 2 (AstroDrizzle default: minmed)
    "combine_nsigma": "6 3",  # Table 2; unused by median (AstroDrizzle default: '4 3')
    "combine_nlow": 0,
    "combine_nhigh": 0,
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
    truth : gpudriz.synthetic.Truth
    crmasks : dict
        ``{(exposure file, extver): (bool CR mask, chip WCS)}``.
    drz : Path
        Final multi-extension product; its SCI extension is in e-/s.
    """
    from gpudriz.science import cosmic_ray_figures, star_figures

    cr, ncr, flagged, npeaks = cosmic_ray_figures(truth, crmasks)
    # Flags where no cosmic ray was injected: false detections, or hot pixels
    # the DQ array leaves unflagged (30% of them), which are right to flag.
    spurious = at_hot = 0
    hot = truth.hot_pixels[~np.asarray(truth.hot_pixels["flagged"], dtype=bool)]
    for (name, extver), (mask, _) in crmasks.items():
        extra = mask & ~truth.cr_mask(truth.exposures.index(name), extver)
        spurious += int(np.count_nonzero(extra))
        mine = hot[np.asarray(hot["chip"]) == extver]
        at_hot += int(np.count_nonzero(extra[np.asarray(mine["y"]), np.asarray(mine["x"])]))
    with fits.open(drz) as hdul:
        image = hdul["SCI"].data
        wcs = WCS(hdul["SCI"].header)
        unit = hdul["SCI"].header.get("BUNIT", "?")
    ratio, scatter, offset, nstars = star_figures(truth, image, wcs)
    return {
        "cr_detected": cr, "cr_count": ncr, "cr_flagged_pixels": int(sum(m.sum() for m, _ in crmasks.values())),
        "cr_spurious": spurious, "cr_at_hot": at_hot,
        "peaks_flagged": flagged, "peak_count": npeaks,
        "phot_ratio": ratio, "phot_scatter": scatter, "centroid": offset, "stars": nstars,
        "frame": f"{image.shape[1]}x{image.shape[0]}", "bunit": unit,
    }  # fmt: skip


def sky_error(truth, skies: dict) -> float:
    """Largest |measured - true| sky over the chips, e- per pixel; ``skies`` by (file, extver)."""
    return max(abs(s - truth.sky[truth.exposures.index(name)]) for (name, _), s in skies.items())


def warm_up(directory: Path):
    """Run gpudriz once on a tiny association so that Numba's compilation is not timed."""
    from gpudriz.multidrizzle import Multidrizzle
    from gpudriz.synthetic import make_association

    truth = make_association(directory, chip_shape=(64, 128), seed=1)
    t0 = time.perf_counter()
    md = Multidrizzle(input=truth.asn_file, workdir=directory, backend="cpu")
    md.build()
    md.run()
    return time.perf_counter() - t0


def run_gpudriz(directory: Path, truth, wcs: dict) -> dict:
    """Time gpudriz's pipeline (CPU backend, defaults) in ``directory`` and measure its science."""
    from gpudriz._arrays import to_host
    from gpudriz.multidrizzle import Multidrizzle

    t0 = time.perf_counter()
    md = Multidrizzle(input=truth.asn_file, workdir=directory, backend="cpu")
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
                cr = (hdul["DQ", key[1]].data.astype(np.int64) & int(pars["crbit"])) != 0
                masks[key] = (cr, wcs[key])
                crmask_file = directory / f"{Path(name).stem.rsplit('_', 1)[0]}_sci{key[1]}_crmask.fits"
                if crmask_file.exists() and not np.array_equal(fits.getdata(crmask_file) == 0, cr):
                    raise RuntimeError(f"{crmask_file.name} and the DQ bit {pars['crbit']} of {name} disagree.")
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


def table(gd: dict, ad: dict) -> str:
    """The side-by-side Markdown table of wall times, science figures and step times."""
    rows = [
        ("wall time, s", f"{gd['seconds']:.1f}", f"{ad['seconds']:.1f}"),
        ("cosmic rays above 5 sigma detected", f"{_pct(gd['cr_detected'])} of {gd['cr_count']}",
         f"{_pct(ad['cr_detected'])} of {ad['cr_count']}"),
        ("pixels flagged as cosmic rays", str(gd["cr_flagged_pixels"]), str(ad["cr_flagged_pixels"])),
        ("of which no cosmic ray was injected", str(gd["cr_spurious"]), str(ad["cr_spurious"])),
        ("of these, hot pixels unflagged in DQ", str(gd["cr_at_hot"]), str(ad["cr_at_hot"])),
        ("star peaks flagged", f"{_pct(gd['peaks_flagged'])} of {gd['peak_count']}",
         f"{_pct(ad['peaks_flagged'])} of {ad['peak_count']}"),
        ("isolated stars measured", str(gd["stars"]), str(ad["stars"])),
        ("photometry, median measured/true", f"{gd['phot_ratio']:.4f}", f"{ad['phot_ratio']:.4f}"),
        ("photometry, robust scatter", f"{gd['phot_scatter']:.4f}", f"{ad['phot_scatter']:.4f}"),
        ("centroid offset, median (px)", f"{gd['centroid']:.3f}", f"{ad['centroid']:.3f}"),
        ("sky, max abs(measured - true) (e-)", f"{gd['sky_error']:.3f}", f"{ad['sky_error']:.3f}"),
        ("final frame (nx x ny), BUNIT", f"{gd['frame']}, {gd['bunit']}", f"{ad['frame']}, {ad['bunit']}"),
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
    args = ap.parse_args(argv)  # fmt: skip
    python = _astrodrizzle_python(args.python)
    ny, nx = args.chip
    if ny < 64 or nx < 128:
        raise SystemExit(f"--chip {ny} {nx} is too small: at least 64 128 (NY NX).")
    pars = dict(ASTRODRIZZLE_PARAMETERS, in_memory=bool(args.ad_in_memory))

    import numba

    import gpudriz
    from gpudriz.synthetic import make_association

    root = args.workdir or Path(tempfile.mkdtemp(prefix="bench_astrodrizzle_"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        truth = make_association(root / "inputs", chip_shape=(ny, nx), seed=args.seed)
        made = time.perf_counter() - t0
        gd_dir, ad_dir = root / "gpudriz", root / "astrodrizzle"
        for d in (gd_dir, ad_dir):
            shutil.rmtree(d, ignore_errors=True)
            shutil.copytree(root / "inputs", d)
        add_calacs_keywords(ad_dir)
        wcs = chip_wcs(root / "inputs", truth)
        print(f"association: 4 exposures x 2 chips of {nx}x{ny} (seed {args.seed}), made in {made:.1f} s; "
              f"{len(truth.stars)} stars, {len(truth.cosmic_rays)} cosmic-ray pixels")  # fmt: skip
        print(f"machine: {platform.machine()}, os.cpu_count()={os.cpu_count()}, Python "
              f"{platform.python_version()}; gpudriz {gpudriz.__version__} on {numba.get_num_threads()} "
              f"Numba thread(s)")  # fmt: skip
        warm = warm_up(root / "warmup")
        print(f"gpudriz warm-up on 64x128 chips (Numba compilation or cache load): {warm:.1f} s")

        gd = run_gpudriz(gd_dir, truth, wcs)
        print(f"gpudriz: {gd['seconds']:.1f} s")
        ad = run_astrodrizzle(ad_dir, truth, wcs, python, pars)
        v = ad["versions"]
        print(f"AstroDrizzle: {ad['seconds']:.1f} s (drizzlepac {v['drizzlepac']}, astropy {v['astropy']}, "
              f"numpy {v['numpy']}; in_memory={pars['in_memory']}; subprocess {ad['subprocess_s']:.1f} s "
              f"with {ad['import_s']:.1f} s of imports)")  # fmt: skip
        print()
        print(table(gd, ad))
        print(f"\nAstroDrizzle / gpudriz wall time: {ad['seconds'] / gd['seconds']:.2f}x")
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"files kept in {root}")


if __name__ == "__main__":
    main()
