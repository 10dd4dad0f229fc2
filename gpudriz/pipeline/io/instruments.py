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

The instrument models (amplifier layouts, gains and read noises) are in
:mod:`gpudriz.pipeline.io.amplifiers`; the overrides, ``group`` and the
header keywords are read by :mod:`gpudriz.pipeline.io.headers`.

Units come from BUNIT (ELECTRONS, COUNTS, ELECTRONS/S, COUNTS/S and common
spellings); where it is absent or unknown, ACS and WFC3/UVIS data are taken
as electrons, WFC3/IR as electrons/s and anything else as counts, with a
logged warning.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from gpudriz.backend.validate import is_real
from gpudriz.pipeline.geometry.wcs import celestial_wcs, linear_wcs
from gpudriz.pipeline.geometry.wcs_pickle import ExactWCSPickle
from gpudriz.pipeline.io.amplifiers import (
    INSTRUMENT_MODELS,
    AmpRegion,
    amp_regions,
    regions_generic,
)
from gpudriz.pipeline.io.fits import InputError, is_compressed, open_fits, reason
from gpudriz.pipeline.io.headers import (
    DEFAULT_CRBIT,
    OVERRIDE_KEYS,
    UNITS,
    ChipHeaders,
    chip_units,
    finite_or_none,
    flag_bits,
    header_value,
    keyword_number,
    keyword_text,
    parse_group,
    parse_overrides,
)
from gpudriz.pipeline.io.inputs import file_rootname
from gpudriz.pipeline.io.planes import PlaneLayout, file_stamp, plane_layout, read_plane_at
from gpudriz.pipeline.io.sections import section_box
from gpudriz.pixmap import pixel_scale

__all__ = [
    "AmpRegion",
    "Chip",
    "Exposure",
    "read_exposure",
    "part_shape",
    "part_slices",
    "read_part",
    "DEFAULT_CRBIT",
    "OVERRIDE_KEYS",
    "UNITS",
]

log = logging.getLogger("gpudriz")


# Radians to arcseconds.
_RAD2ARCSEC = 180.0 / math.pi * 3600.0


@dataclass(eq=False)
class Chip(ExactWCSPickle):
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
    layouts : dict
        HDU index -> :class:`~gpudriz.pipeline.io.planes.PlaneLayout` of the planes
        that are read without parsing the file's headers again (none: astropy reads).
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
    layouts: dict[int, PlaneLayout] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        """``file.fits[SCI,n]``, for messages and logs."""
        return f"{self.path.name}[SCI,{self.extver}]"

    def read_sci(self, part=None) -> np.ndarray:
        """The science array as float32 ``(ny, nx)``; the file is opened read-only.

        ``part`` ``(x0, y0, nx, ny)``: only those pixels, read from the file
        without the rest (so for every ``read_*``).
        """
        return _read_plane(self, self.sci_ext, "SCI", np.float32, part)

    def read_err(self, part=None) -> np.ndarray:
        """The error array as float32 ``(ny, nx)``.

        Raises
        ------
        InputError
            If the exposure has no ``ERR`` extension for this chip.
        """
        if not self.has_err:
            raise InputError(f"'{self.path}' has no ERR extension for chip SCI,{self.extver}.")
        return _read_plane(self, self.err_ext, "ERR", np.float32, part)

    def read_dq(self, part=None) -> np.ndarray:
        """The data-quality flags as uint32 ``(ny, nx)``; zeros (all good) without a DQ extension."""
        if not self.has_dq:
            return np.zeros(part_shape(self.shape, part), dtype=np.uint32)
        return _dq_flags(_read_plane(self, self.dq_ext, "DQ", None, part), self)

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


def _undistorted_scale(w: WCS, shape) -> float:
    """Pixel scale (arcsec) at the chip centre of the WCS without its distortion terms."""
    linear = linear_wcs(w)
    centre = ((shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0)
    return pixel_scale(linear, centre) * _RAD2ARCSEC


def _pixel_scale_arcsec(ctx, w) -> float:
    idcscale = header_value("IDCSCALE", ctx.sci, ctx.primary)
    if is_real(idcscale) and idcscale > 0:
        return float(idcscale)
    return _undistorted_scale(w, ctx.shape)


def _image_shape(header, path, label) -> tuple[int, int]:
    """``(ny, nx)`` of an image extension, or of a constant one (NPIXn + PIXVALUE)."""
    naxis = header.get("NAXIS", 0)
    if naxis == 2:
        return int(header["NAXIS2"]), int(header["NAXIS1"])
    if naxis == 0 and "PIXVALUE" in header and "NPIX1" in header and "NPIX2" in header:
        return int(header["NPIX2"]), int(header["NPIX1"])
    raise InputError(f"'{path}' {label} holds no 2-D image (NAXIS={naxis}); expected an image extension.")


def part_shape(shape, part) -> tuple[int, int]:
    """``(ny, nx)`` of ``part`` ``(x0, y0, nx, ny)`` of an image of ``shape`` (``shape`` when None)."""
    return tuple(shape) if part is None else (int(part[3]), int(part[2]))


def part_slices(part) -> tuple[slice, slice]:
    """The ``[rows, columns]`` slices of ``part`` ``(x0, y0, nx, ny)`` (everything when None)."""
    if part is None:
        return slice(None), slice(None)
    x0, y0, nx, ny = (int(v) for v in part)
    return slice(y0, y0 + ny), slice(x0, x0 + nx)


def read_part(hdu, part) -> np.ndarray:
    """The pixels of ``part`` ``(x0, y0, nx, ny)`` (everything when None) of an image HDU, without the rest.

    Only the rows the part spans are read (:func:`gpudriz.pipeline.io.sections.section_box`).
    """
    if part is None:
        return hdu.data
    return section_box(hdu, *part_slices(part))


def _read_plane(chip: Chip, index, extname, dtype=None, part=None) -> np.ndarray:
    """Read one extension's array of ``chip``'s file (as ``dtype`` when given), never writing to the file.

    The caller owns the array returned; the file is closed on return.  Where
    the build recorded the plane's layout and the file is unchanged, its bytes
    are read directly (:mod:`gpudriz.pipeline.io.planes`); else astropy reads it.
    ``part`` ``(x0, y0, nx, ny)``: only those pixels (:func:`read_part`).
    """
    path, extver, shape = chip.path, chip.extver, chip.shape
    layout = chip.layouts.get(index)
    if layout is not None and layout.shape == tuple(shape):
        stored = read_plane_at(path, layout, *_whole_slices(shape, part))
        if stored is not None:
            return np.asarray(stored, dtype=dtype)  # a new array already: converted only when asked
    label = f"{extname},{extver}"
    try:
        with fits.open(path, mode="readonly", memmap=False, lazy_load_hdus=True) as hdul:
            hdu = hdul[index]
            if index > 0 and (hdu.name != extname or hdu.ver != extver):
                raise InputError(f"'{path}' changed since it was read: HDU {index} is no longer {label}.")
            if hdu.header.get("NAXIS", 0) == 0 and "PIXVALUE" in hdu.header:
                # HST writes constant arrays as a header only (NPIXn, PIXVALUE)
                return np.full(part_shape(shape, part), hdu.header["PIXVALUE"], dtype=dtype)
            if part is not None and hdu.shape == tuple(shape):
                return np.asarray(read_part(hdu, part), dtype=dtype)
            data = hdu.data
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"'{path}' {label} cannot be read ({reason(exc)}).") from None
    if data is None or data.shape != tuple(shape):
        got = None if data is None else data.shape
        raise InputError(f"'{path}' {label} has shape {got}; expected {tuple(shape)}.")
    return np.asarray(data, dtype=dtype)


def _whole_slices(shape, part) -> tuple[slice, slice]:
    """:func:`part_slices` with explicit starts and stops (the whole image when ``part`` is None)."""
    return part_slices((0, 0, shape[1], shape[0]) if part is None else part)


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
    return keyword_number(key, path, (primary, first_sci), positive=True, why=why)


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
    opts = parse_overrides(overrides)
    chips_wanted = parse_group(group)
    good_bits = flag_bits(bits, "bits")
    crbit = opts.get("crbit", DEFAULT_CRBIT)
    with open_fits(path, "exposure") as hdul:
        stamp, compressed = file_stamp(path), is_compressed(path)
        primary = hdul[0].header.copy()
        instrument = keyword_text(primary, "INSTRUME")
        detector = keyword_text(primary, "DETECTOR")
        layout, default_units = INSTRUMENT_MODELS.get((instrument, detector), (regions_generic, ""))
        selected = _select(_sci_hdus(hdul, path), chips_wanted, path)
        exptime = _exptime(opts, path, primary, hdul[selected[0][0]].header)
        chips = []
        for index, extver in selected:
            sci = hdul[index].header.copy()
            label = f"SCI,{extver}" if index > 0 else "primary image"
            shape = _image_shape(sci, path, label)
            ctx = ChipHeaders(path, primary, sci, extver, shape, instrument, detector)
            amps = amp_regions(ctx, layout, opts)
            npix = float(sum(a.npix for a in amps))
            units, bunit = chip_units(ctx, default_units)
            w = celestial_wcs(sci, hdul, f"'{path}' {label}", shape)
            err_ext, dq_ext = _find_ext(hdul, "ERR", extver), _find_ext(hdul, "DQ", extver)
            for ext, name in ((err_ext, "ERR"), (dq_ext, "DQ")):
                if ext is not None and _image_shape(hdul[ext].header, path, f"{name},{extver}") != shape:
                    raise InputError(f"'{path}' {name},{extver} does not have the shape {shape} of {label}.")
            mdrizsky = header_value("MDRIZSKY", sci, primary)
            chips.append(Chip(
                path=path, extver=extver, sci_ext=index, shape=shape, exptime=exptime,
                gain=sum(a.gain * a.npix for a in amps) / npix,
                rdnoise=sum(a.rdnoise * a.npix for a in amps) / npix,
                amps=amps, units=units, bunit=bunit, wcs=w, pixel_scale=_pixel_scale_arcsec(ctx, w),
                has_err=err_ext is not None, has_dq=dq_ext is not None, crbit=crbit, good_bits=good_bits,
                mdrizsky=finite_or_none(mdrizsky),
                header=sci, err_ext=err_ext, dq_ext=dq_ext,
                layouts={i: lay for i in (index, err_ext, dq_ext) if i is not None
                         and (lay := plane_layout(hdul[i], stamp, compressed)) is not None},
            ))  # fmt: skip
    rootname = str(primary.get("ROOTNAME", "") or "").strip().lower() or file_rootname(path)
    return Exposure(path=path, rootname=rootname, instrument=instrument, detector=detector,
                    exptime=exptime, chips=chips, primary_header=primary)  # fmt: skip
