"""Mosaic mode: wall time and peak memory against the number of exposures, serial and on Dask workers.

For each N, a synthetic mosaic of N exposures of two small chips
(:func:`gpudriz.demo.mosaic_data.make_mosaic`: pointings on a grid with
overlaps, CR-SPLIT pairs) is run tiled, once with ``workers=0`` and once per
``--workers`` value, each configuration in a fresh subprocess so that its
peak RSS is its own.  Printed per run: wall time, input pixels, time per
million input pixels, the peak RSS of the main process and the largest peak
RSS of a worker process (children), and the ratio serial / parallel.

    python benchmarks/bench_mosaic.py --n 16 64 256 --workers 2

AstroDrizzle is not run here (see docs/benchmarks.md: the mosaic table).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap

_CHILD = textwrap.dedent("""
    import json, resource, sys, time
    from pathlib import Path
    import gpudriz
    from gpudriz.demo.mosaic_data import MOSAIC_LIST, make_mosaic
    folder, n, workers, tile = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    make_mosaic(folder, n, seed=1)
    t0 = time.perf_counter()
    md = gpudriz.Multidrizzle(input="@" + MOSAIC_LIST, output="mosaic", workdir=folder, backend="cpu",
                              tile_size=tile, workers=workers)
    md.run()
    wall = time.perf_counter() - t0
    pixels = sum(w.chip.shape[0] * w.chip.shape[1] for w in md.chips)
    print(json.dumps({"wall": wall, "pixels": pixels,
                      "rss_main": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "rss_child": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                      "frame": list(md.final_frame.shape)}))
""")


def run_one(n: int, workers: int, tile: int) -> dict:
    """One configuration in a fresh interpreter; its figures."""
    with tempfile.TemporaryDirectory() as folder:
        proc = subprocess.run([sys.executable, "-c", _CHILD, folder, str(n), str(workers), str(tile)],
                              capture_output=True, text=True)  # fmt: skip
    if proc.returncode:
        raise SystemExit(f"N={n} workers={workers} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[16, 64, 256, 1024], help="exposures per mosaic")
    ap.add_argument("--workers", type=int, nargs="+", default=[2], help="Dask worker counts besides serial")
    ap.add_argument("--tile-size", type=int, default=256)
    args = ap.parse_args(argv)
    print(f"{'N':>5} {'workers':>7} {'wall s':>8} {'Mpix':>7} {'s/Mpix':>7} {'RSS main MiB':>12} "
          f"{'RSS worker MiB':>14} {'frame':>11} {'serial/this':>11}")  # fmt: skip
    for n in args.n:
        serial = None
        for workers in [0, *args.workers]:
            r = run_one(n, workers, args.tile_size)
            serial = serial or r["wall"]
            mpix = r["pixels"] / 1e6
            child = f"{r['rss_child']:.0f}" if workers else "-"
            print(f"{n:>5} {workers:>7} {r['wall']:>8.1f} {mpix:>7.2f} {r['wall'] / mpix:>7.1f} "
                  f"{r['rss_main']:>12.0f} {child:>14} {r['frame'][1]:>5}x{r['frame'][0]:<5} "
                  f"{serial / r['wall']:>11.2f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
