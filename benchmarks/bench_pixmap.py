"""Benchmark: gpudriz.calc_pixmap against drizzle.utils.calc_pixmap.

A 2048x4096 ACS/WFC-like chip (0.05"/px, rotated, SIP order 4 with
coefficients of the size of ACS/WFC's IDC-derived SIP: tens of pixels of
distortion at the corners) is mapped to a north-up TAN frame.  Printed, all
from one run on this machine: the time of drizzle.utils.calc_pixmap (astropy
per pixel), of gpudriz's exact and fast methods (after a warm-up call; the
first call's time, which includes Numba compilation or loading it from the
cache, is printed separately), their Mpix/s, the speed-up of fast over
drizzle and the maximum error of fast against exact, for the default and a
few other node steps; then the error of the other direction (frame -> chip,
through astropy's iterative SIP inverse) on a lattice of points.

Then the same for a WCS with lookup-table distortions (SIP, a D2IM row and
two NPOL tables: astropy's test header ``dist_lookup.fits.gz``, ACS/WFC-like,
on a 2048x4096 chip): exact against fast, whose tables are applied per pixel
on top of the interpolated table-free map, timed in alternation (best of
``--repeat``) so that a busy machine slows both alike.

``--small-chips`` instead times the synthetic association's chips of
64x128, 256x512 and 512x1024 px (whose distortion pattern is scaled to the
chip): the automatic node step against step 64 and exact evaluation.

Run: ``python benchmarks/bench_pixmap.py [--repeat N] [--backend cpu] [--tables-only | --small-chips]``.
"""

from __future__ import annotations

import argparse
import time

import drizzle.utils
import numpy as np
from astropy.wcs import WCS, Sip

import gpudriz.pixmap as gp
from gpudriz import pixmap_grid, pixmap_tables
from gpudriz.backend import get_backend

NY, NX = 2048, 4096
SCALE = 0.05 / 3600.0  # deg/px

# Magnitudes of ACS/WFC's order-4 SIP (IDC-derived): A_2_0 ~ 9e-6 /px gives
# ~35 px at the chip corners; the order-4 terms ~1e-14 give a few tenths.
SIP_A = {
    (0, 2): 2.17e-06, (1, 1): -5.20e-06, (2, 0): 8.56e-06,
    (0, 3): -5.21e-11, (1, 2): -4.21e-10, (2, 1): -4.74e-11, (3, 0): -4.69e-10,
    (0, 4): 9.52e-15, (1, 3): 4.25e-15, (2, 2): 1.54e-14, (3, 1): 1.81e-14, (4, 0): 1.37e-14,
}
SIP_B = {
    (0, 2): -9.80e-06, (1, 1): 6.41e-06, (2, 0): -2.87e-06,
    (0, 3): -4.77e-10, (1, 2): -3.10e-11, (2, 1): -5.08e-10, (3, 0): 9.94e-12,
    (0, 4): -8.36e-15, (1, 3): 1.77e-14, (2, 2): 1.03e-14, (3, 1): 3.88e-15, (4, 0): 3.14e-15,
}


def wfc_like_wcs():
    """The distorted input WCS of the chip."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    w.wcs.crval = [150.1, 2.2]
    w.wcs.crpix = [NX / 2 + 0.5, NY / 2 + 0.5]
    th = np.deg2rad(-92.6)  # a typical ACS/WFC ORIENTAT
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    skew = np.array([[1.0, 0.004], [0.0, 0.998]])  # the WFC chips are not square on the sky
    w.wcs.cd = SCALE * (np.diag([-1.0, 1.0]) @ rot @ skew)
    a = np.zeros((5, 5))
    b = np.zeros((5, 5))
    for (p, q), v in SIP_A.items():
        a[p, q] = v
    for (p, q), v in SIP_B.items():
        b[p, q] = v
    w.sip = Sip(a, b, None, None, w.wcs.crpix)
    w.pixel_shape = (NX, NY)
    return w


def north_up_wcs(w):
    """A north-up TAN frame at the chip centre, same pixel scale, holding the chip."""
    ra, dec = w.pixel_to_world_values((NX - 1) / 2, (NY - 1) / 2)
    out = WCS(naxis=2)
    out.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    out.wcs.crval = [float(ra), float(dec)]
    n = 4600
    out.wcs.crpix = [(n + 1) / 2, (n + 1) / 2]
    out.wcs.cd = np.diag([-SCALE, SCALE])
    out.pixel_shape = (n, n)
    return out


def best_time(fn, repeat):
    times = []
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed calls of the fast method")
    parser.add_argument("--backend", default="cpu", help="gpudriz backend (cpu, cuda, auto)")
    parser.add_argument("--tables-only", action="store_true",
                        help="only the lookup-table (D2IM, NPOL) comparison")  # fmt: skip
    parser.add_argument("--small-chips", action="store_true",
                        help="only the synthetic small chips (automatic node step)")  # fmt: skip
    args = parser.parse_args(argv)

    be = get_backend(args.backend)
    if args.small_chips:
        small_chips(be, args.repeat)
        return
    if args.tables_only:
        lookup_tables(be, args.repeat)
        return
    w_in = wfc_like_wcs()
    w_out = north_up_wcs(w_in)
    mpix = NX * NY / 1e6

    # SIP distortion f(u, v) at the chip corners (u, v relative to CRPIX)
    u = np.array([0.0, NX - 1.0, 0.0, NX - 1.0]) - (w_in.wcs.crpix[0] - 1)
    v = np.array([0.0, 0.0, NY - 1.0, NY - 1.0]) - (w_in.wcs.crpix[1] - 1)
    fu = sum(c * u**p * v**q for (p, q), c in SIP_A.items())
    fv = sum(c * u**p * v**q for (p, q), c in SIP_B.items())
    print(f"chip {NY}x{NX} ({mpix:.1f} Mpix), SIP order 4, distortion at the corners "
          f"up to {np.hypot(fu, fv).max():.1f} px; backend {be.name}")

    t_drz, pm_drz = best_time(lambda: drizzle.utils.calc_pixmap(w_in, w_out), 1)
    print(f"drizzle.utils.calc_pixmap : {t_drz:8.3f} s  {mpix / t_drz:8.2f} Mpix/s")

    t_ex, pm_ex = best_time(lambda: gp.calc_pixmap(w_in, w_out, method="exact", backend=be), 1)
    pm_ex = np.asarray(pm_ex)
    print(f"gpudriz exact             : {t_ex:8.3f} s  {mpix / t_ex:8.2f} Mpix/s  "
          f"(max |exact - drizzle| = {np.nanmax(np.abs(pm_ex - pm_drz)):.1e} px)")

    t = time.perf_counter()
    gp.calc_pixmap(w_in, w_out, backend=be)
    t_first = time.perf_counter() - t
    how = "includes compilation or loading it from cache"
    if be.name == "cpu":
        from gpudriz.fallback.pixmap import interpolate_pixmap

        hits = sum(interpolate_pixmap.stats.cache_hits.values())
        how = ("includes loading the Numba code from its on-disk cache" if hits
               else "includes Numba compilation")
    print(f"gpudriz fast, first call  : {t_first:8.3f} s  ({how})")

    for step in sorted({gp.DEFAULT_STEP, 16, 32, 64, 128}):
        t_f, pm_f = best_time(lambda: gp.calc_pixmap(w_in, w_out, step=step, backend=be),
                              args.repeat)
        err = np.nanmax(np.abs(np.asarray(pm_f) - pm_ex))
        # split: exact WCS on the nodes vs interpolation
        t_n, _ = best_time(lambda: pixmap_grid.node_grid(w_in, w_out, NX, NY, step), args.repeat)
        tag = " (default)" if step == gp.DEFAULT_STEP else ""
        print(f"gpudriz fast step {step:4d}   : {t_f:8.3f} s  {mpix / t_f:8.2f} Mpix/s  "
              f"x{t_drz / t_f:6.1f} vs drizzle  max err {err:.1e} px  "
              f"(nodes {t_n * 1e3:.0f} ms){tag}")

    # the other direction (blot): output frame -> chip, which needs astropy's
    # iterative SIP inverse; exact reference on a lattice of output pixels
    shape = w_out.array_shape
    rows = np.arange(0, shape[0], 23)
    cols = np.arange(0, shape[1], 23)
    y, x = np.meshgrid(rows.astype(float), cols.astype(float), indexing="ij")
    ref = np.dstack(w_in.world_to_pixel_values(*w_out.pixel_to_world_values(x, y)))
    on_chip = ((ref[..., 0] > -0.5) & (ref[..., 0] < NX - 0.5)
               & (ref[..., 1] > -0.5) & (ref[..., 1] < NY - 0.5))
    t_f, pm_f = best_time(lambda: gp.calc_pixmap(w_out, w_in, backend=be), 1)
    err = np.abs(np.asarray(pm_f)[np.ix_(rows, cols)] - ref)
    print(f"inverse {shape[0]}x{shape[1]} frame -> chip, default step: {t_f:.3f} s, "
          f"max err {err.max():.1e} px ({err[on_chip].max():.1e} px where it lands on the chip; "
          f"{rows.size * cols.size} exact points)")
    lookup_tables(be, args.repeat)


def small_chips(be, repeat):
    """Automatic node step against step 64 and exact on the synthetic association's chip sizes."""
    import glob
    import tempfile
    import warnings

    from astropy.io import fits

    from gpudriz.demo import synthetic

    with tempfile.TemporaryDirectory() as tmp:
        for shape in ((64, 128), (256, 512), (512, 1024)):
            folder = f"{tmp}/{shape[0]}"
            synthetic.make_association(folder, chip_shape=shape)
            with fits.open(sorted(glob.glob(folder + "/*_flt.fits"))[0]) as hdul:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    w = WCS(hdul["SCI", 1].header, hdul)
            out = WCS(naxis=2)
            out.wcs.ctype = ["RA---TAN", "DEC--TAN"]
            out.wcs.crval = w.wcs.crval
            out.wcs.crpix = [shape[1] / 2, shape[0] / 2]
            out.wcs.cd = np.diag([-SCALE, SCALE])
            calls = {
                "auto": lambda: gp.calc_pixmap(w, out, shape=shape, backend=be),
                "step 64": lambda: gp.calc_pixmap(w, out, shape=shape, step=64, backend=be),
                "exact": lambda: gp.calc_pixmap(w, out, shape=shape, method="exact"),
            }
            calls["auto"]()  # warm-up
            runs = {name: [] for name in calls}
            results = {}
            for _ in range(repeat):
                for name, fn in calls.items():
                    t, results[name] = best_time(fn, 1)
                    runs[name].append(t)
            err = np.abs(np.asarray(results["auto"]) - np.asarray(results["exact"])).max()
            ny, nx = shape
            print(f"{ny}x{nx}: auto step {gp.auto_step(nx, ny)}: {min(runs['auto']) * 1e3:.1f} ms "
                  f"(max err {err:.1e} px); step 64: {min(runs['step 64']) * 1e3:.1f} ms; "
                  f"exact: {min(runs['exact']) * 1e3:.1f} ms")  # fmt: skip


def lookup_tables(be, repeat):
    """Exact against fast on a 2048x4096 chip with SIP, D2IM and NPOL tables."""
    import warnings
    from pathlib import Path

    import astropy
    from astropy.io import fits
    from astropy.wcs import FITSFixedWarning

    path = Path(astropy.__file__).parent / "wcs" / "tests" / "data" / "dist_lookup.fits.gz"
    with fits.open(path) as hdul, warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        w_in = WCS(hdul[1].header, hdul)
    w_out = north_up_wcs(w_in)
    tables = pixmap_tables.lookup_tables(w_in)
    smooth = pixmap_tables.without_tables(w_in)
    shape = (NY, NX)
    mpix = NX * NY / 1e6
    gp.calc_pixmap(w_in, w_out, shape=shape, backend=be)  # warm-up (compilation)
    runs = {"exact": [], "fast": [], "fast, tables removed": []}
    calls = {
        "exact": lambda: gp.calc_pixmap(w_in, w_out, shape=shape, method="exact", backend=be),
        "fast": lambda: gp.calc_pixmap(w_in, w_out, shape=shape, backend=be),
        "fast, tables removed": lambda: gp.calc_pixmap(smooth, w_out, shape=shape, backend=be),
    }
    results = {}
    for _ in range(repeat):
        for name, fn in calls.items():
            t, results[name] = best_time(fn, 1)
            runs[name].append(t)
    exact = np.asarray(results["exact"])
    err = np.nanmax(np.abs(np.asarray(results["fast"]) - exact))
    table_size = np.nanmax(np.abs(np.asarray(results["fast, tables removed"]) - exact))
    print(f"\nlookup tables ({path.name}: {', '.join(tables)}), chip {NY}x{NX}, "
          f"backend {be.name}; the tables move the map by up to {table_size:.3f} px")
    for name, times in runs.items():
        t = min(times)
        print(f"gpudriz {name:22s}: {t:8.3f} s  {mpix / t:8.2f} Mpix/s")
    print(f"fast vs exact: x{min(runs['exact']) / min(runs['fast']):.1f}, "
          f"max err {err:.1e} px")


if __name__ == "__main__":
    main()
