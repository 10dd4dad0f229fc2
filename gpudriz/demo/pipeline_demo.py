"""``gpudriz demo``: the whole MultiDrizzle pipeline on a built-in synthetic association.

Writes a seeded ACS/WFC-like association like the manual's (2-point dither x
CR-SPLIT=2, two distorted chips per exposure, stars, galaxies, sky, noise,
cosmic rays, hot pixels, bad columns; :mod:`gpudriz.demo.synthetic`), runs the
manual's Python session on it (``Multidrizzle(input=...)``, ``build()``,
``run()``), writes the products and a PNG quicklook of the final image, and
checks the result against the injected truth (:mod:`gpudriz.demo.science`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from astropy.io import fits
from astropy.wcs import WCS

from gpudriz.backend.arrays import to_host
from gpudriz.demo.quicklook import write_png
from gpudriz.demo.science import ScienceFigures, evaluate_run
from gpudriz.demo.synthetic import make_association
from gpudriz.pipeline.multidrizzle import Multidrizzle

__all__ = ["PipelineDemoResult", "run_pipeline_demo", "evaluate"]


@dataclass
class PipelineDemoResult:
    """What the demo wrote and measured."""

    directory: Path
    products: dict
    quicklook: Path
    seconds: float
    backend: str
    figures: ScienceFigures

    def summary(self) -> str:
        drz = self.products.get("drz") or self.products.get("drz_sci")
        return "\n".join([
            f"gpudriz demo: MultiDrizzle pipeline on a synthetic ACS/WFC association "
            f"({self.backend} backend, {self.seconds:.1f} s)",
            f"final product: {drz}",
            f"quicklook: {self.quicklook}",
            self.figures.summary(),
        ])  # fmt: skip


def evaluate(md, truth) -> ScienceFigures:
    """Science figures of a finished run ``md`` against ``truth`` (needs driz_cr's masks)."""
    masks = {}
    for w in md.chips:
        if w.crmask is not None:
            masks[(w.chip.path.name, w.chip.extver)] = (to_host(w.crmask), w.chip.wcs)
    if not masks:
        raise ValueError("the demo's science figures need a run with driz_cr=yes.")
    drz = md.products.get("drz")
    if drz is not None:
        with fits.open(drz) as h:
            image, weight, wcs = h["SCI"].data, h["WHT"].data, WCS(h["SCI"].header)
    else:
        with fits.open(md.products["drz_sci"]) as h:
            image, wcs = h[0].data, WCS(h[0].header)
        weight = fits.getdata(md.products["drz_wht"])
    return evaluate_run(truth, masks, image, weight, wcs)


def run_pipeline_demo(directory="gpudriz_demo", *, chip_shape=(256, 512), backend=None, seed=1,
                      **pars) -> PipelineDemoResult:  # fmt: skip
    """Make the synthetic association in ``directory``, run the pipeline on it, check it.

    Parameters
    ----------
    directory : str or Path
        Where the inputs, intermediates and products go (created if needed).
    chip_shape : tuple of int
        ``(ny, nx)`` of each chip; ACS/WFC's is (2048, 4096).
    backend : {"auto", "cpu", "cuda"} or None
    seed : int
        Seed of the synthetic data.
    **pars
        Pipeline parameters (Table 2 names).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    truth = make_association(directory, chip_shape=tuple(chip_shape), seed=seed)
    t0 = time.perf_counter()
    # The input is named relative to the working folder, as in the manual's
    # session run from the data's folder.
    md = Multidrizzle(input=truth.asn_file, workdir=directory, backend=backend, **pars)
    md.build()
    md.run()
    seconds = time.perf_counter() - t0
    figures = evaluate(md, truth)
    drz = md.products.get("drz")
    if drz is not None:
        image = fits.getdata(drz, "SCI")
    else:
        image = fits.getdata(md.products["drz_sci"])
    png = write_png(directory / f"{md.output}_drz.png", image)
    return PipelineDemoResult(directory, dict(md.products), png, seconds, md.backend.name, figures)
