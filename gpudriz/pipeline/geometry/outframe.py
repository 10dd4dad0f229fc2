"""The output frame (WCS and shape) of the separate and final drizzles.

Implements the output-frame parameters of the MultiDrizzle manual (section
1.4: ``ra``, ``dec``, ``refimage``, ``driz_sep_outnx/outny/scale/rot`` and
``final_outnx/outny/scale/rot``) and ``algorithms.md`` "Output frame":

- projection: gnomonic (TAN), CRPIX at the centre of the frame, CRVAL at
  the tangent point;
- tangent point: the centre of all input footprints, or ``ra``/``dec``;
- pixel scale: the first input's undistorted scale (``sqrt(|det CD|)`` of
  its linear WCS), or ``scale`` (arcsec/pixel);
- orientation: ``rot`` = position angle of the frame's +Y axis East of
  North (0 = North up, East left); INDEF (None) = the first input's
  orientation;
- shape: the smallest that holds every input pixel, or ``outnx``/``outny``;
- ``refimage``: a drizzled image whose WCS and shape are taken as they are.

The footprints are the input pixel centres along each chip's border, mapped
through the chip's full WCS (SIP and lookup-table distortions included).  A
distortion maps the chip's border onto the border of its image on the sky,
so the border holds the extreme points of the whole chip.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
from dataclasses import dataclass

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_area

from gpudriz.backend.validate import real_number
from gpudriz.pipeline.geometry.wcs import celestial_wcs
from gpudriz.pipeline.geometry.wcs_pickle import ExactWCSPickle
from gpudriz.pipeline.io.fits import InputError, reason
from gpudriz.pipeline.io.inputs import split_extension

__all__ = ["OutputFrame", "output_frame", "MAX_FRAME_PIXELS", "EDGE_STEP"]

log = logging.getLogger("gpudriz")

#: Largest output frame accepted (pixels): beyond it the drizzle products
#: (8 GiB per float32 plane) and 32-bit pixel indices stop being sensible.
MAX_FRAME_PIXELS = 2**31

#: Spacing (input pixels) of the footprint samples along a chip's border.
#: A border bent by distortion bulges between two samples by at most
#: ``step**2 * |curvature| / 8``: ~2e-4 px for ACS/WFC's (order 2
#: coefficients ~1e-6 /px) at 16 px, negligible against the half-pixel
#: margin of the frame.
EDGE_STEP = 16

_ARCSEC_PER_DEG = 3600.0
# Stop moving the tangent point once the footprints' bounding box is
# centred on it to this many output pixels.
_CENTRE_TOL = 1e-4
_MAX_CENTRE_ITER = 30
# Slack (px) when the frame size is rounded up: footprints spanning a whole
# number of pixels come out a few 1e-6 px longer (rounding, and the tiny
# non-linearity between two nearby tangent planes); without it an undistorted
# 100-px chip would need a 101-px frame.
_SIZE_SLACK = 1e-3
# A point this close to 90 degrees from the tangent point cannot be projected.
_MIN_COS_DISTANCE = 1e-9


@dataclass(frozen=True)
class OutputFrame(ExactWCSPickle):
    """The pixel grid the inputs are drizzled onto.

    Attributes
    ----------
    wcs : astropy.wcs.WCS
        Celestial WCS of the frame; its ``pixel_shape`` is ``(nx, ny)``.
    shape : tuple of int
        ``(ny, nx)``, the shape of the drizzled arrays.
    """

    wcs: WCS
    shape: tuple[int, int]

    @property
    def pixel_scale(self) -> float:
        """Pixel scale (arcsec/pixel): ``sqrt(|det CD|)`` of the linear WCS."""
        return math.sqrt(proj_plane_pixel_area(self.wcs)) * _ARCSEC_PER_DEG

    @property
    def orientation(self) -> float:
        """Position angle (deg, East of North, in (-180, 180]) of +Y at CRPIX.

        Measured on the sky through the full WCS, so it is defined for any
        projection and axis order; undefined exactly at a celestial pole.
        """
        x, y = (float(c) - 1.0 for c in self.wcs.wcs.crpix)
        return _y_axis_angle(self.wcs, x, y)

    def header(self) -> fits.Header:
        """FITS header cards of the frame: NAXIS, NAXIS1, NAXIS2 and the WCS.

        Returns
        -------
        astropy.io.fits.Header
            A new header; distortion terms (SIP) of a reference image's WCS
            are written too.
        """
        ny, nx = self.shape
        hdr = fits.Header()
        hdr["NAXIS"] = (2, "number of array dimensions")
        hdr["NAXIS1"] = (nx, "output frame width (pixels)")
        hdr["NAXIS2"] = (ny, "output frame height (pixels)")
        hdr.extend(self.wcs.to_header(relax=True), update=True)
        return hdr


def output_frame(wcs_list, shapes, *, scale=None, rot=None, outnx=None, outny=None,
                 ra=None, dec=None, refimage=None) -> OutputFrame:  # fmt: skip
    """The output frame of a drizzle: its WCS and shape (MultiDrizzle manual 1.4).

    The frame is a gnomonic (TAN) projection with CRPIX at the centre of the
    frame (``(n + 1) / 2``, 1-based).  Its tangent point is the centre of
    all input footprints: the mean of their unit vectors on the sphere,
    moved to the centre of their bounding box on the tangent plane so that
    the frame is both centred on its tangent point and tight.  Its shape is
    the smallest that holds every input pixel centre at least half an
    output pixel inside its edges.

    Parameters
    ----------
    wcs_list : sequence of astropy.wcs.WCS
        WCS of every input chip, distortion included (SIP, lookup tables).
        May be empty when ``refimage`` is given.
    shapes : sequence of tuple of int
        ``(ny, nx)`` of every chip, in the order of ``wcs_list``.
    scale : float, optional
        Pixel scale in arcsec/pixel (``driz_sep_scale``, ``final_scale``).
        None (INDEF): the first input's undistorted scale, ``sqrt(|det CD|)``
        of its linear CD matrix.
    rot : float, optional
        Position angle of the frame's +Y axis in degrees East of North
        (``driz_sep_rot``, ``final_rot``); 0 puts North up and East left
        (RA decreasing with x).  None (INDEF): the first input's
        orientation, the angle of its +Y axis on the sky at its reference
        pixel.
    outnx, outny : int, optional
        Frame width / height in pixels (``*_outnx``, ``*_outny``); each
        replaces the computed size on its own axis, CRPIX staying at the
        centre.  Whole-valued floats are accepted (the manual's format).
    ra, dec : float, optional
        Tangent point in degrees (given together); the frame stays centred
        on it and grows symmetrically to hold every input pixel.
    refimage : str or os.PathLike, optional
        A drizzled FITS image whose celestial WCS and shape (NAXIS1/2) are
        taken exactly, optionally with an extension: ``"ref_drz.fits[1]"``,
        ``"ref.fits[sci]"``, ``"ref.fits[sci,1]"``.  Without one, the first
        HDU holding a 2-D image is used.  All other parameters are then
        ignored.

    Returns
    -------
    OutputFrame
        The frame's WCS and ``(ny, nx)`` shape.

    Raises
    ------
    TypeError
        If a parameter has the wrong type, or an input is not an astropy WCS.
    ValueError
        If a parameter is out of range (non-positive ``scale``, ``outnx`` or
        ``outny`` < 1, ``ra`` without ``dec``...), the inputs cannot be
        projected on one tangent plane, or the frame would exceed
        :data:`MAX_FRAME_PIXELS`.
    gpudriz.pipeline.io.inputs.InputError
        If an input WCS gives no sky position, or ``refimage`` is missing,
        unreadable, or has no 2-D image or no celestial WCS.
    """
    if refimage is not None:
        ignored = [name for name, value in (("scale", scale), ("rot", rot), ("outnx", outnx),
                   ("outny", outny), ("ra", ra), ("dec", dec)) if value is not None]  # fmt: skip
        if ignored:
            log.info("output frame taken from refimage %s; ignoring %s", refimage, ", ".join(ignored))
        return _reference_frame(refimage)

    wcs_list, shapes = _check_inputs(wcs_list, shapes)
    first = wcs_list[0]
    scale = _first_scale(first) if scale is None else real_number(scale, "scale", positive=True)
    if rot is None:
        x0, y0 = (float(c) - 1.0 for c in first.wcs.crpix)
        rot = _y_axis_angle(first, x0, y0)
    else:
        rot = real_number(rot, "rot")
    nx = _check_size(outnx, "outnx")
    ny = _check_size(outny, "outny")
    centre = _check_centre(ra, dec)
    template = _TanFrame.like(first, scale, rot)

    if centre is None or nx is None or ny is None:
        lon, lat = _footprints(wcs_list, shapes)
        if centre is None:
            centre = _footprint_centre(template, lon, lat)
        _check_hemisphere(centre, lon, lat, given=ra is not None)
        x, y = template.offsets(centre, lon, lat)
        nx = _fit_size(x) if nx is None else nx
        ny = _fit_size(y) if ny is None else ny
    _check_frame_size(nx, ny)

    w = template.wcs(centre, ((nx + 1) / 2.0, (ny + 1) / 2.0))
    w.pixel_shape = (nx, ny)
    frame = OutputFrame(w, (ny, nx))
    log.info("output frame: %d x %d pixels at %.6g arcsec/pixel, orientation %.4f deg, centre (%.7f, %.7f) deg",
             nx, ny, scale, frame.orientation, centre[0], centre[1])  # fmt: skip
    return frame


# --------------------------------------------------------------------------
# the tangent-plane frame
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _TanFrame:
    """Everything of the output TAN WCS but its tangent point and CRPIX."""

    ctype: tuple[str, str]
    radesys: str
    equinox: float
    scale: float
    rot: float

    @classmethod
    def like(cls, w, scale, rot):
        """A frame in the celestial system (type, RADESYS, EQUINOX) of ``w``."""
        lng, lat = w.wcs.lng, w.wcs.lat
        ctype = (_axis_prefix(w.wcs.ctype[lng]) + "-TAN", _axis_prefix(w.wcs.ctype[lat]) + "-TAN")
        return cls(ctype, w.wcs.radesys, float(w.wcs.equinox), scale, rot)

    def wcs(self, centre, crpix) -> WCS:
        """The TAN WCS with tangent point ``centre`` (deg) at ``crpix`` (1-based)."""
        w = WCS(naxis=2)
        w.wcs.ctype = list(self.ctype)
        if self.radesys:
            w.wcs.radesys = self.radesys
        if math.isfinite(self.equinox):
            w.wcs.equinox = self.equinox
        w.wcs.crval = [float(centre[0]), float(centre[1])]
        w.wcs.crpix = [float(crpix[0]), float(crpix[1])]
        # CD = scale * [[-cos r, sin r], [sin r, cos r]]: +Y at position angle
        # r, +X at r - 90 (East left when North is up), written as CDELT
        # (-s, s) times a pure rotation PC.
        s = self.scale / _ARCSEC_PER_DEG
        c, n = math.cos(math.radians(self.rot)), math.sin(math.radians(self.rot))
        w.wcs.cdelt = [-s, s]
        w.wcs.pc = [[c, -n], [n, c]]
        w.wcs.set()
        return w

    def offsets(self, centre, lon, lat):
        """Frame pixel offsets (x, y) of sky points from the tangent point ``centre``."""
        x, y = self.wcs(centre, (1.0, 1.0)).world_to_pixel_values(lon, lat)
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def _axis_prefix(ctype: str) -> str:
    """The coordinate part of a CTYPE, padded with '-' to 4 characters ('RA--', 'GLON')."""
    return ctype[:4].rstrip("-").ljust(4, "-")


def _footprint_centre(template, lon, lat):
    """Tangent point at the centre of the footprints' bounding box on the tangent plane.

    Starts from the mean of the points' unit vectors and moves the tangent
    point to the centre of the projected bounding box until both agree; the
    projection changes only to second order in the move, so a few
    iterations suffice.
    """
    v = _unit_vectors(lon, lat).mean(axis=0)
    norm = float(np.linalg.norm(v))
    if norm < 1e-6:
        raise ValueError("the inputs are spread over the whole sky, so their footprints have no "
                         "centre; give the frame centre with 'ra' and 'dec'.")  # fmt: skip
    centre = _lonlat(v / norm)
    for _ in range(_MAX_CENTRE_ITER):
        _check_hemisphere(centre, lon, lat, given=False)
        x, y = template.offsets(centre, lon, lat)
        mx = 0.5 * (x.min() + x.max())
        my = 0.5 * (y.min() + y.max())
        if math.hypot(mx, my) < _CENTRE_TOL:
            break
        centre = tuple(float(c) for c in template.wcs(centre, (1.0, 1.0)).pixel_to_world_values(mx, my))
    else:
        log.debug("frame centre still moving by %.2g px after %d iterations", math.hypot(mx, my), _MAX_CENTRE_ITER)
    return centre


def _fit_size(offsets) -> int:
    """Smallest size n whose centre (n - 1) / 2 keeps every offset within [0, n - 1].

    A pixel centre at 0 or n - 1 lies half a pixel inside the frame's edge.
    """
    half = float(np.max(np.abs(offsets)))
    if not math.isfinite(half) or half > MAX_FRAME_PIXELS:
        raise ValueError(
            f"the inputs' footprints reach {half:.3g} output pixels from the frame centre, beyond the "
            f"{MAX_FRAME_PIXELS}-pixel frame limit; choose a larger 'scale' or set 'outnx'/'outny'."
        )
    return max(1, math.ceil(1.0 + 2.0 * half - _SIZE_SLACK))


# --------------------------------------------------------------------------
# sky geometry
# --------------------------------------------------------------------------


def _unit_vectors(lon, lat) -> np.ndarray:
    """(n, 3) unit vectors of sky positions in degrees."""
    a = np.radians(np.asarray(lon, dtype=np.float64))
    d = np.radians(np.asarray(lat, dtype=np.float64))
    return np.stack([np.cos(d) * np.cos(a), np.cos(d) * np.sin(a), np.sin(d)], axis=-1)


def _lonlat(v) -> tuple[float, float]:
    """Longitude in [0, 360) and latitude (deg) of a unit vector."""
    lon = math.degrees(math.atan2(v[1], v[0])) % 360.0
    lat = math.degrees(math.asin(max(-1.0, min(1.0, float(v[2])))))
    return lon, lat


def _sky(w, x, y):
    """(lon, lat) in degrees of 0-based pixel positions through the full WCS of ``w``."""
    world = w.pixel_to_world_values(x, y)
    return np.asarray(world[w.wcs.lng], dtype=np.float64), np.asarray(world[w.wcs.lat], dtype=np.float64)


def _y_axis_angle(w, x, y) -> float:
    """Position angle (deg, East of North) of the +Y pixel axis of ``w`` at (x, y), 0-based.

    A central difference over one pixel, taken between unit vectors (not
    angles) so that it keeps full precision for tiny pixels.
    """
    lon, lat = _sky(w, np.array([x, x]), np.array([y - 0.5, y + 0.5]))
    v = _unit_vectors(lon, lat)
    d = v[1] - v[0]
    mid = v[0] + v[1]
    a = math.atan2(mid[1], mid[0])
    b = math.atan2(mid[2], math.hypot(mid[0], mid[1]))
    east = np.array([-math.sin(a), math.cos(a), 0.0])
    north = np.array([-math.sin(b) * math.cos(a), -math.sin(b) * math.sin(a), math.cos(b)])
    pa = math.degrees(math.atan2(float(d @ east), float(d @ north)))
    return 180.0 if pa == -180.0 else pa


def _first_scale(w) -> float:
    """Undistorted pixel scale (arcsec) of ``w``: ``sqrt(|det CD|)`` of its linear part."""
    return math.sqrt(proj_plane_pixel_area(w)) * _ARCSEC_PER_DEG


def _border(shape, step=EDGE_STEP):
    """0-based (x, y) of pixel centres along the border of a (ny, nx) chip, corners included."""
    ny, nx = shape
    xs = np.linspace(0.0, nx - 1.0, max(2, math.ceil((nx - 1) / step) + 1))
    ys = np.linspace(0.0, ny - 1.0, max(2, math.ceil((ny - 1) / step) + 1))
    x = np.concatenate([xs, xs, np.zeros_like(ys), np.full_like(ys, nx - 1.0)])
    y = np.concatenate([np.zeros_like(xs), np.full_like(xs, ny - 1.0), ys, ys])
    return x, y


def _footprints(wcs_list, shapes):
    """Sky positions (lon, lat in degrees) of every chip's border pixel centres."""
    lons, lats = [], []
    for i, (w, shape) in enumerate(zip(wcs_list, shapes)):
        lon, lat = _sky(w, *_border(shape))
        if not (np.all(np.isfinite(lon)) and np.all(np.isfinite(lat))):
            raise InputError(f"input {i} has a WCS that gives no sky position for some of its edge pixels; "
                             "expected a celestial WCS valid over the whole chip.")  # fmt: skip
        lons.append(lon)
        lats.append(lat)
    return np.concatenate(lons), np.concatenate(lats)


def _check_hemisphere(centre, lon, lat, *, given):
    """Raise if a footprint point is 90 degrees or more from the tangent point."""
    cosd = _unit_vectors(lon, lat) @ _unit_vectors(*centre)
    if np.min(cosd) < _MIN_COS_DISTANCE:
        far = math.degrees(math.acos(max(-1.0, float(np.min(cosd)))))
        where = "the frame centre given by 'ra' and 'dec'" if given else "the centre of their footprints"
        raise ValueError(f"the inputs reach {far:.1f} degrees from {where}; a tangent-plane frame "
                         "holds only points less than 90 degrees from its centre.")  # fmt: skip


# --------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------


def _check_inputs(wcs_list, shapes):
    wcs_list = list(wcs_list)
    shapes = list(shapes)
    if not wcs_list:
        raise ValueError("'wcs_list' must hold at least one input WCS when no 'refimage' is given.")
    if len(shapes) != len(wcs_list):
        raise ValueError(f"'shapes' must give one (ny, nx) per input WCS; got {len(shapes)} for "
                         f"{len(wcs_list)} WCS.")  # fmt: skip
    out_shapes = []
    for i, (w, shape) in enumerate(zip(wcs_list, shapes)):
        if not isinstance(w, WCS):
            raise TypeError(f"'wcs_list' item {i} must be an astropy.wcs.WCS; got {type(w).__name__}.")
        if w.naxis != 2 or not w.has_celestial:
            ctypes = ", ".join(repr(c) for c in w.wcs.ctype)
            raise ValueError(f"'wcs_list' item {i} must be a 2-D celestial WCS (e.g. RA---TAN-SIP, DEC--TAN-SIP); "
                             f"got CTYPE {ctypes}.")  # fmt: skip
        out_shapes.append(_check_shape(shape, i))
    kinds = {(_axis_prefix(w.wcs.ctype[w.wcs.lng]), _axis_prefix(w.wcs.ctype[w.wcs.lat])) for w in wcs_list}
    if len(kinds) > 1:
        names = ", ".join("/".join(k) for k in sorted(kinds))
        raise ValueError(f"'wcs_list' mixes celestial coordinate systems ({names}); expected one for all inputs.")
    return wcs_list, out_shapes


def _check_shape(shape, i) -> tuple[int, int]:
    try:
        ny, nx = shape
    except (TypeError, ValueError):
        raise ValueError(f"'shapes' item {i} must be a (ny, nx) pair; got {shape!r}.") from None
    if not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1 for n in (ny, nx)):
        raise ValueError(f"'shapes' item {i} must be two whole numbers >= 1; got {shape!r}.")
    return int(ny), int(nx)


def _check_size(value, name):
    """``outnx``/``outny`` as an int >= 1 (whole-valued floats accepted), or None."""
    if value is None:
        return None
    v = real_number(value, name)
    if v != math.floor(v) or v < 1:
        raise ValueError(f"'{name}' must be a whole number of pixels >= 1; got {value!r}.")
    return int(v)


def _check_centre(ra, dec):
    if ra is None and dec is None:
        return None
    if ra is None or dec is None:
        missing = "ra" if ra is None else "dec"
        raise ValueError(f"'ra' and 'dec' must be given together; '{missing}' is missing.")
    ra = real_number(ra, "ra")
    dec = real_number(dec, "dec")
    if not -90.0 <= dec <= 90.0:
        raise ValueError(f"'dec' must be between -90 and 90 degrees; got {dec}.")
    return ra % 360.0, dec


def _check_frame_size(nx, ny):
    if nx * ny > MAX_FRAME_PIXELS:
        raise ValueError(f"the output frame of {nx} x {ny} pixels exceeds the {MAX_FRAME_PIXELS}-pixel limit; "
                         "choose a larger 'scale' or smaller 'outnx'/'outny'.")  # fmt: skip


# --------------------------------------------------------------------------
# refimage
# --------------------------------------------------------------------------


def _pick_hdu(hdul, ext, spec):
    if ext is None:
        for hdu in hdul:
            if hdu.is_image and hdu.header.get("NAXIS", 0) == 2:
                return hdu
        raise InputError(f"'refimage' {spec!r} holds no 2-D image; expected an image with NAXIS = 2.")
    try:
        return hdul[ext]
    except (KeyError, IndexError):
        raise InputError(f"'refimage' {spec!r}: the file has no such extension.") from None


def _reference_frame(refimage) -> OutputFrame:
    """The WCS and shape of a reference image, taken exactly."""
    if not isinstance(refimage, (str, os.PathLike)):
        raise TypeError(f"'refimage' must be a FITS file name; got {type(refimage).__name__}.")
    spec = os.fspath(refimage)
    path, ext = split_extension(spec, f"'refimage' {spec!r}")
    if not os.path.isfile(path):
        raise InputError(f"'refimage' file {path!r} does not exist.")
    try:
        hdul = fits.open(path, mode="readonly", memmap=False, lazy_load_hdus=False)
    except Exception as exc:  # astropy raises OSError, ValueError, TypeError... for a bad file
        raise InputError(f"'refimage' {path!r} is not a readable FITS file ({reason(exc)}).") from None
    with hdul:
        hdu = _pick_hdu(hdul, ext, spec)
        hdr = hdu.header
        if not hdu.is_image or hdr.get("NAXIS", 0) != 2 or hdr.get("NAXIS1", 0) < 1 or hdr.get("NAXIS2", 0) < 1:
            raise InputError(f"'refimage' {spec!r} has no 2-D image shape (NAXIS = {hdr.get('NAXIS', 0)}); "
                             "expected an image with NAXIS = 2 and NAXIS1/NAXIS2.")  # fmt: skip
        shape = (int(hdr["NAXIS2"]), int(hdr["NAXIS1"]))
        w = celestial_wcs(hdr, hdul, f"'refimage' {spec!r}", shape)
    return OutputFrame(w, shape)
