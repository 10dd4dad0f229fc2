"""Celestial WCS from FITS headers, and the linear part of a chip's WCS.

Exposures (:mod:`gpudriz.pipeline.io.instruments`), reference images
(:mod:`gpudriz.pipeline.geometry.outframe`, ``refimage``), shift-file
references (:mod:`gpudriz.pipeline.geometry.shiftfile`) and coefficients files
(:mod:`gpudriz.pipeline.geometry.distortion`) all turn a header into an
astropy WCS the same way: lookup tables read from the open file, astropy's
"fixed keyword" warnings silenced, and a failure reported as one
:class:`~gpudriz.pipeline.io.fits.InputError` sentence naming the file.
"""

from __future__ import annotations

import warnings

from astropy.wcs import WCS, FITSFixedWarning

from gpudriz.pipeline.io.fits import InputError, reason

__all__ = ["parse_wcs", "celestial_wcs", "linear_wcs"]


def parse_wcs(header, fobj, what: str, *, model: str = "WCS") -> WCS:
    """The WCS of ``header``, its lookup tables read from the open file ``fobj``.

    Parameters
    ----------
    header : astropy.io.fits.Header
        The header holding the WCS keywords.
    fobj : astropy.io.fits.HDUList
        The open file, for the ``WCSDVARR`` / ``D2IMARR`` extensions.
    what : str
        How to name the header in the error (``"'x.fits' SCI,1"``).
    model : str, optional
        What the header holds, for the error (``"WCS"``, ``"distortion model"``).

    Returns
    -------
    astropy.wcs.WCS

    Raises
    ------
    InputError
        ``"<what> has an unusable <model> (<astropy's reason>)."``
    """
    with warnings.catch_warnings():
        # HST headers carry keywords astropy "fixes" (dates, RADECSYS, NAXIS=0 images); harmless here
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            return WCS(header, fobj=fobj)
        except Exception as exc:  # astropy raises ValueError, KeyError, MemoryError... on bad headers
            raise InputError(f"{what} has an unusable {model} ({reason(exc)}).") from None


def celestial_wcs(header, fobj, what: str, shape) -> WCS:
    """The 2-D celestial WCS of an image ``header`` of ``shape`` ``(ny, nx)``.

    Parameters
    ----------
    header, fobj, what
        As for :func:`parse_wcs`.
    shape : tuple of int
        ``(ny, nx)`` of the image; it becomes the WCS's ``pixel_shape``.

    Returns
    -------
    astropy.wcs.WCS

    Raises
    ------
    InputError
        If the WCS cannot be parsed, or is not a 2-D celestial one.
    """
    w = parse_wcs(header, fobj, what)
    if w.naxis != 2 or not w.has_celestial:
        ctypes = ", ".join(repr(c) for c in w.wcs.ctype) or "none"
        raise InputError(f"{what} has no celestial WCS (CTYPE: {ctypes}); expected e.g. RA---TAN, DEC--TAN.")
    w.pixel_shape = (shape[1], shape[0])
    return w


def linear_wcs(w: WCS) -> WCS:
    """A copy of ``w`` with only its linear part: no SIP, no lookup tables, no ``-SIP`` CTYPE.

    Parameters
    ----------
    w : astropy.wcs.WCS
        A chip's WCS, distortion included.

    Returns
    -------
    astropy.wcs.WCS
        CRPIX, CRVAL, CD (or PC and CDELT) and projection of ``w``; its
        ``pixel_shape`` is kept.
    """
    lin = w.deepcopy()
    lin.sip = None
    lin.cpdis1 = lin.cpdis2 = None
    lin.det2im1 = lin.det2im2 = None
    # With SIP gone, "-SIP" would announce a model that is not there.
    lin.wcs.ctype = [c[:-4] if c.upper().endswith("-SIP") else c for c in lin.wcs.ctype]
    lin.wcs.set()
    return lin
