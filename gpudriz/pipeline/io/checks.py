"""Checks of the whole input set, run by :meth:`gpudriz.Multidrizzle.build` before any work.

Each input is read alone by :mod:`gpudriz.pipeline.io.inputs` and :mod:`gpudriz.pipeline.io.instruments`;
what can only be seen across inputs, or in the pixels, is checked here, at
build time, so that a run does not fail (or go silently wrong) at step 7 after
all the work of steps 2-6.  Errors are one sentence naming the file(s) and
what is expected (design principle 10); conditions a run can go on with are
logged as warnings that say what happens.
"""

from __future__ import annotations

import logging

import numpy as np
from astropy.io import fits

from gpudriz.pipeline.io.fits import InputError

__all__ = ["check_rootnames", "check_chip_shapes", "check_wcs", "check_ivms", "empty_chips", "chip_emptiness",
           "warn_empty", "NO_FINITE_PIXEL", "ALL_ZERO"]  # fmt: skip

log = logging.getLogger("gpudriz")


def check_rootnames(exposures) -> None:
    """Refuse two exposures with the same rootname.

    Intermediates (``<rootname>_single_sci.fits``, ``_crmask.fits``, blots)
    are named from the rootname, so two exposures sharing one would overwrite
    each other's files and the product would silently use one twice.  This
    happens with a copied ROOTNAME keyword, or with the ``_flt`` and the
    ``_flc`` of one exposure matched by one wildcard.

    Parameters
    ----------
    exposures : list of gpudriz.pipeline.io.instruments.Exposure

    Raises
    ------
    InputError
        Naming both files.
    """
    seen = {}
    for e in exposures:
        other = seen.setdefault(e.rootname, e)
        if other is not e:
            raise InputError(
                f"exposures '{other.path}' and '{e.path}' have the same rootname {e.rootname!r} "
                "(ROOTNAME keyword, else the file name), so their intermediate files would overwrite "
                "each other; give only one of them (e.g. not both the _flt and the _flc of an "
                "exposure), or give them different ROOTNAMEs."
            )


def check_chip_shapes(exposures) -> None:
    """Refuse chips of the same number (EXTVER) with different shapes.

    The static mask is AND-ed over the chips of one number across exposures
    (manual, step 2), so they must share a shape.

    Raises
    ------
    InputError
        Naming both chips and their shapes.
    """
    first = {}
    for e in exposures:
        for c in e.chips:
            ref = first.setdefault(c.extver, c)
            if ref.shape != c.shape:
                raise InputError(
                    f"'{c.path}' SCI,{c.extver} has shape {c.shape} but '{ref.path}' SCI,{ref.extver} "
                    f"has {ref.shape}; chips of the same number must have the same shape in every exposure."
                )


def _header_cd(header):
    """The CD matrix as the header writes it (missing elements 0), or None without CD cards.

    Read from the header, not the WCS object: wcslib's ``cdfix`` silently
    replaces a zero row or column by a unit diagonal (1 degree per pixel).
    """
    keys = [f"CD{i}_{j}" for i in (1, 2) for j in (1, 2)]
    if not any(k in header for k in keys):
        return None
    try:
        return np.array([[float(header.get(f"CD{i}_{j}", 0.0)) for j in (1, 2)] for i in (1, 2)])
    except (TypeError, ValueError):
        return np.full((2, 2), np.nan)


def check_wcs(exposures) -> None:
    """Refuse a chip whose linear WCS (CD matrix) is singular or not finite.

    Such a WCS maps the chip to a line or to nowhere; without this check the
    output frame computation fails with a message about the footprint that
    does not name the file.

    Raises
    ------
    InputError
        Naming the file and chip.
    """
    for e in exposures:
        for c in e.chips:
            m = _header_cd(c.header)
            if m is None:
                m = np.asarray(c.wcs.pixel_scale_matrix, dtype=float)
            det = float(np.linalg.det(m)) if np.all(np.isfinite(m)) else float("nan")
            # Relative test: a determinant tiny against the matrix's own scale is singular.
            if not np.isfinite(det) or abs(det) <= 1e-12 * float(np.max(np.abs(m))) ** 2:
                raise InputError(
                    f"'{c.path}' SCI,{c.extver} has a singular or non-finite CD matrix "
                    f"({m.ravel().tolist()} deg/pixel); expected an invertible pixel-to-sky matrix."
                )


def _ivm_shapes(path):
    """``(EXTNAME, EXTVER, shape)`` of every image HDU of an IVM file, from its headers only."""
    out = []
    with fits.open(path, memmap=False, lazy_load_hdus=True) as h:
        for hdu in h:
            if hdu.is_image and hdu.header.get("NAXIS", 0) == 2:
                shape = (int(hdu.header["NAXIS2"]), int(hdu.header["NAXIS1"]))
                out.append((str(hdu.header.get("EXTNAME", "")).upper(), hdu.header.get("EXTVER", 1), shape))
    return out


def check_ivms(exposures, ivms) -> None:
    """Check that every IVM file given holds an image of the right shape for each chip.

    The same selection as :func:`gpudriz.pipeline.io.products.read_ivm` (the ``IVM``
    extension of the chip's EXTVER, else the chip's image by position),
    from the headers only, so that a wrong IVM is refused at build, not at
    the final drizzle after all the other steps.

    Raises
    ------
    InputError
        Naming the IVM file and the chip.
    """
    for e, path in zip(exposures, ivms):
        if path is None:
            continue
        images = _ivm_shapes(path)
        for c in e.chips:
            named = [s for name, ver, s in images if name == "IVM" and ver == c.extver]
            shape = named[0] if named else (images[c.extver - 1][2] if len(images) >= c.extver else None)
            if shape != c.shape:
                found = "none" if shape is None else f"shape {shape}"
                raise InputError(
                    f"IVM file '{path}' has no {c.shape} image for chip {c.extver} of '{e.path}' "
                    f"(found {found}); expected an IVM extension, or one image per chip, of the chip's shape."
                )


#: Why a chip has no data (:func:`chip_emptiness`), in the words of its warning.
NO_FINITE_PIXEL = "no finite pixel (all NaN or infinite); the chip contributes nothing."
ALL_ZERO = "every pixel is 0 (no data?); it is left out of its exposure's sky."


def chip_emptiness(sci, xp=np) -> str | None:
    """Why a chip whose science array is ``sci`` has no data (:data:`NO_FINITE_PIXEL`, :data:`ALL_ZERO`), or None.

    Scaling by a positive number (to electrons) changes neither answer.
    """
    finite = xp.isfinite(sci)
    if not bool(finite.any()):
        return NO_FINITE_PIXEL
    if not bool(xp.any(sci[finite])):
        return ALL_ZERO
    return None


def warn_empty(exposure_path, chip_names, reasons) -> None:
    """One warning per chip without data (``reasons``: :func:`chip_emptiness`'s), one more if all are NaN."""
    for name, why in zip(chip_names, reasons):
        if why is not None:
            log.warning("%s: %s", name, why)
    if reasons and all(why == NO_FINITE_PIXEL for why in reasons):
        log.warning("'%s': every chip is all NaN; the exposure contributes nothing.", exposure_path)


def empty_chips(exposures) -> set:
    """Chips with no data: every pixel non-finite, or every pixel zero; each logged as a warning.

    An all-zero chip would give its exposure a sky of 0 (the minimum over
    its chips) and make driz_cr flag much of the other chips; the sky step
    leaves such chips out of the minimum.  Their pixels are still drizzled
    (zero can be real data, e.g. a noiseless, sky-subtracted simulation);
    non-finite pixels never contribute anything.  Each chip's SCI is read
    once, one at a time.  (The mosaic mode's sky tasks find them instead,
    on the data they read: :func:`chip_emptiness`.)

    Returns
    -------
    set of (pathlib.Path, int)
        ``(file, EXTVER)`` of the empty chips.
    """
    empty = set()
    for e in exposures:
        reasons = [chip_emptiness(c.read_sci()) for c in e.chips]
        empty.update((c.path, c.extver) for c, why in zip(e.chips, reasons) if why is not None)
        warn_empty(e.path, [c.name for c in e.chips], reasons)
    return empty
