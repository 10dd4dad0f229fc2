"""Static bad-pixel mask: step 2 of MultiDrizzle (manual section 1.4).

Pixels far below a chip's sky are detector defects (cold pixels, bad
columns, over-subtracted darks) that recur at the same place in every
exposure.  Each exposure's chip gives a mask (:func:`chip_static_mask`);
:class:`StaticMask` AND-s the masks of all exposures of the same chip, so a
pixel found bad in any exposure is bad in all of them; a user's
``staticfile`` (:func:`read_static_file`) is AND-ed in as well.  The result
weights the sky, both drizzles and the final combination.

Mask convention: True (non-zero in a file) = good, False (zero) = bad, as
the drizzle weight masks and MultiDrizzle's static mask files: the manual
says the ``staticfile`` mask "will be applied to all input images", i.e.
multiplied into their weights, which keeps pixels where it is 1 and drops
them where it is 0.

Like :mod:`gpudriz.pipeline.steps.stats`, everything runs on the backend's array module
(``xp``: NumPy or CuPy) without moving pixels to the host; only the FITS
reader starts from host arrays, as all I/O does.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

from gpudriz.backend.arrays import to_xp
from gpudriz.pipeline.io.fits import InputError, reason
from gpudriz.pipeline.state import ChipInput
from gpudriz.pipeline.steps.chipdata import backend_of, dq_good, read_electrons
from gpudriz.pipeline.steps.stats import clipped_stats

__all__ = [
    "StaticParams",
    "static_chip",
    "combine_static",
    "chip_static_mask",
    "StaticMask",
    "read_static_file",
    "STATIC_NCLIP",
    "STATIC_NSIGMA",
    "STATIC_BINWIDTH",
]

log = logging.getLogger("gpudriz")

#: Clipping iterations, limit (sigma, both sides) and mode bin width (sigma)
#: of the statistics behind the threshold (algorithms.md, "Static mask").
STATIC_NCLIP = 3
STATIC_NSIGMA = 3.0
STATIC_BINWIDTH = 0.1

#: EXTNAME of the mask extensions of a ``staticfile``.
MASK_EXTNAME = "MASK"


def chip_static_mask(sci, *, xp, static_sig=4.0, dq_good=None, backend=None):
    """The static mask of one chip of one exposure: False where a pixel is far below the mode.

    MultiDrizzle manual section 1.4, step 2: a pixel is bad where
    ``sci < mode - static_sig * rms``, with the mode and rms (clipped sigma)
    of the chip from :func:`gpudriz.pipeline.steps.stats.clipped_stats` (3 iterations at
    3 sigma, mode bin width 0.1 sigma).

    Parameters
    ----------
    sci : 2-D array of ``xp``
        The chip's science data (any units: the threshold is relative).
    xp : module
        Array module of ``sci`` (``Backend.xp``).
    static_sig : float
        Threshold below the mode, in units of the rms.
    dq_good : bool array of ``xp``, optional
        True where the DQ array marks a pixel good; only those pixels enter
        the statistics.  None uses every pixel.
    backend : str or Backend, optional
        Whose passes compute the statistics (default: the CPU for NumPy
        arrays, CUDA for CuPy arrays; :func:`gpudriz.pipeline.steps.stats.clipped_stats`).

    Returns
    -------
    bool array of ``xp``
        Same shape as ``sci``; True = good.  Every pixel is compared with
        the threshold, those bad in DQ included.  NaN pixels stay True: a
        NaN is a problem of this exposure, handled by its own weights, not a
        defect to remove from every exposure.  When no pixel can be measured
        (all masked or non-finite) nothing is flagged (logged as a warning).

    Raises
    ------
    ValueError
        If ``static_sig`` is not a positive number or ``dq_good`` does not
        have the shape of ``sci``.
    """
    if (
        isinstance(static_sig, bool)
        or not isinstance(static_sig, numbers.Real)
        or not math.isfinite(static_sig)
        or static_sig <= 0
    ):
        raise ValueError(f"'static_sig' must be a positive number; got {static_sig!r}.")
    if dq_good is not None and tuple(dq_good.shape) != tuple(sci.shape):
        raise ValueError(
            f"'dq_good' has shape {tuple(dq_good.shape)}; expected the chip's shape {tuple(sci.shape)}."
        )
    stats = clipped_stats(
        sci,
        xp=xp,
        backend=backend,
        mask=dq_good,
        nclip=STATIC_NCLIP,
        lsigma=STATIC_NSIGMA,
        usigma=STATIC_NSIGMA,
        binwidth=STATIC_BINWIDTH,
    )
    if stats.npix == 0:
        log.warning("static mask: no usable pixel to measure the mode of a %s chip; nothing flagged.",
                    tuple(sci.shape))
        return xp.ones(sci.shape, dtype=bool)
    threshold = stats.mode - float(static_sig) * stats.sigma
    # A comparison with NaN is False, so NaN pixels stay good.
    return ~(xp.asarray(sci, dtype=xp.float64) < threshold)


class StaticMask:
    """AND of the static masks of all exposures, one mask per chip.

    Chips are identified by any hashable key (for example the chip number,
    SCI EXTVER, or a detector/chip tuple); the first mask added for a key
    fixes its shape and its place in :meth:`keys` order.

    Parameters
    ----------
    xp : module
        Array module the masks live in (``Backend.xp``); masks read from a
        ``staticfile`` are converted to it.
    """

    def __init__(self, xp=np):
        self.xp = xp
        self._masks: dict[Hashable, object] = {}

    def __contains__(self, chip_key) -> bool:
        return chip_key in self._masks

    def __len__(self) -> int:
        return len(self._masks)

    def keys(self) -> list:
        """Chip keys in the order their first mask was added."""
        return list(self._masks)

    def add(self, chip_key, mask) -> None:
        """AND ``mask`` (True = good) into the mask of chip ``chip_key``.

        Parameters
        ----------
        chip_key : hashable
            Which chip the mask belongs to.
        mask : 2-D bool array
            Of this accumulator's array module (anything ``xp.asarray``
            accepts); it is copied, never modified.

        Raises
        ------
        ValueError
            If ``mask`` is not 2-D or its shape differs from the masks
            already added for this chip.
        """
        mask = self.xp.asarray(mask)
        if mask.ndim != 2:
            raise ValueError(f"static mask for chip {chip_key!r} must be 2-D; got shape {tuple(mask.shape)}.")
        current = self._masks.get(chip_key)
        if current is None:
            self._masks[chip_key] = mask.astype(bool, copy=True)
            return
        if current.shape != mask.shape:
            raise ValueError(
                f"static mask for chip {chip_key!r} has shape {tuple(mask.shape)}; "
                f"earlier masks of that chip have shape {tuple(current.shape)}."
            )
        current &= mask.astype(bool)

    def get(self, chip_key):
        """The combined mask of chip ``chip_key`` (True = good).

        Raises
        ------
        KeyError
            If no mask was added for that chip.
        """
        try:
            return self._masks[chip_key]
        except KeyError:
            raise KeyError(f"no static mask was added for chip {chip_key!r}.") from None

    def add_file(self, path) -> None:
        """AND a user's ``staticfile`` into the masks of every chip added so far.

        The file's mask images are matched to :meth:`keys` in order (see
        :func:`read_static_file`) and must have the chips' shapes.

        Raises
        ------
        InputError
            As :func:`read_static_file`, or if no chip has been added yet.
        """
        if not self._masks:
            raise InputError(f"staticfile '{path}' cannot be applied before any chip mask was computed.")
        shapes = {key: tuple(mask.shape) for key, mask in self._masks.items()}
        for key, mask in read_static_file(path, self.keys(), shapes=shapes, xp=self.xp).items():
            self._masks[key] &= mask


def _mask_images(hdul) -> tuple[list[int], str]:
    """HDU indices of the mask images and how they were chosen."""
    named = [i for i, hdu in enumerate(hdul) if hdu.name.upper() == MASK_EXTNAME and hdu.is_image]
    if named:
        return named, f"{MASK_EXTNAME} extensions"
    images = [i for i, hdu in enumerate(hdul) if hdu.is_image and hdu.header.get("NAXIS", 0) == 2]
    return images, "2-D image HDUs"


def read_static_file(path, chip_keys: Sequence, *, shapes: Mapping | None = None, xp=np) -> dict:
    """Read a user's static bad-pixel mask file (MultiDrizzle's ``staticfile``).

    The file holds one 2-D image per chip: its ``MASK`` extensions when it
    has any, else every HDU holding a 2-D image (the primary HDU included),
    in file order.  The i-th image is the mask of ``chip_keys[i]``.
    Non-zero = good, zero = bad (the drizzle mask convention; see the module
    docstring); non-finite values are bad.

    Parameters
    ----------
    path : str or os.PathLike
        The FITS file.
    chip_keys : sequence of hashable
        The chips, in the order of the file's mask images.
    shapes : mapping of chip key to (ny, nx), optional
        Expected shape of each chip's mask; a mismatch is an error.
    xp : module
        Array module of the returned masks (``Backend.xp``).

    Returns
    -------
    dict
        Chip key -> 2-D bool mask of ``xp`` (True = good).

    Raises
    ------
    InputError
        If the file is missing or unreadable, holds no mask image or not one
        per chip, or a mask does not have its chip's shape; the message names
        the file and the chip.
    """
    chip_keys = list(chip_keys)
    if not chip_keys:
        raise ValueError("'chip_keys' must name at least one chip.")
    path = Path(os.fspath(path))
    if not path.is_file():
        raise InputError(f"staticfile '{path}' does not exist.")
    masks = {}
    try:
        with fits.open(path, mode="readonly", memmap=False) as hdul:
            indices, kind = _mask_images(hdul)
            if len(indices) != len(chip_keys):
                raise InputError(
                    f"staticfile '{path}' holds {len(indices)} {kind} but the inputs have "
                    f"{len(chip_keys)} chip(s) ({', '.join(repr(k) for k in chip_keys)}); "
                    f"expected one mask image per chip."
                )
            for key, index in zip(chip_keys, indices):
                data = hdul[index].data
                shape = None if data is None else tuple(data.shape)
                expected = None if shapes is None else shapes.get(key)
                if data is None or data.ndim != 2 or (expected is not None and shape != tuple(expected)):
                    want = "a 2-D image" if expected is None else f"{tuple(expected)}"
                    raise InputError(
                        f"staticfile '{path}' HDU {index} (mask of chip {key!r}) has shape {shape}; "
                        f"expected {want}."
                    )
                data = np.asarray(data)
                good = data != 0
                if data.dtype.kind == "f":
                    good &= np.isfinite(data)
                masks[key] = xp.asarray(good)
    except InputError:
        raise
    except Exception as exc:  # astropy raises OSError, ValueError, TypeError... on bad files
        raise InputError(f"staticfile '{path}' is not a readable FITS file ({reason(exc)}).") from None
    return masks


# -- the step's tasks -------------------------------------------------------------------


@dataclass(frozen=True)
class StaticParams:
    """The static step's parameters (manual Table 2).

    Attributes
    ----------
    static_sig : float
        Threshold below the mode, in units of the rms.
    """

    static_sig: float

    @classmethod
    def from_pars(cls, pars) -> StaticParams:
        """From the run's :class:`~gpudriz.pipeline.config.parameters.Parameters`."""
        return cls(pars["static_sig"])


def static_chip(chip: ChipInput, params: StaticParams, backend):
    """The static mask of one chip of one exposure (the step's task for one chip).

    Parameters
    ----------
    chip : ChipInput
        The chip (its data are read in electrons, its DQ-good pixels measured).
    params : StaticParams
    backend : str or Backend
        The backend's name.

    Returns
    -------
    bool array of the backend's ``xp``
        True = good (:func:`chip_static_mask`).
    """
    be = backend_of(backend)
    sci = read_electrons(chip, be.xp)
    return chip_static_mask(sci, xp=be.xp, static_sig=params.static_sig, dq_good=dq_good(chip.chip, be.xp),
                            backend=be)


def combine_static(chip_masks, backend, *, staticfile=None, shapes=None) -> dict:
    """AND the masks of every exposure per chip number, then the user's ``staticfile``.

    Parameters
    ----------
    chip_masks : sequence of (hashable, array)
        Each chip's key (SCI EXTVER) and its mask from :func:`static_chip`,
        in input order.
    backend : str or Backend
    staticfile : Path, optional
        The user's mask file (:func:`read_static_file`), AND-ed in.
    shapes : mapping of key to (ny, nx), optional
        Each chip number's shape, checked against the file.

    Returns
    -------
    dict
        Key -> combined mask (True = good), one array per chip number.
    """
    xp = backend_of(backend).xp
    acc = StaticMask(xp)
    for key, mask in chip_masks:
        acc.add(key, mask)
    keys = sorted(acc.keys())
    extra = read_static_file(staticfile, keys, shapes=shapes) if staticfile else {}
    combined = {}
    for key in acc.keys():
        mask = acc.get(key)
        if key in extra:
            mask = mask & to_xp(extra[key], xp)
        combined[key] = mask
    nbad = {k: int((~acc.get(k)).sum()) for k in keys}
    log.info("static: pixels masked per chip %s", nbad)
    return combined
