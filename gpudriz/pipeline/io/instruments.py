"""Exposures and chips with the instrument model the pipeline steps need.

The Initialization step of the MultiDrizzle manual (section 1.4): each input
exposure is read as its science chips (``SCI`` extensions), each with its
WCS, pixel scale, units, exposure time, gain and read noise per amplifier,
and the DQ bits that count as good (``bits``) or flag cosmic rays
(``crbit``).  The manual's overrides (``gain``, ``gnkeyword``, ``rdnoise``,
``rnkeyword``, ``exptime``, ``expkeyword``, ``crbit``) and chip selection
(``group``) are applied here.  Headers are read once; pixels are read on
demand (:meth:`Chip.read_sci`, :meth:`Chip.read_err`, :meth:`Chip.read_dq`),
always read-only.

Instrument models (from the primary header's INSTRUME and DETECTOR):

- ACS/WFC and WFC3/UVIS: two CCDs.  ``SCI,1`` is CCDCHIP 2 (ACS WFC2,
  WFC3 UVIS2), read by amplifiers C (left half of the columns) and D (right
  half); ``SCI,2`` is CCDCHIP 1 (WFC1, UVIS1), amplifiers A (left) and B
  (right).  Only the amplifiers listed in CCDAMP are used: one amplifier on
  a chip reads all of it.  Gains are ATODGN[A-D], read noises READNSE[A-D].
- ACS/HRC: one CCD read by the amplifier in CCDAMP.
- WFC3/IR: one chip in four 512 x 512 quadrants of the 1024 x 1024 detector
  (the 1014 x 1014 image plus 5 reference pixels each side), with calwf3's
  layout, rows counted upwards as in a FITS display: A upper left, B lower
  left, C lower right, D upper right.  Data are rates (BUNIT ELECTRONS/S).
- Anything else: one region, gain CCDGAIN (or 1), read noise 0, with a
  logged warning.

Amplifier boundaries are placed in detector (physical) pixels and mapped to
the image with the LTV/LTM keywords, so subarrays and binned images split
where their pixels were actually read (full frames: at the middle column or
row); an image without LTV keywords is split at its middle.

Units come from BUNIT (ELECTRONS, COUNTS, ELECTRONS/S, COUNTS/S and common
spellings); where it is absent or unknown, ACS and WFC3/UVIS data are taken
as electrons, WFC3/IR as electrons/s and anything else as counts, with a
logged warning.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from gpudriz.pipeline.geometry.distortion import linear_wcs
from gpudriz.pipeline.io.inputs import InputError, _open_fits, _reason, file_rootname
from gpudriz.pixmap import pixel_scale

__all__ = [
    "AmpRegion",
    "Chip",
    "Exposure",
    "read_exposure",
    "DEFAULT_CRBIT",
    "OVERRIDE_KEYS",
    "UNITS",
]

log = logging.getLogger("gpudriz")

#: DQ flag that marks cosmic rays in ACS and WFC3 data (manual, "crbit").
DEFAULT_CRBIT = 4096

#: The manual's instrument overrides accepted in ``overrides``.
OVERRIDE_KEYS = ("gain", "gnkeyword", "rdnoise", "rnkeyword", "exptime", "expkeyword", "crbit")

#: Other spellings accepted in ``overrides`` (section 1.4 says ``gainkeyword``).
OVERRIDE_ALIASES = {"gainkeyword": "gnkeyword"}

#: Units a chip's data can be in.
UNITS = ("electrons", "counts", "electrons/s", "counts/s")

_BUNITS = {
    "ELECTRONS": "electrons", "ELECTRON": "electrons", "E-": "electrons", "E": "electrons",
    "COUNTS": "counts", "COUNT": "counts", "DN": "counts", "ADU": "counts",
    "ELECTRONS/S": "electrons/s", "ELECTRONS/SEC": "electrons/s", "ELECTRON/S": "electrons/s",
    "E-/S": "electrons/s", "E/S": "electrons/s",
    "COUNTS/S": "counts/s", "COUNTS/SEC": "counts/s", "COUNT/S": "counts/s", "DN/S": "counts/s",
    "ADU/S": "counts/s",
}  # fmt: skip

_RAD2ARCSEC = 180.0 / math.pi * 3600.0
_UINT32_MAX = 2**32 - 1


@dataclass(frozen=True)
class AmpRegion:
    """The pixels of a chip read by one amplifier (0-based, end exclusive).

    Attributes
    ----------
    name : str
        Amplifier letter(s) (``"A"`` .. ``"D"``), or ``""`` for the generic model.
    y0, y1, x0, x1 : int
        Row and column bounds in the chip's image.
    gain : float
        Gain in electrons per count.
    rdnoise : float
        Read noise in electrons.
    """

    name: str
    y0: int
    y1: int
    x0: int
    x1: int
    gain: float
    rdnoise: float

    @property
    def slices(self) -> tuple[slice, slice]:
        """``(rows, columns)`` slices selecting the region in a chip array."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @property
    def npix(self) -> int:
        """Number of pixels in the region."""
        return (self.y1 - self.y0) * (self.x1 - self.x0)


@dataclass(eq=False)
class Chip:
    """One science extension of an exposure and everything the steps need.

    Attributes
    ----------
    path : pathlib.Path
        The exposure file.
    extver : int
        EXTVER of the ``SCI`` extension (the chip number of ``group``).
    sci_ext : int
        HDU index of the ``SCI`` extension.
    shape : tuple of int
        ``(ny, nx)``.
    exptime : float
        Exposure time in seconds.
    gain, rdnoise : float
        Pixel-weighted means over the chip's amplifiers (e-/count, e-).
    amps : tuple of AmpRegion
        Gain and read noise by amplifier region (see :meth:`gain_map`).
    units : str
        One of :data:`UNITS`.
    bunit : str
        The BUNIT keyword as written ("" when absent).
    wcs : astropy.wcs.WCS
        WCS of the ``SCI`` extension, SIP and lookup-table distortion included.
    pixel_scale : float
        Undistorted pixel scale in arcsec: IDCSCALE when present, else the
        scale of the WCS without its distortion at the chip centre.
    has_err, has_dq : bool
        Whether ``ERR`` / ``DQ`` extensions of the same EXTVER exist.
    crbit : int
        DQ flag set on cosmic rays (0: DQ arrays are not updated).
    good_bits : int
        DQ bits that count as good (the ``bits`` parameter).
    sky : float
        Sky subtracted by the pipeline (0 until the sky step sets it).
    mdrizsky : float or None
        MDRIZSKY already in the header, if any.
    header : astropy.io.fits.Header
        A copy of the ``SCI`` extension header.
    err_ext, dq_ext : int or None
        HDU indices of the ``ERR`` and ``DQ`` extensions.
    """

    path: Path
    extver: int
    sci_ext: int
    shape: tuple[int, int]
    exptime: float
    gain: float
    rdnoise: float
    amps: tuple[AmpRegion, ...]
    units: str
    bunit: str
    wcs: WCS = field(repr=False)
    pixel_scale: float
    has_err: bool
    has_dq: bool
    crbit: int
    good_bits: int
    sky: float = 0.0
    mdrizsky: float | None = None
    header: fits.Header = field(default_factory=fits.Header, repr=False)
    err_ext: int | None = None
    dq_ext: int | None = None

    @property
    def name(self) -> str:
        """``file.fits[SCI,n]``, for messages and logs."""
        return f"{self.path.name}[SCI,{self.extver}]"

    def read_sci(self) -> np.ndarray:
        """The science array as float32 ``(ny, nx)``; the file is opened read-only."""
        return _read_plane(self.path, self.sci_ext, "SCI", self.extver, self.shape, np.float32)

    def read_err(self) -> np.ndarray:
        """The error array as float32 ``(ny, nx)``.

        Raises
        ------
        InputError
            If the exposure has no ``ERR`` extension for this chip.
        """
        if not self.has_err:
            raise InputError(f"'{self.path}' has no ERR extension for chip SCI,{self.extver}.")
        return _read_plane(self.path, self.err_ext, "ERR", self.extver, self.shape, np.float32)

    def read_dq(self) -> np.ndarray:
        """The data-quality flags as uint32 ``(ny, nx)``; zeros (all good) without a DQ extension."""
        if not self.has_dq:
            return np.zeros(self.shape, dtype=np.uint32)
        return _dq_flags(_read_plane(self.path, self.dq_ext, "DQ", self.extver, self.shape), self)

    def gain_map(self) -> np.ndarray:
        """Gain (e-/count) of every pixel, float32 ``(ny, nx)``, by amplifier region."""
        return self._amp_map("gain")

    def rdnoise_map(self) -> np.ndarray:
        """Read noise (e-) of every pixel, float32 ``(ny, nx)``, by amplifier region."""
        return self._amp_map("rdnoise")

    def _amp_map(self, attr: str) -> np.ndarray:
        out = np.empty(self.shape, dtype=np.float32)
        for amp in self.amps:
            out[amp.slices] = getattr(amp, attr)
        return out


@dataclass(eq=False)
class Exposure:
    """One input exposure: its chips and primary header.

    Attributes
    ----------
    path : pathlib.Path
        The file (absolute path).
    rootname : str
        ROOTNAME keyword (lower case), else the file's rootname.
    instrument, detector : str
        INSTRUME and DETECTOR, upper case ("" when absent).
    exptime : float
        Exposure time in seconds (after the ``exptime``/``expkeyword`` override).
    chips : list of Chip
        The selected chips, in file order.
    primary_header : astropy.io.fits.Header
        A copy of the primary header.
    """

    path: Path
    rootname: str
    instrument: str
    detector: str
    exptime: float
    chips: list[Chip]
    primary_header: fits.Header = field(repr=False)


# --------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------


def _number(value, name, *, positive=False, nonnegative=False) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise InputError(f"'{name}' must be a number; got {value!r}.") from None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InputError(f"'{name}' must be a finite number; got {value!r}.")
    v = float(value)
    if positive and not v > 0.0:
        raise InputError(f"'{name}' must be positive; got {v}.")
    if nonnegative and not v >= 0.0:
        raise InputError(f"'{name}' must be non-negative; got {v}.")
    return v


def _flag_bits(value, name) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise InputError(f"'{name}' must be an integer sum of DQ bit values; got {value!r}.")
    if not 0 <= int(value) <= _UINT32_MAX:
        raise InputError(f"'{name}' must be between 0 and {_UINT32_MAX}; got {value}.")
    return int(value)


def _parse_overrides(overrides) -> dict:
    """Validated overrides; None and blank values mean "not given"."""
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise InputError(f"'overrides' must be a mapping of parameter names to values; got {overrides!r}.")
    overrides = {OVERRIDE_ALIASES.get(k, k): v for k, v in overrides.items()}
    unknown = sorted(set(overrides) - set(OVERRIDE_KEYS), key=str)
    if unknown:
        names = ", ".join(map(repr, unknown))
        raise InputError(f"unknown override(s) {names}; expected some of {', '.join(OVERRIDE_KEYS)}.")
    given = {k: v for k, v in overrides.items() if v is not None and not (isinstance(v, str) and not v.strip())}
    for value_key, keyword_key in (("gain", "gnkeyword"), ("rdnoise", "rnkeyword"), ("exptime", "expkeyword")):
        if value_key in given and keyword_key in given:
            raise InputError(f"give either '{value_key}' or '{keyword_key}', not both.")
    out = {}
    for key, value in given.items():
        if key.endswith("keyword"):
            if not isinstance(value, str):
                raise InputError(f"'{key}' must be a header keyword name; got {value!r}.")
            out[key] = value.strip().upper()
        elif key == "crbit":
            out[key] = _flag_bits(value, key)
        elif key == "rdnoise":
            out[key] = _number(value, key, nonnegative=True)
        else:
            out[key] = _number(value, key, positive=True)
    return out


def _parse_group(group) -> list[int] | None:
    """Chip numbers (SCI EXTVERs) selected by ``group``; None selects all.

    Accepts an int, ``"1"``, ``"sci,1"``, ``"1,2"``, ``"sci,1,sci,2"`` or a
    list of those.  A bare number is the chip number (SCI EXTVER), as in
    AstroDrizzle: for ACS/WFC ``1`` is ``SCI,1`` and ``2`` is ``SCI,2``.
    """
    if group is None:
        return None
    if isinstance(group, (list, tuple)):
        parts = list(group)
    else:
        parts = [group]
    tokens: list = []
    for part in parts:
        if isinstance(part, (bool, np.bool_)):
            raise InputError(f"'group' must be a chip number or 'sci,N'; got {group!r}.")
        if isinstance(part, numbers.Integral):
            tokens.append(int(part))
        elif isinstance(part, str):
            tokens.extend(t for t in re.split(r"[,\s\[\]()]+", part) if t)
        else:
            raise InputError(f"'group' must be a chip number or 'sci,N'; got {group!r}.")
    if not tokens:
        return None
    chips: list[int] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if isinstance(tok, str) and not tok.isdigit():
            if tok.upper() != "SCI" or i + 1 >= len(tokens) or not str(tokens[i + 1]).isdigit():
                raise InputError(f"'group' must be a chip number or 'sci,N'; got {group!r}.")
            i += 1
            tok = tokens[i]
        n = int(tok)
        if n < 1:
            raise InputError(f"'group' chip numbers start at 1; got {group!r}.")
        if n not in chips:
            chips.append(n)
        i += 1
    return chips


# --------------------------------------------------------------------------
# header helpers
# --------------------------------------------------------------------------


def _lookup(key, *headers):
    """First value of ``key`` in the headers (SCI before primary, as INHERIT does)."""
    for h in headers:
        if key in h:
            return h[key]
    return None


def _keyword_number(key, path, headers, *, positive=False, nonnegative=False, why="") -> float:
    value = _lookup(key, *headers)
    if value is None:
        raise InputError(f"'{path}' has no {key} keyword{why}.")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InputError(f"keyword {key} of '{path}' is {value!r}; expected a number.")
    v = float(value)
    if positive and not v > 0.0:
        raise InputError(f"keyword {key} of '{path}' is {v}; expected a positive number.")
    if nonnegative and not v >= 0.0:
        raise InputError(f"keyword {key} of '{path}' is {v}; expected a non-negative number.")
    return v


def _finite_or_none(value) -> float | None:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _text(header, key) -> str:
    value = header.get(key, "")
    return str(value).strip().upper() if value is not None else ""


# --------------------------------------------------------------------------
# amplifier layouts
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _ChipHeaders:
    """What the instrument model of one chip is computed from."""

    path: Path
    primary: fits.Header
    sci: fits.Header
    extver: int
    shape: tuple[int, int]
    instrument: str
    detector: str


def _split(n: int, ltv: float, ltm: float, half: int) -> int:
    """Image index of the first pixel past detector pixel ``half`` (1-based).

    IRAF's logical-to-physical transform is ``image = ltm * physical + ltv``
    (1-based); the amplifier boundary is the edge at physical ``half + 0.5``.
    """
    edge = ltm * (half + 0.5) + ltv
    return min(max(int(math.floor(edge - 0.5 + 1e-6)), 0), n)


def _boundary(n: int, sci, axis: int, half: int) -> int:
    """Where amplifiers meet along ``axis`` (1: x, 2: y) of an ``n``-pixel image.

    With the LTV keyword (every calibrated HST image) the boundary is placed
    in detector pixels, so subarrays and binned images split where they were
    read; without it (hand-made files) at the middle of the image.
    """
    ltv = sci.get(f"LTV{axis}")
    ltm = sci.get(f"LTM{axis}_{axis}", 1.0)
    numeric = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in (ltv, ltm))
    if not numeric or not ltm:
        return n // 2
    return _split(n, float(ltv), float(ltm), half)


def _regions_two_chip(ctx) -> list[tuple[str, int, int, int, int]]:
    """ACS/WFC and WFC3/UVIS: amps A, B on CCDCHIP 1 and C, D on CCDCHIP 2, split in x."""
    ny, nx = ctx.shape
    sci = ctx.sci
    ccdchip = _lookup("CCDCHIP", sci, ctx.primary)
    if ccdchip is None:
        ccdchip = 2 if ctx.extver == 1 else 1  # SCI,1 is always the second CCD
    chip_amps = {1: "AB", 2: "CD"}.get(ccdchip)
    if chip_amps is None:
        raise InputError(f"'{ctx.path}' SCI,{ctx.extver} has CCDCHIP={ccdchip!r}; expected 1 or 2.")
    listed = _text(ctx.primary, "CCDAMP") or "ABCD"
    used = [a for a in chip_amps if a in listed]
    if not used:
        raise InputError(
            f"'{ctx.path}' CCDAMP={listed!r} lists no amplifier of SCI,{ctx.extver} "
            f"(CCDCHIP {ccdchip}: {chip_amps[0]} or {chip_amps[1]})."
        )
    if len(used) == 1:
        return [(used[0], 0, ny, 0, nx)]
    xs = _boundary(nx, sci, 1, half=2048)
    return [(used[0], 0, ny, 0, xs), (used[1], 0, ny, xs, nx)]


def _regions_single_amp(ctx):
    """ACS/HRC: the amplifier(s) in CCDAMP read the whole chip."""
    ny, nx = ctx.shape
    listed = "".join(a for a in _text(ctx.primary, "CCDAMP") if a in "ABCD")
    if not listed:
        raise InputError(f"'{ctx.path}' has no CCDAMP keyword naming the readout amplifier (A-D).")
    if len(listed) > 1:
        log.warning("%s: CCDAMP=%s on a one-amplifier detector; using the amplifiers' mean gain and read noise",
                    ctx.path.name, listed)  # fmt: skip
    return [(listed, 0, ny, 0, nx)]


def _regions_ir(ctx):
    """WFC3/IR: quadrants of 512 detector pixels; A upper left, B lower left, C lower right, D upper right."""
    ny, nx = ctx.shape
    xs = _boundary(nx, ctx.sci, 1, half=512)
    ys = _boundary(ny, ctx.sci, 2, half=512)
    return [
        ("A", ys, ny, 0, xs),
        ("B", 0, ys, 0, xs),
        ("C", 0, ys, xs, nx),
        ("D", ys, ny, xs, nx),
    ]


def _regions_generic(ctx):
    ny, nx = ctx.shape
    return [("", 0, ny, 0, nx)]


#: (INSTRUME, DETECTOR) -> (amplifier layout, units when BUNIT is absent).
_MODELS = {
    ("ACS", "WFC"): (_regions_two_chip, "electrons"),
    ("WFC3", "UVIS"): (_regions_two_chip, "electrons"),
    ("ACS", "HRC"): (_regions_single_amp, "electrons"),
    ("WFC3", "IR"): (_regions_ir, "electrons/s"),
}


def _amp_values(letters, ctx, prefix, *, positive):
    """Mean of the per-amplifier keywords (ATODGNx or READNSEx) over ``letters``."""
    what = "gain" if prefix == "ATODGN" else "read noise"
    other = "gain or gnkeyword" if what == "gain" else "rdnoise or rnkeyword"
    values = [
        _keyword_number(f"{prefix}{a}", ctx.path, (ctx.sci, ctx.primary),
                        positive=positive, nonnegative=not positive,
                        why=f" (the {what} of amplifier {a}, listed in CCDAMP); pass {other}")
        for a in letters
    ]  # fmt: skip
    return sum(values) / len(values)


def _amp_regions(ctx, layout, overrides) -> tuple[AmpRegion, ...]:
    """Regions with gain and read noise from the header or the overrides."""
    path, headers = ctx.path, (ctx.sci, ctx.primary)
    gain = overrides.get("gain")
    if "gnkeyword" in overrides:
        gain = _keyword_number(overrides["gnkeyword"], path, headers, positive=True, why=" named by gnkeyword")
    rdnoise = overrides.get("rdnoise")
    if "rnkeyword" in overrides:
        rdnoise = _keyword_number(overrides["rnkeyword"], path, headers, nonnegative=True, why=" named by rnkeyword")
    assumed = []
    regions = []
    for name, y0, y1, x0, x1 in layout(ctx):
        if y1 <= y0 or x1 <= x0:
            continue  # an amplifier whose pixels lie outside this subarray
        g, r = gain, rdnoise
        if name:
            g = _amp_values(name, ctx, "ATODGN", positive=True) if g is None else g
            r = _amp_values(name, ctx, "READNSE", positive=False) if r is None else r
        else:
            if g is None:
                ccdgain = _lookup("CCDGAIN", *headers)
                if isinstance(ccdgain, numbers.Real) and not isinstance(ccdgain, bool) and ccdgain > 0:
                    g = float(ccdgain)
                else:
                    g = 1.0
                    assumed.append("gain 1")
            if r is None:
                r = 0.0
                assumed.append("read noise 0")
        regions.append(AmpRegion(name, y0, y1, x0, x1, float(g), float(r)))
    if assumed:
        log.warning("%s[SCI,%d]: no instrument model for INSTRUME=%r DETECTOR=%r; assuming %s (set gain/rdnoise "
                    "to override)", path.name, ctx.extver, ctx.instrument, ctx.detector,
                    " and ".join(assumed))  # fmt: skip
    return tuple(regions)


# --------------------------------------------------------------------------
# units, WCS, pixel scale
# --------------------------------------------------------------------------


def _units(ctx, default) -> tuple[str, str]:
    bunit = _lookup("BUNIT", ctx.sci, ctx.primary)
    bunit = "" if bunit is None else str(bunit).strip()
    key = bunit.upper().replace(" ", "")
    if key in _BUNITS:
        return _BUNITS[key], bunit
    fallback = default or "counts"
    log.warning("%s[SCI,%d]: BUNIT %r is not one of electrons, counts, electrons/s, counts/s; taking the data "
                "as %s", ctx.path.name, ctx.extver, bunit, fallback)  # fmt: skip
    return fallback, bunit


def _chip_wcs(header, hdul, path, label, shape) -> WCS:
    """The extension's WCS, lookup tables read from the open file."""
    with warnings.catch_warnings():
        # HST headers carry keywords astropy "fixes" (dates, NAXIS=0 images); harmless here
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            w = WCS(header, fobj=hdul)
        except Exception as exc:
            raise InputError(f"'{path}' {label} has an unusable WCS ({_reason(exc)}).") from None
    if w.naxis != 2 or not w.has_celestial:
        ctypes = ", ".join(repr(c) for c in w.wcs.ctype) or "none"
        raise InputError(f"'{path}' {label} has no celestial WCS (CTYPE: {ctypes}); expected e.g. RA---TAN, DEC--TAN.")
    w.pixel_shape = (shape[1], shape[0])
    return w


def _undistorted_scale(w: WCS, shape) -> float:
    """Pixel scale (arcsec) at the chip centre of the WCS without its distortion terms."""
    linear = linear_wcs(w)
    centre = ((shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0)
    return pixel_scale(linear, centre) * _RAD2ARCSEC


def _pixel_scale_arcsec(ctx, w) -> float:
    idcscale = _lookup("IDCSCALE", ctx.sci, ctx.primary)
    if isinstance(idcscale, numbers.Real) and not isinstance(idcscale, bool) and idcscale > 0:
        return float(idcscale)
    return _undistorted_scale(w, ctx.shape)


# --------------------------------------------------------------------------
# pixels
# --------------------------------------------------------------------------


def _image_shape(header, path, label) -> tuple[int, int]:
    """``(ny, nx)`` of an image extension, or of a constant one (NPIXn + PIXVALUE)."""
    naxis = header.get("NAXIS", 0)
    if naxis == 2:
        return int(header["NAXIS2"]), int(header["NAXIS1"])
    if naxis == 0 and "PIXVALUE" in header and "NPIX1" in header and "NPIX2" in header:
        return int(header["NPIX2"]), int(header["NPIX1"])
    raise InputError(f"'{path}' {label} holds no 2-D image (NAXIS={naxis}); expected an image extension.")


def _read_plane(path, index, extname, extver, shape, dtype=None) -> np.ndarray:
    """Read one extension's array (as ``dtype`` when given), never writing to the file.

    The array read from disk is handed over (converted only when its type
    differs), so the caller owns it and the file is closed on return.
    """
    label = f"{extname},{extver}"
    try:
        with fits.open(path, mode="readonly", memmap=False, lazy_load_hdus=True) as hdul:
            hdu = hdul[index]
            if index > 0 and (hdu.name != extname or hdu.ver != extver):
                raise InputError(f"'{path}' changed since it was read: HDU {index} is no longer {label}.")
            data = hdu.data
            if data is None and "PIXVALUE" in hdu.header:
                # HST writes constant arrays as a header only (NPIXn, PIXVALUE)
                return np.full(shape, hdu.header["PIXVALUE"], dtype=dtype)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"'{path}' {label} cannot be read ({_reason(exc)}).") from None
    if data is None or data.shape != tuple(shape):
        got = None if data is None else data.shape
        raise InputError(f"'{path}' {label} has shape {got}; expected {tuple(shape)}.")
    return np.asarray(data, dtype=dtype)


def _dq_flags(data: np.ndarray, chip: Chip) -> np.ndarray:
    """DQ flags as uint32; signed 16-bit DQ (flag 32768 stored negative) keeps its bits."""
    if data.dtype.kind == "u":
        return data.astype(np.uint32)
    if data.dtype.kind == "i":
        bits = min(8 * data.dtype.itemsize, 32)
        return (data.astype(np.int64) & ((1 << bits) - 1)).astype(np.uint32)
    if data.dtype.kind == "f" and np.all(np.isfinite(data)) and np.all(data >= 0) and np.all(data == np.floor(data)):
        return data.astype(np.uint32)
    raise InputError(f"'{chip.path}' DQ,{chip.extver} holds {data.dtype} values; expected integer flags.")


# --------------------------------------------------------------------------
# public entry point
# --------------------------------------------------------------------------


def _sci_hdus(hdul, path) -> list[tuple[int, int]]:
    """``(HDU index, EXTVER)`` of the science extensions, in file order.

    A simple FITS image (data in the primary HDU, no SCI extension) is one
    chip, SCI,1 at index 0.
    """
    found = [(i, h.ver) for i, h in enumerate(hdul) if i > 0 and h.name == "SCI"]
    if not found:
        primary = hdul[0].header
        if primary.get("NAXIS", 0) == 2:
            return [(0, 1)]
        raise InputError(f"'{path}' has no SCI extension and no image in its primary HDU.")
    vers = [v for _, v in found]
    if len(set(vers)) != len(vers):
        raise InputError(f"'{path}' has more than one SCI extension with the same EXTVER ({sorted(vers)}).")
    return found


def _select(found, chips, path):
    if chips is None:
        return found
    by_ver = dict((v, (i, v)) for i, v in found)
    missing = [c for c in chips if c not in by_ver]
    if missing:
        have = ", ".join(f"SCI,{v}" for _, v in found)
        raise InputError(f"group {missing[0]} is not a chip of '{path}'; it has {have}.")
    return [f for f in found if f[1] in chips]


def _find_ext(hdul, extname, extver):
    for i, h in enumerate(hdul):
        if i > 0 and h.name == extname and h.ver == extver:
            if h.header.get("NAXIS", 0) == 0 and "PIXVALUE" not in h.header:
                return None  # an empty placeholder extension
            return i
    return None


def _exptime(overrides, path, primary, first_sci) -> float:
    if "exptime" in overrides:
        return overrides["exptime"]
    key = overrides.get("expkeyword", "EXPTIME")
    why = " named by expkeyword" if "expkeyword" in overrides else "; pass exptime or expkeyword"
    return _keyword_number(key, path, (primary, first_sci), positive=True, why=why)


def read_exposure(path, *, group=None, overrides=None, bits=0) -> Exposure:
    """Read an exposure's headers into chips with their instrument model.

    Implements the Initialization step's per-file work (MultiDrizzle manual,
    section 1.4: ``group``, ``bits``, ``crbit``, ``gain``/``gnkeyword``,
    ``rdnoise``/``rnkeyword``, ``exptime``/``expkeyword``).  See the module
    docstring for the instrument models.  Pixels are not read; the file is
    opened read-only and closed before returning.

    Parameters
    ----------
    path : str or os.PathLike
        A FITS exposure with ``SCI`` extensions (``ERR`` and ``DQ`` of the
        same EXTVER are found when present), or a simple FITS image.
    group : int, str or list, optional
        Chips to keep: a chip number (SCI EXTVER) such as ``1`` or ``"1"``,
        ``"sci,1"``, ``"1,2"`` or a list of those; None keeps all chips.
    overrides : mapping, optional
        The manual's overrides, keys from :data:`OVERRIDE_KEYS`: ``gain``
        (e-/count, replaces every amplifier's gain) or ``gnkeyword`` (header
        keyword holding it); ``rdnoise`` (e-) or ``rnkeyword``; ``exptime``
        (s) or ``expkeyword`` (default keyword EXPTIME); ``crbit`` (DQ flag
        for cosmic rays, default :data:`DEFAULT_CRBIT`; 0 leaves DQ alone).
        Keywords are looked up in the SCI header, then the primary header.
        None or blank values are ignored.
    bits : int, optional
        Sum of the DQ bit values that count as good (manual, ``bits``).

    Returns
    -------
    Exposure

    Raises
    ------
    InputError
        A missing or unreadable file, no SCI extension or no celestial WCS,
        an unknown ``group``, a bad override, or a missing or invalid header
        keyword (named with the file).
    """
    path = Path(os.path.abspath(path))
    opts = _parse_overrides(overrides)
    chips_wanted = _parse_group(group)
    good_bits = _flag_bits(bits, "bits")
    crbit = opts.get("crbit", DEFAULT_CRBIT)
    with _open_fits(path, "exposure") as hdul:
        primary = hdul[0].header.copy()
        instrument = _text(primary, "INSTRUME")
        detector = _text(primary, "DETECTOR")
        layout, default_units = _MODELS.get((instrument, detector), (_regions_generic, ""))
        selected = _select(_sci_hdus(hdul, path), chips_wanted, path)
        exptime = _exptime(opts, path, primary, hdul[selected[0][0]].header)
        chips = []
        for index, extver in selected:
            sci = hdul[index].header.copy()
            label = f"SCI,{extver}" if index > 0 else "primary image"
            shape = _image_shape(sci, path, label)
            ctx = _ChipHeaders(path, primary, sci, extver, shape, instrument, detector)
            amps = _amp_regions(ctx, layout, opts)
            npix = float(sum(a.npix for a in amps))
            units, bunit = _units(ctx, default_units)
            w = _chip_wcs(sci, hdul, path, label, shape)
            err_ext, dq_ext = _find_ext(hdul, "ERR", extver), _find_ext(hdul, "DQ", extver)
            for ext, name in ((err_ext, "ERR"), (dq_ext, "DQ")):
                if ext is not None and _image_shape(hdul[ext].header, path, f"{name},{extver}") != shape:
                    raise InputError(f"'{path}' {name},{extver} does not have the shape {shape} of {label}.")
            mdrizsky = _lookup("MDRIZSKY", sci, primary)
            chips.append(Chip(
                path=path, extver=extver, sci_ext=index, shape=shape, exptime=exptime,
                gain=sum(a.gain * a.npix for a in amps) / npix,
                rdnoise=sum(a.rdnoise * a.npix for a in amps) / npix,
                amps=amps, units=units, bunit=bunit, wcs=w, pixel_scale=_pixel_scale_arcsec(ctx, w),
                has_err=err_ext is not None, has_dq=dq_ext is not None, crbit=crbit, good_bits=good_bits,
                mdrizsky=_finite_or_none(mdrizsky),
                header=sci, err_ext=err_ext, dq_ext=dq_ext,
            ))  # fmt: skip
    rootname = str(primary.get("ROOTNAME", "") or "").strip().lower() or file_rootname(path)
    return Exposure(path=path, rootname=rootname, instrument=instrument, detector=detector,
                    exptime=exptime, chips=chips, primary_header=primary)  # fmt: skip
