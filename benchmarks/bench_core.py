"""Benchmark: gpudriz's core engine against drizzle 3.x on one 2048x4096 chip.

The chip has a realistic ACS/WFC-like SIP distortion (see ``bench_pixmap.py``)
and is mapped onto a north-up TAN frame.  Printed, all from one process on this
machine: Mpix/s (input pixels for drizzle, output pixels for blot) of every
drizzle kernel and blot interpolant for gpudriz (cpu backend, all cores) and
drizzle 3.x (cdrizzle, one core) side by side with their ratio, best of
``--repeat`` runs after a warm-up call; the warm-up call's time (Numba
compilation, or loading it from the on-disk cache) is printed separately.
Then the calc_pixmap comparison of ``bench_pixmap.py``.

``--aligned`` removes the chip's rotation on the sky (SIP kept), so that input
rows run along output rows: the cache-friendliest case, for comparison.

Run: ``python benchmarks/bench_core.py [--repeat N] [--skip-pixmap] [--aligned]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_pixmap  # noqa: E402  (the chip's WCS and the pixmap benchmark)
import drizzle.resample as dr  # noqa: E402

import gpudriz  # noqa: E402
from gpudriz.resample import EXTRA_KERNELS, SUPPORTED_DRIZZLE_KERNELS  # noqa: E402

DRIZZLE_KERNELS = tuple(k for k in SUPPORTED_DRIZZLE_KERNELS if k not in EXTRA_KERNELS)  # drizzle 3.x's
BLOT_INTERPS = ("nearest", "linear", "poly3", "poly5", "lanczos3", "lanczos5")
EXTRA_INTERPS = ("sinc",)  # not in drizzle 3.x


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--skip-pixmap", action="store_true")
    ap.add_argument("--aligned", action="store_true", help="unrotated chip (SIP kept)")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")

    import numba

    w_in = bench_pixmap.wfc_like_wcs()
    if args.aligned:
        w_in.wcs.cd = bench_pixmap.SCALE * np.diag([-1.0, 1.0])
    w_out = bench_pixmap.north_up_wcs(w_in)
    pm = gpudriz.calc_pixmap(w_in, w_out, shape=(bench_pixmap.NY, bench_pixmap.NX))
    out_shape = w_out.array_shape
    rng = np.random.default_rng(0)
    data = (1.0 + rng.random(pm.shape[:2])).astype(np.float32)
    npix = data.size
    orient = "aligned with" if args.aligned else "rotated by -92.6 deg from"
    print(f"chip {orient} the frame; chip {data.shape[1]}x{data.shape[0]} ({npix / 1e6:.1f} Mpix) -> frame "
          f"{out_shape[1]}x{out_shape[0]}; gpudriz cpu backend on {numba.get_num_threads()} "
          f"thread(s), drizzle {dr.__name__.split('.')[0]} 3.x on 1; os.cpu_count()={os.cpu_count()}")

    def row(name, ours, theirs=None):
        """Print one line: gpudriz (after a timed warm-up call), drizzle, their ratio."""
        t0 = time.perf_counter()
        ours()
        first = time.perf_counter() - t0
        t_ours = best(ours, args.repeat)
        line = f"  {name:10s}            {npix / t_ours / 1e6:8.1f}"
        if theirs is None:
            line += "        n/a       -  "
        else:
            t_ref = best(theirs, args.repeat)
            line += f"   {npix / t_ref / 1e6:8.1f}   {t_ref / t_ours:5.2f}x"
        print(f"{line}   {first:6.2f} s")

    def drizzle_with(module, kernel, **kw):
        d = module.Drizzle(kernel=kernel, out_shape=out_shape, **kw)
        d.add_image(data, 1.0, pm)
        return d

    print("\ndrizzle (input Mpix/s)      gpudriz    drizzle   ratio   first call")
    for kernel in DRIZZLE_KERNELS + EXTRA_KERNELS:
        theirs = (lambda k=kernel: drizzle_with(dr, k)) if kernel in DRIZZLE_KERNELS else None
        row(kernel, lambda k=kernel: drizzle_with(gpudriz, k, backend="cpu"), theirs)

    # Blot the drizzled image back onto the chip.  blot's pixmap gives, for
    # each of its output (chip) pixels, the position in the image blotted (the
    # frame): the same map the drizzle used.
    img = drizzle_with(gpudriz, "square", fillval=0, backend="cpu").out_img
    print("\nblot (output Mpix/s)        gpudriz    drizzle   ratio   first call")
    for interp in BLOT_INTERPS + EXTRA_INTERPS:
        theirs = (lambda i=interp: dr.blot_image(img, pm, interp=i)) if interp in BLOT_INTERPS else None
        row(interp, lambda i=interp: gpudriz.blot_image(img, pm, interp=i, backend="cpu"), theirs)

    if not args.skip_pixmap:
        print()
        bench_pixmap.main(["--repeat", str(args.repeat)])


if __name__ == "__main__":
    main()
