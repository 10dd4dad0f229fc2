"""driz_cr: step 7 of MultiDrizzle (manual section 1.4).

Each chip (sky in) is compared with its blotted median (sky added back):
pixels whose difference exceeds ``driz_cr_snr`` times the noise, or whose
neighbourhood does (``driz_cr_scale``), are cosmic rays.  The noise of
``D - B`` is the model ``|B| + rn**2`` plus the median's term
(``_bltvar.fits``), scaled to the chip's measured scatter of ``D - B``
(:func:`gpudriz.pipeline.steps.median_noise.noise_scale`; the scale is
logged and recorded as CRNOISE in the chip's ``_crmask`` extension).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

from gpudriz.backend.arrays import to_host, to_xp
from gpudriz.pipeline.state import ChipInput
from gpudriz.pipeline.steps.chipdata import backend_of, read_electrons, with_sky
from gpudriz.pipeline.steps.median_noise import noise_scale

__all__ = ["DrizCrParams", "CrResult", "driz_cr_chip"]


@dataclass(frozen=True)
class DrizCrParams:
    """driz_cr's parameters (manual Table 2: driz_cr_snr, driz_cr_scale, driz_cr_corr)."""

    snr: tuple
    scale: tuple
    corr: bool

    @classmethod
    def from_pars(cls, pars) -> DrizCrParams:
        """From the run's :class:`~gpudriz.pipeline.config.parameters.Parameters`."""
        return cls(tuple(pars["driz_cr_snr"]), tuple(pars["driz_cr_scale"]), bool(pars["driz_cr_corr"]))


@dataclass(frozen=True, eq=False)
class CrResult:
    """What driz_cr found in one chip.

    Attributes
    ----------
    crmask : bool array of the backend's ``xp``
        True = cosmic ray.
    noise_scale : float
        Measured noise of ``D - B`` over its model (CRNOISE).
    cor : ndarray or None
        With ``driz_cr_corr``: the chip in its file's units, cosmic rays
        replaced by the blot, sky as in the input.
    """

    crmask: object
    noise_scale: float
    cor: object = None


def driz_cr_chip(chip: ChipInput, blot_path: Path, median_var_path: Path | None,
                 params: DrizCrParams, backend) -> CrResult:  # fmt: skip
    """Cosmic rays of one chip: the chip against its blot (the step's task for one chip).

    Parameters
    ----------
    chip : ChipInput
        The chip, with its sky.
    blot_path : Path
        Its blotted median (blot step; electrons, sky not included).
    median_var_path : Path or None
        The median's term of the variance (blot step); None leaves it out.
    params : DrizCrParams
    backend : str or Backend

    Returns
    -------
    CrResult
    """
    be = backend_of(backend)
    xp = be.xp
    c = chip.chip
    # The noise model needs the sky in both images; |D - B| does not change.
    data = with_sky(chip, xp, read_electrons(chip, xp))
    blotted = to_xp(fits.getdata(blot_path), xp, np.float32) + xp.float32(chip.sky)
    rn = to_xp(c.rdnoise_map(), xp, np.float32)
    var_d = xp.abs(blotted) + rn * rn
    model = var_d
    if median_var_path is not None:
        model = var_d + to_xp(fits.getdata(median_var_path), xp, np.float32)
    c2 = noise_scale(data, blotted, model, xp)
    # What the kernel adds to var_d: the median's term and the measured level.
    median_var = (xp.float32(c2) * model - var_d).astype(xp.float32)
    mask = xp.zeros(c.shape, dtype=xp.uint8)
    # Data in electrons: the test is invariant under a common scale, so gain 1.
    be.ops.driz_cr(data, blotted, rn, mask, gain=1.0, snr=tuple(params.snr),
                   scale=tuple(params.scale), grow=0, median_var=median_var)  # fmt: skip
    crmask = mask.astype(bool)
    cor = None
    if params.corr:
        cor = xp.where(crmask, blotted, data)
        if not chip.sky_in_data:
            cor = cor - xp.float32(chip.sky)  # _cor keeps the input's sky state
        cor = to_host(cor) / np.float32(chip.to_electrons)
    return CrResult(crmask, math.sqrt(c2), cor)
