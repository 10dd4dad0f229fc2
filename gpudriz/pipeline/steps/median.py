"""median: step 5 of MultiDrizzle (manual section 1.4).

The single images are combined pixel by pixel (``combine_type``: median,
minmed...) section by section under :data:`gpudriz.pipeline.state.MEDIAN_BUDGET`,
one file open at a time whatever the number of inputs
(:mod:`gpudriz.pipeline.io.sections`).  Besides the median
(``<output>_med.fits``, e-/s) the step writes the number of good values
combined at each pixel (``<output>_med_count.fits``), from which the blot
step derives the median's part of driz_cr's noise
(:mod:`gpudriz.pipeline.steps.median_noise`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from astropy.io import fits

from gpudriz.backend.arrays import to_host, to_xp
from gpudriz.pipeline.geometry.outframe import OutputFrame
from gpudriz.pipeline.io import products
from gpudriz.pipeline.io.provenance import Provenance
from gpudriz.pipeline.io.sections import stack_rows
from gpudriz.pipeline.state import MASKPT, MEDIAN_BUDGET, MedianImage, PipelineError
from gpudriz.pipeline.steps.chipdata import backend_of

__all__ = ["MedianParams", "median_singles"]


@dataclass(frozen=True)
class MedianParams:
    """The median step's parameters (manual Table 2: combine_*, median_newmasks)."""

    combine_type: str
    combine_nsigma: tuple
    combine_nlow: int
    combine_nhigh: int
    combine_lthresh: float | None
    combine_hthresh: float | None
    combine_grow: float
    median_newmasks: bool

    @classmethod
    def from_pars(cls, pars) -> MedianParams:
        """From the run's :class:`~gpudriz.pipeline.config.parameters.Parameters`."""
        return cls(**{f.name: pars[f.name] for f in fields(cls)})


def median_singles(sci_paths: Sequence[Path], wht_paths: Sequence[Path], exptime, sky, rdnoise,
                   frame: OutputFrame, params: MedianParams, backend, folder, output: str,
                   prov: Provenance) -> MedianImage:  # fmt: skip
    """Combine the single images into the median and its counts, written to ``folder``.

    Parameters
    ----------
    sci_paths, wht_paths : sequence of Path
        The single images and their weights (driz_separate), one per exposure.
    exptime, sky, rdnoise : sequence of float
        Per single image: the exposure time, its chips' mean sky (electrons)
        and mean read noise (minmed's noise model).
    frame : OutputFrame
        The separate frame.
    params : MedianParams
    backend : str or Backend
    folder : Path
    output : str
        Rootname of ``<output>_med.fits`` and ``<output>_med_count.fits``.
    prov : Provenance

    Returns
    -------
    MedianImage

    Raises
    ------
    PipelineError
        Without single images, or with more than one median can count.
    """
    if not sci_paths:
        raise PipelineError("median: there are no separate drizzled images; run driz_separate.")
    be = backend_of(backend)
    xp = be.xp
    n = len(sci_paths)
    if n > np.iinfo(np.int16).max:
        raise PipelineError(f"median: {n} separate images are more than the "
                            f"{np.iinfo(np.int16).max} one median can count.")  # fmt: skip
    ny, nx = frame.shape
    grow = int(round(params.combine_grow)) if params.combine_type == "minmed" else 0
    # wht_min per image: median_newmasks masks low-weight pixels.
    wht_min = np.zeros(n, dtype=np.float32)
    if params.median_newmasks:
        for i, wht_path in enumerate(wht_paths):
            with fits.open(wht_path, memmap=True) as h:
                wht = h[0].data
                pos = wht[wht > 0]
                wht_min[i] = MASKPT * float(pos.mean()) if pos.size else 0.0
    exptime = np.array(exptime, dtype=np.float32)
    sky = np.array(sky, dtype=np.float32)
    rdnoise = np.array(rdnoise, dtype=np.float32)
    # Three (n, rows, nx) float32 stacks live at once: data, weights, scratch.
    rows = max(1, int(MEDIAN_BUDGET // (3 * 4 * n * nx)) - 2 * grow)
    median = np.empty((ny, nx), dtype=np.float32)
    counts = np.empty((ny, nx), dtype=np.int16)  # at most n <= 32767 images: checked above
    # One file open at a time, whatever the number of inputs (gpudriz.pipeline.io.sections).
    for r0 in range(0, ny, rows):
        r1 = min(ny, r0 + rows)
        a0 = max(0, r0 - grow)
        a1 = min(ny, r1 + grow)
        sci = stack_rows(list(sci_paths), a0, a1)
        wht = stack_rows(list(wht_paths), a0, a1)
        out = xp.empty((a1 - a0, nx), dtype=xp.float32)
        count = xp.empty((a1 - a0, nx), dtype=xp.int32)
        be.ops.combine(
            to_xp(sci, xp), to_xp(wht, xp), to_xp(wht_min, xp), out, params.combine_type,
            nlow=params.combine_nlow, nhigh=params.combine_nhigh, lthresh=params.combine_lthresh,
            hthresh=params.combine_hthresh, exptime=to_xp(exptime, xp), sky=to_xp(sky, xp),
            rdnoise=to_xp(rdnoise, xp), nsigma=tuple(params.combine_nsigma), grow=grow,
            fill=0.0, count=count,
        )  # fmt: skip
        inner = slice(r0 - a0, r0 - a0 + (r1 - r0))
        median[r0:r1] = to_host(out)[inner]
        counts[r0:r1] = to_host(count[inner])
    path = Path(folder) / f"{output}_med.fits"
    products.write_image(path, median, frame.header(), prov, bunit="ELECTRONS/S")
    count_path = Path(folder) / f"{output}_med_count.fits"
    products.write_image(count_path, counts, frame.header(), prov)
    return MedianImage(path, count_path, n)
