"""Benchmark: the CUDA backend's kernels on a GPU, beside the device's own copy bandwidth.

Two workloads, all timed in one process on one device:

1. one 2048x4096 chip with ACS/WFC-like SIP distortion (``bench_pixmap.py``)
   onto a north-up frame;
2. a 10,000 x 10,000 output mosaic of 36 such chips (overlapping pointings).

Printed: Mpix/s (input pixels for drizzle and the pixmap, output pixels for
blot) of every drizzle kernel and blot interpolant, with the data already on
the device ("device") and with NumPy arrays in and out, so that host<->device
transfers are included ("host"); the pixmap's interpolation kernel alone and
``calc_pixmap`` as a whole (host WCS evaluation on the sparse grid included);
and the device-to-device copy bandwidth measured in the same run, the floor
any memory-bound kernel is judged against.  Best of ``--repeat`` runs after a
warm-up call (NVRTC compilation, reported separately).

``--smoke`` runs the same code on tiny sizes with the host-compiled kernels
of the test suite (``tests/helpers/cuda_host.py``): it proves the script runs on a
machine without a GPU; its figures mean nothing.

Run: ``python benchmarks/bench_cuda.py [--repeat N] [--skip-mosaic] [--smoke]``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_pixmap  # noqa: E402  (the chip's WCS)

import gpudriz  # noqa: E402
from gpudriz import pixmap_grid  # noqa: E402
from gpudriz.resample import SUPPORTED_DRIZZLE_KERNELS as KERNELS  # noqa: E402

INTERPS = ("nearest", "linear", "poly3", "poly5", "sinc", "lanczos3", "lanczos5")


class Runner:
    """Backend, array module and synchronisation for timing."""

    def __init__(self, smoke):
        if smoke:
            sys.path.insert(0, str(HERE.parent / "tests"))
            from helpers.cuda_host import host_backend

            self.backend = host_backend(block=64, max_grid=8)
            self.xp = np
            self.device = "host-compiled kernels (smoke run: figures mean nothing)"
            self.sync = lambda: None
        else:
            import cupy

            self.backend = gpudriz.get_backend("cuda")
            self.xp = cupy
            props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
            name = props["name"]
            self.device = name.decode() if isinstance(name, bytes) else name
            self.sync = cupy.cuda.Device().synchronize

    def best(self, fn, repeat):
        """(first call, best of ``repeat``) wall times in seconds, synchronised."""
        t = time.perf_counter()
        fn()
        self.sync()
        first = time.perf_counter() - t
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            self.sync()
            times.append(time.perf_counter() - t)
        return first, min(times)

    def copy_bandwidth(self, nbytes, repeat):
        """Device-to-device copy bandwidth in GB/s (bytes read + bytes written)."""
        xp = self.xp
        a = xp.ones(nbytes // 4, dtype=xp.float32)
        b = xp.empty_like(a)

        def copy():
            b[...] = a

        _, t = self.best(copy, repeat)
        return 2 * a.nbytes / t / 1e9


def _chip(shape):
    """The WFC-like chip WCS (scaled down for smoke runs) and a north-up frame."""
    w_in = bench_pixmap.wfc_like_wcs()
    if shape != (bench_pixmap.NY, bench_pixmap.NX):
        w_in.wcs.crpix = [shape[1] / 2.0, shape[0] / 2.0]
        w_in.sip = None
        w_in.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w_out = bench_pixmap.north_up_wcs(w_in)
    return w_in, w_out


def bench_chip(run, shape, repeat):
    xp = run.xp
    be = run.backend
    w_in, w_out = _chip(shape)
    out_shape = w_out.array_shape if shape == (bench_pixmap.NY, bench_pixmap.NX) else (
        int(shape[1] * 1.3), int(shape[1] * 1.3))  # fmt: skip
    pm_host = gpudriz.calc_pixmap(w_in, w_out, shape=shape)
    if out_shape != w_out.array_shape:
        pm_host = pm_host - np.nanmin(pm_host, axis=(0, 1)) + 2.0
    rng = np.random.default_rng(0)
    data_host = (1.0 + rng.random(shape)).astype(np.float32)
    data_dev = xp.asarray(data_host)
    pm_dev = xp.asarray(pm_host)
    npix = data_host.size
    print(f"\nchip {shape[1]}x{shape[0]} ({npix / 1e6:.1f} Mpix) -> frame {out_shape[1]}x{out_shape[0]}")

    grid_step = pixmap_grid.DEFAULT_STEP
    grid, x0, y0 = pixmap_grid.node_grid(w_in, w_out, shape[1], shape[0], grid_step)
    grid_dev = xp.asarray(grid)
    out_pm = xp.empty(shape + (2,), dtype=xp.float64)
    first, t_interp = run.best(
        lambda: be.ops.interpolate_pixmap(grid_dev, x0, y0, grid_step, out_pm), repeat)
    _, t_calc = run.best(
        lambda: gpudriz.calc_pixmap(w_in, w_out, shape=shape, backend=be, device=True), repeat)
    print(f"  pixmap interpolation kernel {npix / t_interp / 1e6:10.1f} Mpix/s   "
          f"calc_pixmap (host WCS grid + kernel) {npix / t_calc / 1e6:8.1f} Mpix/s   "
          f"first call {first:.2f} s")

    print("  drizzle (input Mpix/s)        device        host   first call")
    for kernel in KERNELS:
        def dev(k=kernel):
            d = gpudriz.Drizzle(kernel=k, out_shape=out_shape, backend=be)
            d.add_image(data_dev, 1.0, pm_dev)
            return d

        def host(k=kernel):
            d = gpudriz.Drizzle(kernel=k, out_shape=out_shape, backend=be)
            d.add_image(data_host, 1.0, pm_host)
            return d.out_img, d.out_wht, d.out_ctx  # copied back to the host

        first, t_dev = run.best(dev, repeat)
        _, t_host = run.best(host, repeat)
        print(f"  {kernel:10s}              {npix / t_dev / 1e6:10.1f}  {npix / t_host / 1e6:10.1f}"
              f"   {first:8.2f} s")

    d = gpudriz.Drizzle(kernel="square", fillval=0, out_shape=out_shape, backend=be)
    d.add_image(data_dev, 1.0, pm_dev)
    img_dev = d.out_img  # device data in: a device array out
    img_host = img_dev if xp is np else xp.asnumpy(img_dev)
    print("  blot (output Mpix/s)          device        host   first call")
    for interp in INTERPS:
        first, t_dev = run.best(
            lambda i=interp: gpudriz.blot_image(img_dev, pm_dev, interp=i, backend=be), repeat)
        _, t_host = run.best(
            lambda i=interp: gpudriz.blot_image(img_host, pm_host, interp=i, backend=be), repeat)
        print(f"  {interp:10s}              {npix / t_dev / 1e6:10.1f}  {npix / t_host / 1e6:10.1f}"
              f"   {first:8.2f} s")


def bench_mosaic(run, chip_shape, mosaic, nchips, repeat):
    """36 chips at spread-out pointings onto one large frame: drizzle all, blot back to each."""
    xp = run.xp
    be = run.backend
    w_in, w_out = _chip(chip_shape)
    pm0 = gpudriz.calc_pixmap(w_in, w_out, shape=chip_shape)
    pm0 = pm0 - np.nanmin(pm0, axis=(0, 1))
    span = np.nanmax(pm0, axis=(0, 1))
    side = int(round(np.sqrt(nchips)))
    rng = np.random.default_rng(1)
    offsets = []
    for k in range(nchips):
        gx, gy = k % side, k // side
        ox = (mosaic - span[0] - 1) * gx / max(side - 1, 1)
        oy = (mosaic - span[1] - 1) * gy / max(side - 1, 1)
        offsets.append((ox + rng.random(), oy + rng.random()))
    pm_dev = xp.asarray(pm0)
    data = [xp.asarray((1.0 + rng.random(chip_shape)).astype(np.float32)) for _ in range(nchips)]
    maps = [pm_dev + xp.asarray(np.array(o)) for o in offsets]
    npix = nchips * chip_shape[0] * chip_shape[1]
    print(f"\nmosaic {mosaic}x{mosaic} from {nchips} chips of {chip_shape[1]}x{chip_shape[0]} "
          f"({npix / 1e6:.0f} Mpix in)")

    def drizzle_all():
        d = gpudriz.Drizzle(kernel="square", fillval=0, out_shape=(mosaic, mosaic),
                            max_ctx_id=nchips - 1, backend=be)
        for img, pm in zip(data, maps):
            d.add_image(img, 1.0, pm)
        return d

    first, t = run.best(drizzle_all, repeat)
    print(f"  square drizzle of all chips   {npix / t / 1e6:10.1f} Mpix/s   first call {first:.2f} s")
    mos = drizzle_all().out_img

    def blot_all():
        return [gpudriz.blot_image(mos, pm, interp="poly5", backend=be) for pm in maps]

    first, t = run.best(blot_all, repeat)
    print(f"  poly5 blot back to all chips  {npix / t / 1e6:10.1f} Mpix/s   first call {first:.2f} s")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-mosaic", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes on the host-compiled kernels")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    run = Runner(args.smoke)
    chip = (16, 32) if args.smoke else (bench_pixmap.NY, bench_pixmap.NX)
    print(f"device: {run.device}; gpudriz {gpudriz.__version__}")
    bw = run.copy_bandwidth(2**16 if args.smoke else 2**30, args.repeat)
    print(f"device-to-device copy bandwidth: {bw:.1f} GB/s (read + write)")
    bench_chip(run, chip, args.repeat)
    if not args.skip_mosaic:
        bench_mosaic(run, chip, 120 if args.smoke else 10_000, 4 if args.smoke else 36, args.repeat)


if __name__ == "__main__":
    main()
