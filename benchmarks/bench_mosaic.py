"""Mosaic mode: wall time and peak memory against the number of exposures, serial and on Dask workers.

For each N, a synthetic mosaic of N exposures of two chips
(:func:`gpudriz.demo.mosaic_data.make_mosaic`: pointings on a grid with
overlaps, CR-SPLIT pairs, own skies) is written once, then run tiled with
``workers=0`` and with each ``--workers`` value, each run in a fresh
subprocess (its own output folder, the inputs linked in) so that its peak
RSS is its own.  Printed per run: wall time of ``Multidrizzle.run`` (build
and every step), input pixels, time per million input pixels, the peak RSS
of the main process and the largest peak RSS of a worker process
(children), the final frame and the ratio serial / this run; ``--stages``
adds each step's time.  ``--one-thread`` also runs ``workers=0`` with
Numba on one thread (``NUMBA_NUM_THREADS=1``, row ``0/1t``), one core's
worth of the serial run, and adds the column ``1t/this``: the serial run
at its defaults already runs its kernels on every core, so serial / this
understates what the workers gain over one core.

    python benchmarks/bench_mosaic.py --n 16 64 256 1024 --workers 2
    # 32 full-size ACS/WFC-like exposures (2 x 2048 x 4096 each) onto a 20,000 x 20,000 frame:
    python benchmarks/bench_mosaic.py --n 32 --chip 2048 4096 --frame 20000 --tile-size 2048 --workers 2

``--astrodrizzle PYTHON`` also runs AstroDrizzle (drizzlepac, in its own
environment: see ``benchmarks/bench_astrodrizzle.py``) on a copy of each
mosaic, at its own defaults (only ``updatewcs=False``: offline, the headers'
SIP is the whole distortion model), under ``--ad-timeout`` seconds; printed:
its wall time and peak RSS (its process and its children), or how it failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from bench_astrodrizzle import add_calacs_keywords  # the sibling script (benchmarks/ is on sys.path)

from gpudriz.demo.mosaic_data import MOSAIC_LIST

_CHILD = textwrap.dedent("""
    import json, resource, sys, time
    from pathlib import Path
    import gpudriz
    from gpudriz.demo.mosaic_data import MOSAIC_LIST
    src, work, workers, tile, frame = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    work.mkdir()
    for f in list(src.glob("*_flt.fits")) + [src / MOSAIC_LIST]:
        (work / f.name).symlink_to(f)  # inputs are only read
    size = dict(final_outnx=frame, final_outny=frame) if frame else {}
    t0 = time.perf_counter()
    md = gpudriz.Multidrizzle(input="@" + MOSAIC_LIST, output="mosaic", workdir=work, backend="cpu",
                              tile_size=tile, workers=workers, **size)
    md.run()
    wall = time.perf_counter() - t0
    pixels = sum(w.chip.shape[0] * w.chip.shape[1] for w in md.chips)
    print(json.dumps({"wall": wall, "pixels": pixels, "timings": md.timings,
                      "rss_main": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "rss_child": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                      "frame": list(md.final_frame.shape)}))
""")

# Runs in AstroDrizzle's Python: argv = folder, @file; prints its peak memory (MiB) when it ends.
_AD_CHILD = textwrap.dedent("""
    import json, os, resource, sys, time
    from drizzlepac import astrodrizzle
    os.chdir(sys.argv[1])
    t0 = time.perf_counter()
    astrodrizzle.AstroDrizzle("@" + sys.argv[2], updatewcs=False)
    print(json.dumps({"wall": time.perf_counter() - t0,
                      "rss_main": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "rss_child": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
""")

_MAKE = textwrap.dedent("""
    import sys
    from gpudriz.demo.mosaic_data import make_mosaic
    make_mosaic(sys.argv[1], int(sys.argv[2]), chip_shape=(int(sys.argv[3]), int(sys.argv[4])), seed=1)
""")


def run_one(src: Path, work: Path, workers: int, tile: int, frame: int, env=None) -> dict:
    """One configuration in a fresh interpreter (``env``: its environment, default this one's); its figures."""
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(src), str(work), str(workers), str(tile), str(frame)],
                          capture_output=True, text=True, env=env)  # fmt: skip
    if proc.returncode:
        raise SystemExit(f"{work.name} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_astrodrizzle(src: Path, work: Path, python: str, timeout: float) -> str:
    """AstroDrizzle at its defaults on a copy of ``src``: its figures as a table row's text, or how it failed."""
    shutil.copytree(src, work)  # AstroDrizzle writes into its inputs (DQ, MDRIZSKY)
    add_calacs_keywords(work)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    try:
        proc = subprocess.run([python, "-c", _AD_CHILD, str(work), MOSAIC_LIST], capture_output=True, text=True,
                              env=env, timeout=timeout)  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"AstroDrizzle: not finished after {timeout:.0f} s (stopped)"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if proc.returncode:
        lines = [x for x in (proc.stdout + proc.stderr).splitlines() if x.strip()]
        return f"AstroDrizzle failed (exit {proc.returncode}): " + " | ".join(lines[-3:])
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    return f"AstroDrizzle: {r['wall']:.1f} s, peak RSS {r['rss_main']:.0f} MiB (children {r['rss_child']:.0f} MiB)"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[16, 64, 256, 1024], help="exposures per mosaic")
    ap.add_argument("--workers", type=int, nargs="+", default=[2], help="Dask worker counts besides serial")
    ap.add_argument("--tile-size", type=int, default=256)
    ap.add_argument("--chip", type=int, nargs=2, default=[64, 128], metavar=("NY", "NX"), help="each chip's shape")
    ap.add_argument("--frame", type=int, default=0, help="final frame's side in pixels (0: the inputs' footprint)")
    ap.add_argument("--stages", action="store_true", help="print each step's time")
    ap.add_argument("--one-thread", action="store_true", help="also run serially with Numba on one thread")
    ap.add_argument("--folder", type=Path, default=None, help="where data and runs go (default: a temporary folder)")
    ap.add_argument("--astrodrizzle", metavar="PYTHON", help="also run AstroDrizzle with this interpreter")
    ap.add_argument("--ad-timeout", type=float, default=3600.0, help="seconds AstroDrizzle may run per mosaic")
    ap.add_argument("--ad-max-n", type=int, default=256,
                    help="largest N AstroDrizzle is run on (each of its single images is the whole frame: "
                         "N = 1,024 would write 73 GB of them)")  # fmt: skip
    args = ap.parse_args(argv)
    print(f"{'N':>5} {'workers':>7} {'wall s':>8} {'Mpix':>7} {'s/Mpix':>7} {'RSS main MiB':>12} "
          f"{'RSS worker MiB':>14} {'frame':>11} {'serial/this':>11}" + (f" {'1t/this':>8}" if args.one_thread else ""))
    one_thread = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    runs = [(0, "0", None)] + [(0, "0/1t", one_thread)] * args.one_thread + [(w, str(w), None) for w in args.workers]
    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        for n in args.n:
            src = Path(tmp) / f"data{n}"
            subprocess.run([sys.executable, "-c", _MAKE, str(src), str(n), *map(str, args.chip)], check=True)
            walls = {}
            for workers, label, env in runs:
                r = run_one(src, Path(tmp) / f"run{n}_{label.replace('/', '_')}", workers, args.tile_size,
                            args.frame, env)  # fmt: skip
                walls[label] = r["wall"]
                mpix = r["pixels"] / 1e6
                child = f"{r['rss_child']:.0f}" if workers else "-"
                one = f" {walls['0/1t'] / r['wall']:>8.2f}" if "0/1t" in walls else ""
                print(f"{n:>5} {label:>7} {r['wall']:>8.1f} {mpix:>7.2f} {r['wall'] / mpix:>7.2f} "
                      f"{r['rss_main']:>12.0f} {child:>14} {r['frame'][1]:>5}x{r['frame'][0]:<5} "
                      f"{walls['0'] / r['wall']:>11.2f}" + one, flush=True)  # fmt: skip
                if args.stages:
                    print("      " + ", ".join(f"{k} {v:.1f}" for k, v in r["timings"].items()), flush=True)
            if args.astrodrizzle and n <= args.ad_max_n:
                print(f"{n:>5}   " + run_astrodrizzle(src, Path(tmp) / f"ad{n}", args.astrodrizzle, args.ad_timeout),
                      flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
