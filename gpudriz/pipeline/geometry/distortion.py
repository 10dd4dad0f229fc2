"""The distortion model of the input chips: the manual's ``coeffs`` parameter.

MultiDrizzle (manual section 1.4, ``coeffs``) lets the distortion model come
from the image headers, from one of the old WFPC2 models, from a
coefficients file, or not be applied at all.  gpudriz keeps every model in
the chip's astropy WCS (:attr:`gpudriz.pipeline.io.instruments.Chip.wcs`), so each
choice here only decides which distortion terms that WCS carries:

``header`` (default)
    The full model in the headers, as :func:`gpudriz.pipeline.io.instruments.read_exposure`
    reads it: SIP polynomials and the lookup tables astropy reads (``CPDIS``
    / ``WCSDVARR`` and ``D2IM`` / ``D2IMARR``).  Nothing changes.
``none``
    No distortion correction: each chip keeps only its linear WCS (CRPIX,
    CRVAL, CD, the projection), without SIP, lookup tables or ``-SIP`` in
    CTYPE.
a FITS file name
    The chip's linear WCS from its input header, its distortion from the
    file.  For each chip the file's ``SCI`` extension with the chip's EXTVER
    is read (``SCI,1`` for chip 1 ...); a file without ``SCI`` extensions
    gives one model, in its primary header, for every chip.  The header
    holds SIP keywords (``A_ORDER``, ``A_p_q``, ``B_ORDER``, ``B_p_q``,
    optionally ``AP_ORDER``/``AP_p_q``/``BP_ORDER``/``BP_p_q``) and/or the
    lookup-table keywords astropy reads (``CPDISj``/``DPj.*`` with
    ``WCSDVARR`` extensions in the same file, ``D2IMDISj``/``D2IMj.*`` with
    ``D2IMARR`` extensions).  SIP coefficients are polynomials in pixel
    offsets from the reference pixel, so they are taken about the input
    header's CRPIX: a file written for another reference pixel gives a
    wrong model.
``cubic``, ``trauger``
    WFPC2-era coefficient models of the original ``drizzle``: not provided
    by gpudriz (an error says what to use instead).

The inputs are never changed: only the in-memory WCS of each chip is.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from astropy.io import fits
from astropy.wcs import WCS, Sip

from gpudriz.pipeline.config.parameters import ParameterError
from gpudriz.pipeline.geometry.wcs import linear_wcs, parse_wcs
from gpudriz.pipeline.io.fits import InputError, reason

__all__ = ["apply_coeffs", "linear_wcs", "read_distortion"]

log = logging.getLogger("gpudriz")

#: Named values of ``coeffs`` that are models gpudriz does not provide.
UNSUPPORTED_MODELS = ("cubic", "trauger")

# Header keywords of a distortion model: SIP (A_ORDER, A_2_0, AP_1_1 ...) and
# the lookup tables astropy reads (CPDIS1, DP1.EXTVER, D2IMDIS2, D2IM1.AXIS.1 ...).
_SIP_KEY = re.compile(r"^(A|B|AP|BP)_(ORDER|DMAX|\d+_\d+)$")
_TABLE_KEY = re.compile(r"^(CPDIS[12]|CPERR[12]|D2IMDIS[12]|D2IMERR[12]|D2IMEXT|AXISCORR|(DP|D2IM)[12](\..*)?)$")


def apply_coeffs(exposures, coeffs, *, cwd=None) -> None:
    """Give every chip the distortion model chosen by ``coeffs`` (in place).

    Parameters
    ----------
    exposures : list of gpudriz.pipeline.io.instruments.Exposure
        The exposures as read; each chip's ``wcs`` is replaced where the
        model changes.
    coeffs : str
        The ``coeffs`` parameter: ``"header"``, ``"none"``, ``"cubic"``,
        ``"trauger"`` or a FITS file name (see the module docstring).
    cwd : str or os.PathLike, optional
        Folder of a relative file name (default: the current directory).

    Raises
    ------
    gpudriz.pipeline.config.parameters.ParameterError
        For ``cubic`` or ``trauger``.
    gpudriz.pipeline.io.inputs.InputError
        If the file is missing or unreadable, or holds no distortion model
        for one of the chips.
    """
    choice = str(coeffs).strip()
    key = choice.lower()
    if key == "header":
        return
    if key in UNSUPPORTED_MODELS:
        raise ParameterError(
            f"coeffs = {choice}: the WFPC2-era '{key}' distortion model of the original drizzle is "
            "not provided by gpudriz; use 'header' (the SIP and lookup-table model in the image "
            "headers), 'none', or a FITS file holding SIP keywords or lookup tables."
        )
    chips = [c for e in exposures for c in e.chips]
    if key == "none":
        for chip in chips:
            chip.wcs = linear_wcs(chip.wcs)
        log.info("coeffs = none: no distortion correction; %d chip(s) use their linear WCS.", len(chips))
        return
    path = Path(cwd if cwd is not None else os.getcwd()) / choice
    for chip in chips:
        chip.wcs = read_distortion(path, chip.extver, linear_wcs(chip.wcs), chip=chip.name)
    log.info("coeffs = %s: distortion of %d chip(s) taken from %s.", choice, len(chips), path)


def read_distortion(path, extver: int, linear: WCS, *, chip: str = "") -> WCS:
    """``linear`` with the distortion model that ``path`` holds for chip ``extver``.

    Parameters
    ----------
    path : str or os.PathLike
        The FITS coefficients file (see the module docstring for its layout).
    extver : int
        The chip's SCI EXTVER.
    linear : astropy.wcs.WCS
        The chip's linear WCS (from :func:`linear_wcs`); it is not changed.
    chip : str, optional
        The chip's name, for messages.

    Returns
    -------
    astropy.wcs.WCS
        A copy of ``linear`` carrying the file's SIP (about ``linear``'s
        CRPIX) and lookup tables.

    Raises
    ------
    gpudriz.pipeline.io.inputs.InputError
        If the file is missing or unreadable, has ``SCI`` extensions but
        none for ``extver``, or holds no distortion model there.
    """
    path = Path(path)
    what = f"coeffs file '{path}'"
    if not path.is_file():
        raise InputError(f"{what} does not exist.")
    try:
        hdul = fits.open(path, mode="readonly", memmap=False)
    except Exception as exc:  # astropy raises OSError, ValueError, TypeError... for a bad file
        raise InputError(f"{what} is not a readable FITS file ({reason(exc)}).") from None
    with hdul:
        header, where = _model_header(hdul, extver, what)
        model = _distortion_of(header, hdul, linear, f"{what} {where}")
    if model.sip is None and model.cpdis1 is None and model.cpdis2 is None \
            and model.det2im1 is None and model.det2im2 is None:  # fmt: skip
        for_chip = f" for {chip}" if chip else ""
        raise InputError(f"{what} {where} holds no distortion model{for_chip}: expected SIP keywords "
                         "(A_ORDER, A_p_q, B_ORDER, B_p_q) or lookup-table keywords (CPDISj, D2IMDISj).")  # fmt: skip
    return model


def _model_header(hdul, extver, what):
    """The header holding chip ``extver``'s model: ``SCI,extver``, or the primary without SCI extensions."""
    sci = [h for h in hdul[1:] if h.name == "SCI"]
    if not sci:
        return hdul[0].header, "(primary header)"
    for h in sci:
        if h.ver == extver:
            return h.header, f"[SCI,{extver}]"
    have = ", ".join(f"SCI,{h.ver}" for h in sci)
    raise InputError(f"{what} has no SCI,{extver} extension for chip {extver} (it has {have}).")


def _distortion_of(header, hdul, linear, label) -> WCS:
    """``linear`` plus the distortion keywords of ``header`` (tables read from ``hdul``)."""
    merged = linear.to_header(relax=True)
    cards = [card for card in header.cards if _SIP_KEY.match(card.keyword) or _TABLE_KEY.match(card.keyword)]
    has_sip = any(card.keyword in ("A_ORDER", "B_ORDER") for card in cards)
    if has_sip:
        for i, ctype in enumerate(linear.wcs.ctype, 1):
            merged[f"CTYPE{i}"] = ctype + "-SIP"
    for card in cards:
        merged.append(card, end=True)
    parsed = parse_wcs(merged, hdul, label, model="distortion model")
    # Copy only the distortion onto the exact linear WCS: a header round trip
    # could round CRVAL or CD in their last digits.
    out = linear.deepcopy()
    if parsed.sip is not None:
        sip = parsed.sip
        out.sip = Sip(sip.a, sip.b, sip.ap, sip.bp, linear.wcs.crpix)
        out.wcs.ctype = [c + "-SIP" for c in linear.wcs.ctype]
    out.cpdis1, out.cpdis2 = parsed.cpdis1, parsed.cpdis2
    out.det2im1, out.det2im2 = parsed.det2im1, parsed.det2im2
    out.wcs.set()
    out.pixel_shape = linear.pixel_shape
    return out
