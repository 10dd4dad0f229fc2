"""``gpudriz demo --mosaic N``: the pipeline on a synthetic mosaic of N exposures, in tiles.

Writes the mosaic (:func:`gpudriz.demo.mosaic_data.make_mosaic`), runs
``Multidrizzle(input="@mosaic_inputs.lis", output="mosaic", tile_size=...,
workers=...)``, assembles the final frame from its tiles (through the tile
table) to score it against the truth (:mod:`gpudriz.demo.science`), and writes
a quicklook PNG of the whole mosaic at reduced resolution.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from gpudriz.demo.mosaic_data import MOSAIC_LIST, make_mosaic
from gpudriz.demo.quicklook import write_png
from gpudriz.demo.science import ScienceFigures, evaluate_run
from gpudriz.pipeline.io.tile_products import TILE_TABLE_SUFFIX, read_tile_table
from gpudriz.pipeline.multidrizzle import Multidrizzle
from gpudriz.pipeline.steps.chipdata import read_crmask

__all__ = ["MosaicDemoResult", "run_mosaic_demo", "assemble_tiles", "quicklook_canvas"]

OUTPUT = "mosaic"
QUICKLOOK_PIXELS = 1024  # the quicklook's longer side at most


@dataclass
class MosaicDemoResult:
    """What the mosaic demo wrote and measured."""

    directory: Path
    n_exposures: int
    input_pixels: int
    tile_table: Path
    n_tiles: int
    frame_shape: tuple
    quicklook: Path
    seconds: float
    backend: str
    workers: int
    figures: ScienceFigures

    def summary(self) -> str:
        ny, nx = self.frame_shape
        return "\n".join([
            f"gpudriz demo --mosaic {self.n_exposures}: MultiDrizzle on a synthetic mosaic "
            f"({self.backend} backend, workers={self.workers}, {self.seconds:.1f} s)",
            f"input pixels: {self.input_pixels}; final frame {nx} x {ny} in {self.n_tiles} tiles ({self.tile_table})",
            f"quicklook: {self.quicklook}",
            self.figures.summary(),
        ])  # fmt: skip


def assemble_tiles(table_path):
    """``(SCI, WHT, WCS)`` of the whole final frame, pasted together from the tiles of a tile table."""
    table_path = Path(table_path)
    t = read_tile_table(table_path)
    ny, nx = int(t.meta["frame_ny"]), int(t.meta["frame_nx"])
    sci = np.full((ny, nx), np.nan, np.float32)
    wht = np.zeros((ny, nx), np.float32)
    wcs = None
    for row in t:
        x0, y0, tx, ty = (int(row[k]) for k in ("x0", "y0", "nx", "ny"))
        with fits.open(table_path.parent / row["file"]) as h:
            sci[y0 : y0 + ty, x0 : x0 + tx] = h["SCI"].data
            wht[y0 : y0 + ty, x0 : x0 + tx] = h["WHT"].data
            if wcs is None:
                wcs = WCS(h["SCI"].header)
                wcs.wcs.crpix = wcs.wcs.crpix + np.array([x0, y0], float)
    return sci, wht, wcs


def quicklook_canvas(table_path, max_pixels=QUICKLOOK_PIXELS):
    """The frame at reduced resolution: each tile block-averaged into a low-resolution canvas."""
    table_path = Path(table_path)
    t = read_tile_table(table_path)
    ny, nx = int(t.meta["frame_ny"]), int(t.meta["frame_nx"])
    b = max(1, -(-max(ny, nx) // max_pixels))
    canvas = np.zeros((-(-ny // b), -(-nx // b)))
    count = np.zeros_like(canvas)
    for row in t:
        x0, y0 = int(row["x0"]), int(row["y0"])
        data = fits.getdata(table_path.parent / row["file"], "SCI").astype(np.float64)
        good = np.isfinite(data)
        yy, xx = np.nonzero(good)
        np.add.at(canvas, ((yy + y0) // b, (xx + x0) // b), data[good])
        np.add.at(count, ((yy + y0) // b, (xx + x0) // b), 1.0)
    return np.where(count > 0, canvas / np.maximum(count, 1.0), np.nan)


def run_mosaic_demo(folder="gpudriz_mosaic", n_exposures=16, *, backend=None, workers=2, tile_size=None, seed=1,
                    chip_shape=(64, 128), **pars) -> MosaicDemoResult:  # fmt: skip
    """Write a synthetic mosaic of ``n_exposures`` in ``folder``, drizzle it in tiles, check it.

    ``tile_size`` defaults to 256 (small chips); ``workers`` is the pipeline's
    (0: in-process); ``**pars`` are more pipeline parameters.
    """
    folder = Path(folder)
    truth = make_mosaic(folder, n_exposures, chip_shape=tuple(chip_shape), seed=seed)
    tile_size = 256 if tile_size is None else int(tile_size)
    t0 = time.perf_counter()
    md = Multidrizzle(input=f"@{MOSAIC_LIST}", output=OUTPUT, tile_size=tile_size, workers=workers,
                      backend=backend, workdir=folder, **pars)  # fmt: skip
    md.build()
    md.run()
    seconds = time.perf_counter() - t0
    # The mosaic mode keeps the cosmic-ray masks in their files, not in memory.
    masks = {(w.chip.path.name, w.chip.extver): (read_crmask(w.task_input()), w.chip.wcs) for w in md.chips
             if w.crmask_file is not None}  # fmt: skip
    if not masks:
        raise ValueError("the mosaic demo's science figures need a run with driz_cr=yes.")
    table = folder / f"{OUTPUT}{TILE_TABLE_SUFFIX}"
    sci, wht, wcs = assemble_tiles(table)
    figures = evaluate_run(truth, masks, sci, wht, wcs)
    png = write_png(folder / f"{OUTPUT}_quicklook.png", quicklook_canvas(table))
    ny, nx = truth.chip_shape
    return MosaicDemoResult(folder, n_exposures, n_exposures * 2 * ny * nx, table, len(read_tile_table(table)),
                            sci.shape, png, seconds, md.backend.name, workers, figures)  # fmt: skip
