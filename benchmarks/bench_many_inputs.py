"""How the pipeline's wall time and peak memory grow with the number of inputs.

Writes N tiny two-chip exposures (:func:`gpudriz.demo.tiny_inputs.write_tiny_exposures`,
16 x 32 pixels per chip by default) for each N asked, runs the whole pipeline on
each set in a fresh folder as a separate process (``gpudriz "DIR/*_flt.fits"
backend=cpu`` under ``/usr/bin/time -v``, or the given ``--python`` and
``--runner``), and prints N, the wall time and the peak resident memory.  The
pixels are negligible, so what grows is the per-input overhead: headers,
provenance, open files.  A first, untimed run compiles the Numba kernels.

    python benchmarks/bench_many_inputs.py 50 100 200 400
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gpudriz.demo.tiny_inputs import write_tiny_exposures


def run_once(python, runner, inputs: Path, folder: Path):
    """Wall time (s) and peak RSS (MiB) of one pipeline run in ``folder``."""
    cmd = [python] + ([runner] if runner else ["-m", "gpudriz.cli"]) + [f"{inputs}/*_flt.fits", "backend=cpu"]
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v"] + cmd, cwd=folder, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"the run failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return wall, int(rss.group(1)) / 1024 if rss else float("nan")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("counts", nargs="+", type=int, help="numbers of input exposures")
    ap.add_argument("--shape", type=int, nargs=2, default=(16, 32), help="chip shape ny nx")
    ap.add_argument("--python", default=sys.executable, help="interpreter that runs the pipeline")
    ap.add_argument("--runner", default=None, help="script run instead of -m gpudriz.cli")
    ap.add_argument("--data", default=None, help="folder for the inputs (kept); default a temporary one")
    args = ap.parse_args(argv)
    data = Path(args.data or tempfile.mkdtemp(prefix="gpudriz_many_"))
    # Compile (or load) the Numba kernels outside the timed runs.
    warm = data / "warm"
    if not warm.exists():
        write_tiny_exposures(warm / "in", 4, shape=tuple(args.shape))
    (warm / "run").mkdir(exist_ok=True)
    run_once(args.python, args.runner, warm / "in", warm / "run")
    print(f"{'inputs':>7} {'wall (s)':>9} {'peak RSS (MiB)':>15}")
    for n in args.counts:
        inputs = data / f"n{n}"
        if not inputs.exists():
            write_tiny_exposures(inputs, n, shape=tuple(args.shape))
        folder = Path(tempfile.mkdtemp(prefix=f"run{n}_", dir=data))
        wall, rss = run_once(args.python, args.runner, inputs, folder)
        shutil.rmtree(folder)
        print(f"{n:>7} {wall:>9.1f} {rss:>15.0f}", flush=True)


if __name__ == "__main__":
    main()
