"""Small HST-like exposure files for the instrument-model tests (ACS/WFC, WFC3/UVIS, HRC, IR, generic)."""

import numpy as np
from astropy.io import fits

#: (ny, nx) of the small test chips.
SHAPE = (6, 10)
AMP_GAIN = {"A": 1.5, "B": 1.6, "C": 2.0, "D": 2.1}
AMP_NOISE = {"A": 4.0, "B": 4.5, "C": 5.0, "D": 5.5}


def tan_header(shape=SHAPE, scale=0.05, crval=(150.0, 2.0), sip=False, crpix=None):
    """A TAN (or TAN-SIP) header at ``scale`` arcsec/pixel."""
    ny, nx = shape
    cx, cy = crpix if crpix is not None else ((nx + 1) / 2.0, (ny + 1) / 2.0)
    d = scale / 3600.0
    h = fits.Header()
    suffix = "-SIP" if sip else ""
    h.update(CTYPE1="RA---TAN" + suffix, CTYPE2="DEC--TAN" + suffix, CRVAL1=crval[0], CRVAL2=crval[1],
             CRPIX1=cx, CRPIX2=cy, CD1_1=-d, CD1_2=0.0, CD2_1=0.0, CD2_2=d)  # fmt: skip
    if sip:
        h.update(A_ORDER=2, B_ORDER=2, A_2_0=2e-3, A_1_1=1e-3, A_0_2=-1e-3, B_2_0=5e-4, B_1_1=-1e-3, B_0_2=2e-3)
    return h


def primary_hdu(instrument, detector, *, ccdamp="ABCD", exptime=400.0, **extra):
    """A primary HDU with INSTRUME, DETECTOR, CCDAMP, EXPTIME and every amplifier's gain and read noise."""
    h = fits.Header()
    if instrument:
        h["INSTRUME"] = instrument
    if detector:
        h["DETECTOR"] = detector
    if ccdamp is not None:
        h["CCDAMP"] = ccdamp
    if exptime is not None:
        h["EXPTIME"] = exptime
    for a in "ABCD":
        h[f"ATODGN{a}"] = AMP_GAIN[a]
        h[f"READNSE{a}"] = AMP_NOISE[a]
    h.update(extra)
    return fits.PrimaryHDU(header=h)


def chip_hdus(extver, shape=SHAPE, *, sci_extra=None, err=True, dq=True, dq_dtype=np.int16, value=None, wcs=None):
    """SCI (and ERR, DQ) extensions of chip ``extver``."""
    sci_h = tan_header(shape) if wcs is None else wcs.copy()
    sci_h.update(sci_extra or {})
    data = np.arange(shape[0] * shape[1], dtype=np.float32).reshape(shape) + 100 * extver if value is None else value
    hdus = [fits.ImageHDU(data, header=sci_h, name="SCI", ver=extver)]
    if err:
        hdus.append(fits.ImageHDU(np.full(shape, 0.5 * extver, np.float32), name="ERR", ver=extver))
    if dq:
        flags = np.zeros(shape, dtype=dq_dtype)
        flags[0, :4] = [0, 4, 4096, 16]
        hdus.append(fits.ImageHDU(flags, name="DQ", ver=extver))
    return hdus


def make_two_chip(path, instrument="ACS", detector="WFC", *, ccdamp="ABCD", sci_extra=None, primary_extra=None,
                  bunit="ELECTRONS", **chip_kw):  # fmt: skip
    """ACS/WFC or WFC3/UVIS flt layout: SCI,1 is CCDCHIP 2, SCI,2 is CCDCHIP 1, each with ERR and DQ."""
    hdus = [primary_hdu(instrument, detector, ccdamp=ccdamp, ROOTNAME="J8AA01ABQ", **(primary_extra or {}))]
    for extver, ccdchip in ((1, 2), (2, 1)):
        extra = {"CCDCHIP": ccdchip, "BUNIT": bunit, "IDCSCALE": 0.05}
        extra.update(sci_extra or {})
        hdus += chip_hdus(extver, sci_extra=extra, **chip_kw)
    fits.HDUList(hdus).writeto(path)
    return path


def make_single(path, instrument, detector, *, ccdamp=None, bunit=None, sci_extra=None, primary_extra=None,
                shape=SHAPE, **chip_kw):  # fmt: skip
    """A one-chip exposure (HRC, IR, generic)."""
    extra = {} if bunit is None else {"BUNIT": bunit}
    extra.update(sci_extra or {})
    hdus = [primary_hdu(instrument, detector, ccdamp=ccdamp, **(primary_extra or {}))]
    hdus += chip_hdus(1, shape, sci_extra=extra, **chip_kw)
    fits.HDUList(hdus).writeto(path)
    return path


def one_sentence(excinfo, *needles):
    """Assert that the error is one sentence holding every needle."""
    msg = str(excinfo.value)
    assert "\n" not in msg and msg.endswith("."), msg
    for needle in needles:
        assert str(needle) in msg, (needle, msg)

