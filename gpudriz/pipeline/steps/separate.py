"""driz_separate: step 4 of MultiDrizzle (manual section 1.4).

Each exposure is drizzled onto the separate frame on its own, in
electrons/s, its pixels weighted by the exposure time where they are good
(DQ and static mask), its sky removed.  The single images
(``<rootname>_single_sci.fits`` and ``_single_wht.fits``) are what the
median combines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gpudriz.backend.arrays import to_host
from gpudriz.pipeline.geometry.outframe import OutputFrame
from gpudriz.pipeline.io import products
from gpudriz.pipeline.io.provenance import Provenance
from gpudriz.pipeline.state import ChipInput, SingleImage
from gpudriz.pipeline.steps.chipdata import (
    backend_of,
    good_mask,
    new_drizzle,
    pixmap_to,
    scale_ratio,
    sky_subtracted,
)

__all__ = ["SeparateParams", "drizzle_exposure", "separate_exposure"]


@dataclass(frozen=True)
class SeparateParams:
    """driz_separate's parameters (manual Table 2: driz_sep_kernel, _pixfrac, _fillval)."""

    kernel: str
    pixfrac: float
    fillval: float | None

    @classmethod
    def from_pars(cls, pars) -> SeparateParams:
        """From the run's :class:`~gpudriz.pipeline.config.parameters.Parameters`."""
        return cls(pars["driz_sep_kernel"], pars["driz_sep_pixfrac"], pars["driz_sep_fillval"])


def drizzle_exposure(chips: Sequence[ChipInput], exptime: float, frame: OutputFrame,
                     params: SeparateParams, backend, pixmaps=None):  # fmt: skip
    """One exposure's chips drizzled onto ``frame``: the single image and its weights.

    Parameters
    ----------
    chips : sequence of ChipInput
        The exposure's chips, with their sky and static masks.
    exptime : float
        The exposure's time (seconds): the weight of its good pixels.
    frame : OutputFrame
        The separate frame.
    params : SeparateParams
    backend : str or Backend
    pixmaps : PixmapCache, optional
        Offered each chip's pixmap, for the blot (:mod:`~gpudriz.pipeline.steps.pixmap_cache`).

    Returns
    -------
    gpudriz.resample.Drizzle
        Its ``out_img`` (electrons/s) and ``out_wht``, on the backend.
    """
    be = backend_of(backend)
    d = new_drizzle(params.kernel, frame, params.fillval, be)
    for c in chips:
        s = scale_ratio(c.chip, frame)
        weights = good_mask(c, be.xp).astype(np.float32)
        pixmap = pixmap_to(c.chip, frame, be)
        if pixmaps is not None:
            pixmaps.offer(c.chip.name, pixmap)
        d.add_image(sky_subtracted(c, be.xp), exptime, pixmap,
                    weight_map=weights, wht_scale=exptime, pixfrac=params.pixfrac,
                    in_units="counts", iscale=s * s, pixel_scale_ratio=s)  # fmt: skip
    return d


def separate_exposure(chips: Sequence[ChipInput], exptime: float, frame: OutputFrame,
                      params: SeparateParams, backend, folder, prov: Provenance,
                      pixmaps=None) -> SingleImage:  # fmt: skip
    """driz_separate for one exposure: its single images written to ``folder``.

    Parameters
    ----------
    chips, exptime, frame, params, backend, pixmaps
        As :func:`drizzle_exposure`.
    folder : Path
        Where ``<rootname>_single_sci.fits`` and ``_single_wht.fits`` go.
    prov : Provenance
        The run's provenance record (their primary-header cards).

    Returns
    -------
    SingleImage
        The two files.
    """
    d = drizzle_exposure(chips, exptime, frame, params, backend, pixmaps)
    root = chips[0].rootname
    sci_path = Path(folder) / f"{root}_single_sci.fits"
    wht_path = Path(folder) / f"{root}_single_wht.fits"
    hdr = frame.header()
    products.write_image(sci_path, to_host(d.out_img), hdr, prov, bunit="ELECTRONS/S")
    products.write_image(wht_path, to_host(d.out_wht), hdr, prov)
    return SingleImage(root, sci_path, wht_path)
