"""driz_combine, the final drizzle: step 8 of MultiDrizzle (manual section 1.4).

The sky-subtracted chips are drizzled onto the final frame, weighted per
``final_wht_type`` (EXP, ERR or IVM), their cosmic rays and bad pixels
masked.  Each chip's variance (:func:`chip_variance`) is drizzled alongside
as ``data2``, co-added with the squared weights (drizzle 3.x), so that
``sqrt(out_img2)`` is the propagated error of SCI in electrons/s: the
product's ERR.  A pixel whose variance is negative or non-finite gets
weight 0 (it is left out of SCI too: its noise is unknown).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gpudriz.backend.arrays import to_host, to_xp
from gpudriz.pipeline.geometry.outframe import OutputFrame
from gpudriz.pipeline.io import products
from gpudriz.pipeline.io.instruments import part_slices
from gpudriz.pipeline.state import ChipInput
from gpudriz.pipeline.steps.chipdata import (
    backend_of,
    chip_part,
    drizzle_margin,
    good_mask,
    input_box,
    new_drizzle,
    part_is_whole,
    pixmap_to,
    read_electrons,
    scale_ratio,
    sky_subtracted,
    with_sky,
)

__all__ = ["FinalParams", "FinalImage", "chip_variance", "final_drizzle", "add_chip", "tile_part", "final_error"]

log = logging.getLogger("gpudriz")


@dataclass(frozen=True)
class FinalParams:
    """The final drizzle's parameters (manual Table 2: final_*, context)."""

    kernel: str
    pixfrac: float
    fillval: float | None
    wht_type: str
    context: bool

    @classmethod
    def from_pars(cls, pars) -> FinalParams:
        """From the run's :class:`~gpudriz.pipeline.config.parameters.Parameters`."""
        return cls(pars["final_kernel"], pars["final_pixfrac"], pars["final_fillval"],
                   pars["final_wht_type"], bool(pars["context"]))  # fmt: skip


@dataclass(frozen=True, eq=False)
class FinalImage:
    """The final drizzle on the host: SCI (electrons/s), WHT, CTX (or None) and ERR (electrons/s)."""

    sci: np.ndarray
    wht: np.ndarray
    ctx: np.ndarray | None
    err: np.ndarray

    def planes(self) -> dict:
        """Extension name -> array, as :func:`gpudriz.pipeline.io.products.write_drizzle_product` takes them."""
        return {"SCI": self.sci, "WHT": self.wht, "CTX": self.ctx, "ERR": self.err}


def chip_variance(chip: ChipInput, xp, data, part=None):
    """Variance of every pixel of the chip in electrons^2, on ``xp``.

    From the ERR extension when the chip has one, ``(ERR x to_electrons)^2``;
    otherwise the noise model ``max(data, 0) + rdnoise^2`` per amplifier, with
    ``data`` the chip in electrons as read
    (:func:`gpudriz.pipeline.steps.chipdata.read_electrons`), with the sky
    included (a sky removed before gpudriz, ``skyuser``, or in the file,
    ``workinplace``, is added back: it was photons too).  Unusable pixels
    (negative ERR, non-finite values) are NaN.  ``part`` ``(x0, y0, nx, ny)``:
    ``data`` is those pixels of the chip, and so is the variance.
    """
    c = chip.chip
    if c.has_err:
        err = to_xp(c.read_err(part) * np.float32(chip.to_electrons), xp, np.float32)
        return xp.where(err >= 0, err * err, xp.float32(np.nan))
    data = with_sky(chip, xp, data)
    rn = to_xp(c.rdnoise_map()[part_slices(part)], xp, np.float32)
    # NaN data stay NaN (np.maximum propagates it), so they are flagged below.
    return xp.maximum(data, xp.float32(0.0)) + rn * rn


def final_drizzle(chips: Sequence[ChipInput], ivm_paths: Sequence, frame: OutputFrame,
                  params: FinalParams, backend) -> FinalImage:  # fmt: skip
    """The final drizzle of ``chips`` onto ``frame`` (cosmic rays masked), with its ERR.

    Parameters
    ----------
    chips : sequence of ChipInput
        The chips, with their sky, static and cosmic-ray masks; chip k is
        context bit k.
    ivm_paths : sequence of Path or None
        Each chip's inverse-variance map file (``final_wht_type = IVM``).
    frame : OutputFrame
        The final frame.
    params : FinalParams
    backend : str or Backend

    Returns
    -------
    FinalImage
    """
    be = backend_of(backend)
    xp = be.xp
    ny, nx = frame.shape
    # The variance output (float32) and ERR computed from it: two more output-sized arrays.
    be.ops.check_memory(2 * 4 * ny * nx, f"the {nx}x{ny} final variance and ERR arrays")
    d = new_drizzle(params.kernel, frame, params.fillval, be, context=params.context,
                    nimages=len(chips))  # fmt: skip
    for c, ivm_path in zip(chips, ivm_paths):
        add_chip(d, c, ivm_path, frame, params, be)
    err = final_error(d, params.fillval, xp)
    sci = to_host(d.out_img).astype(np.float32)
    wht = to_host(d.out_wht).astype(np.float32)
    ctx = None if d.out_ctx is None else to_host(d.out_ctx)
    if ctx is not None and ctx.shape[0] == 1:
        ctx = ctx[0]
    return FinalImage(sci, wht, ctx, err)


def add_chip(d, c: ChipInput, ivm_path, frame: OutputFrame, params: FinalParams, be, origin=None):
    """Drizzle chip ``c`` (cosmic rays masked, weighted per ``params.wht_type``) and its variance into ``d``.

    ``frame`` is the frame the chip's pixmap is computed to; ``origin``
    ``(x0, y0)``, when given, is the pixel of that frame at which ``d``'s
    output starts (a tile's corner, :mod:`gpudriz.pipeline.steps.tiles`):
    the pixmap is shifted by it, an exact operation on whole numbers, and
    only the part of the chip that lands on ``d``'s output is read, mapped
    and drizzled (:func:`tile_part`).
    """
    xp = be.xp
    s = scale_ratio(c.chip, frame)
    part, box = None, {}
    if origin is None:
        pixmap = pixmap_to(c.chip, frame, be)
    else:
        part, pixmap, box = tile_part(c, frame, origin, d.out_img.shape, drizzle_margin(params.pixfrac, s), be)
    exptime = c.chip.exptime
    good = good_mask(c, xp, with_cr=True, part=part).astype(np.float32)
    data = read_electrons(c, xp, part)  # read once: the variance model and SCI
    var = chip_variance(c, xp, data, part)
    kind = params.wht_type
    if kind == "EXP":
        weights = good * np.float32(exptime)
    elif kind == "ERR":
        # var is ERR^2 in electrons^2 here (final_wht_type ERR needs ERR extensions).
        with np.errstate(divide="ignore", invalid="ignore"):
            ivar = xp.where(var > 0, np.float32(exptime) ** 2 / var, 0.0)
        weights = good * ivar.astype(np.float32)
    else:  # IVM
        ivm = products.read_ivm(ivm_path, c.chip)[part_slices(part)]
        weights = good * to_xp(ivm, xp, np.float32)
    usable = xp.isfinite(var)
    weights = xp.where(usable, weights, xp.float32(0.0))
    var = xp.where(usable, var, xp.float32(0.0))
    # data2 is scaled by (iscale / exptime)^2 like the data by iscale / exptime:
    # electrons^2 in, (electrons/s)^2 out, the square of SCI's units.
    d.add_image(sky_subtracted(c, xp, data), exptime, pixmap, data2=var, weight_map=weights,
                pixfrac=params.pixfrac, in_units="counts", iscale=s * s, pixel_scale_ratio=s, **box)  # fmt: skip


def tile_part(c: ChipInput, frame: OutputFrame, origin, out_shape, margin: float, be):
    """The part of chip ``c`` that lands on a tile: ``(part, pixmap, box)``.

    ``part`` ``(x0, y0, nx, ny)`` of the chip (None: the whole chip),
    ``pixmap`` the part's pixmap shifted to the tile at ``origin``, ``box``
    the ``add_image`` bounds (within the part) of the pixels whose mapped
    centres fall on the tile widened by ``margin``: the pixels the whole
    chip's pixmap would select (:func:`~gpudriz.pipeline.steps.chipdata.input_box`).
    A full-size chip reaches several tiles: each reads and maps only its part.
    A chip none of whose pixels lands there gives its first 2 x 2 pixels, which land
    elsewhere: drizzled, it puts nothing on the tile but still takes its
    context bit and its exposure time, as the whole chip would.
    """
    xp = be.xp
    shift = xp.asarray(origin, dtype=xp.float64)
    part = chip_part(c.chip, frame, origin, out_shape, margin)
    found = None
    if part is not None:
        pixmap = pixmap_to(c.chip, frame, be, part) - shift
        found = input_box(pixmap, out_shape, margin, xp)
    if found is not None and not part_is_whole(found, part, c.chip.shape):
        # The coarse map missed some of it (a map that bends within a cell): the whole chip, as untiled.
        log.debug("%s: its part %s on the tile at %s is too small; the whole chip is used.", c.chip.name, part, origin)
        part = None
        pixmap = pixmap_to(c.chip, frame, be) - shift
        found = input_box(pixmap, out_shape, margin, xp)
    if found is None:
        part = (0, 0, min(2, c.chip.shape[1]), min(2, c.chip.shape[0]))  # the square kernel takes 2 x 2 at least
        return part, pixmap_to(c.chip, frame, be, part) - shift, {}
    return part, pixmap, dict(zip(("xmin", "xmax", "ymin", "ymax"), found))


def final_error(d, fillval, xp):
    """ERR of the final drizzle ``d``: ``sqrt(out_img2)`` in electrons/s, on the host.

    Pixels without input (zero weight) get ``fillval`` when it is set, else 0.
    """
    var = d.out_img2[0]
    empty = d.out_wht == 0
    err = xp.sqrt(xp.where(empty, xp.float32(0.0), var))
    err = xp.where(empty, xp.float32(0.0 if fillval is None else fillval), err)
    return to_host(err).astype(np.float32)
