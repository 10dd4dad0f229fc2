"""Shift files: registration corrections added to the header WCS (the manual's ``shiftfile``).

A shift file is the classic PyDrizzle / MultiDrizzle text file (also what
tweakshifts and DrizzlePac's tweakreg write)::

    # frame: output
    # units: pixels
    # form: delta
    # refimage: reference_drz.fits[sci,1]
    j8demo01q    0.0     0.0
    j8demo01r    1.25   -0.40
    j8demo01s    0.80    0.10    0.01
    j8demo01t    0.50    0.30   -0.02    1.0001

Header lines (``#``, a key, ``:`` or ``=``, a value; any order, each at
most once; ``# frame input`` without the colon is read too when the value is
a known one; other ``#`` lines are comments):

``# frame: output|input``
    Where the shifts are measured (default ``output``).
``# units: pixels|arcseconds``
    Default ``pixels``; arcseconds are divided by the frame's pixel scale.
``# form: delta|absolute``
    Default ``delta``.  Only delta shifts are supported: an absolute shift
    (the exposure's whole offset, replacing the header's) has no single
    meaning across PyDrizzle versions, so ``absolute`` is an error.
``# reference: FILE`` (or ``# refimage: FILE``)
    The WCS in which output-frame shifts are measured: a FITS file, with an
    optional extension ``file[1]``, ``file[sci,1]``, ``file[wcs]`` (the
    first HDU with a celestial WCS without one).  A relative name is looked
    for beside the shift file, then in the working folder.  Default: the
    final output frame computed from the unshifted headers (with the run's
    ``final_*``, ``ra``/``dec`` and ``refimage`` parameters).

Then one line per exposure: its rootname or file name, ``xsh ysh`` and
optionally ``rot`` (degrees) and ``scale``; tweakreg's two extra rms
columns are accepted and ignored.  ``#`` starts a comment anywhere.

The convention
--------------
The numbers are the exposure's measured misregistration, as PyDrizzle and
tweakreg define it: how far the sources of the exposure, placed by its
header WCS, lie from where they belong in the reference frame.  The
correction removes it.  With ``c`` the reference frame's CRPIX, ``R(rot)``
the counter-clockwise rotation by ``rot`` in the reference frame's pixel
axes (x right, y up), and ``X`` the header-based position of a source in
the reference frame, the corrected position is::

    X' = c + R(rot) (X - c - (xsh, ysh)) / scale

So with only shifts, a source the header puts at ``(X, Y)`` lands at
``(X - xsh, Y - ysh)``: a shift file line ``1.25 -0.40`` says "this
exposure is 1.25 px right and 0.40 px below the reference", as
cross-correlation or catalogue matching measures it.  (PyDrizzle applies a
delta shift by moving the chip's CRVAL by ``-(J * shift)``, J the reference
frame's pixel-to-sky Jacobian; tweakreg by the formula above.)  Rotation
and scale act about the reference frame's CRPIX, the centre of the default
frame.

``frame: input`` gives ``xsh ysh`` in pixels of the exposure's first chip
read (its first SCI extension, or the first one ``group`` selects); they
are carried into the reference frame by the Jacobian of that chip's linear
WCS at its CRPIX, and ``rot`` changes sign if the two frames have opposite
parity; rotation and scale still act about the reference CRPIX.

Each chip's WCS is then corrected: CRVAL becomes the corrected sky position
of its reference pixel and the CD matrix the least-squares linear map of
the corrected sky positions on the new tangent plane, over the chip and a
margin; SIP and lookup tables (pixel-space terms before the CD matrix) are
kept.  The corrected WCS reproduces the formula to ~1e-6 pixel (a larger
departure is logged).  Exposures without a line keep their header WCS (logged);
a name that matches no input is an error (likely a typo).
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_area

from gpudriz.pipeline.geometry.wcs import (
    corrected_wcs,
    linear_wcs,
    parse_wcs,
    pixel_to_world,
    world_to_pixel,
)
from gpudriz.pipeline.io.fits import InputError, reason
from gpudriz.pipeline.io.inputs import file_rootname, split_extension

__all__ = ["ShiftFile", "ShiftLine", "apply_shiftfile", "corrected_wcs", "correction_matrix", "read_shiftfile"]

log = logging.getLogger("gpudriz")

_HEADER = re.compile(r"^#\s*(frame|units|form|reference|refimage)\s*[:=]\s*(.*?)\s*$", re.IGNORECASE)
# Old pydrizzle files also wrote "# units pixels"; without the colon only a
# known value makes the line a header, so "# frame 3 was bad" stays a comment.
_BARE_HEADER = re.compile(r"^#\s*(frame|units|form)\s+(\w+)\s*$", re.IGNORECASE)
_VALUES = {
    "frame": {"output": "output", "input": "input"},
    "units": {"pixels": "pixels", "pixel": "pixels", "arcseconds": "arcseconds", "arcsecond": "arcseconds",
              "arcsec": "arcseconds"},
    "form": {"delta": "delta", "absolute": "absolute"},
}  # fmt: skip
_USAGE = "expected 'name xsh ysh [rot [scale]]'"


@dataclass(frozen=True)
class ShiftLine:
    """One exposure's line of a shift file.

    Attributes
    ----------
    name : str
        The rootname or file name as written.
    xsh, ysh : float
        Shift in the file's frame and units.
    rot : float
        Rotation in degrees (0 when not given).
    scale : float
        Scale factor (1 when not given).
    line : int
        Line number in the file (1-based), for messages.
    """

    name: str
    xsh: float
    ysh: float
    rot: float = 0.0
    scale: float = 1.0
    line: int = 0


@dataclass(frozen=True)
class ShiftFile:
    """A parsed shift file (see the module docstring for the format).

    Attributes
    ----------
    path : pathlib.Path
        The file.
    frame : str
        ``"output"`` or ``"input"``.
    units : str
        ``"pixels"`` or ``"arcseconds"``.
    form : str
        ``"delta"`` (the only form read).
    reference : str or None
        The reference WCS file as written (``file`` or ``file[ext]``), None
        for the default (the unshifted final frame).
    shifts : tuple of ShiftLine
        The exposure lines, in file order.
    """

    path: Path
    frame: str
    units: str
    form: str
    reference: str | None
    shifts: tuple[ShiftLine, ...]


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------


def read_shiftfile(path) -> ShiftFile:
    """Parse a shift file.

    Parameters
    ----------
    path : str or os.PathLike
        The text file.

    Returns
    -------
    ShiftFile

    Raises
    ------
    gpudriz.pipeline.io.inputs.InputError
        If the file is missing or unreadable, or a line is malformed (the
        message names the file and the line): an unknown header value,
        ``form: absolute``, a header given twice with different values, a
        non-numeric or non-finite value, a scale <= 0, a wrong number of
        columns, a name given twice, or no exposure line at all.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"shift file '{path}' does not exist.")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"shift file '{path}' cannot be read as text ({reason(exc)}).") from None
    header: dict[str, tuple[str, int]] = {}
    shifts: list[ShiftLine] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        where = f"shift file '{path}' line {number}"
        if line.startswith("#"):
            _header_line(line, header, where, number)
            continue
        body = line.split("#", 1)[0].strip()
        if body:
            shifts.append(_shift_line(body, where, number))
    if not shifts:
        raise InputError(f"shift file '{path}' has no exposure line; {_USAGE}.")
    _check_unique(shifts, path)
    values = {key: header.get(key, (default, 0))[0] for key, default in
              (("frame", "output"), ("units", "pixels"), ("form", "delta"))}  # fmt: skip
    for key in ("frame", "units"):
        if key not in header:
            log.info("shift file %s has no '# %s:' line; taking %s.", path.name, key, values[key])
    reference = header.get("reference", (None, 0))[0]
    return ShiftFile(path=path, frame=values["frame"], units=values["units"], form=values["form"],
                     reference=reference, shifts=tuple(shifts))  # fmt: skip


def _header_line(line, header, where, number):
    """Record a ``# key: value`` line in ``header``; other comments are ignored."""
    m = _HEADER.match(line)
    if m is None:
        m = _BARE_HEADER.match(line)
        if m is None or m[2].lower() not in _VALUES[m[1].lower()]:
            return
    key, value = m[1].lower(), m[2]
    if key == "refimage":
        key = "reference"  # tweakreg's spelling of pydrizzle's 'reference'
    if not value:
        raise InputError(f"{where}: '# {m[1]}:' has no value.")
    if key in _VALUES:
        canonical = _VALUES[key].get(value.lower())
        if canonical is None:
            allowed = " or ".join(sorted(set(_VALUES[key].values())))
            raise InputError(f"{where}: {key} {value!r} is not valid; expected {allowed}.")
        if key == "form" and canonical == "absolute":
            raise InputError(f"{where}: form 'absolute' is not supported; gpudriz applies delta shifts "
                             "(corrections added to the header WCS): give '# form: delta'.")  # fmt: skip
        value = canonical
    if key in header and header[key][0] != value:
        raise InputError(f"{where}: {key} {value!r} contradicts line {header[key][1]} "
                         f"({header[key][0]!r}).")  # fmt: skip
    header[key] = (value, number)


def _shift_line(body, where, number) -> ShiftLine:
    tokens = body.split()
    if len(tokens) not in (3, 4, 5, 7):
        raise InputError(f"{where} has {len(tokens)} column(s); {_USAGE} (tweakreg's 2 rms columns may follow).")
    numbers = []
    for token in tokens[1:]:
        try:
            value = float(token)
        except ValueError:
            raise InputError(f"{where}: {token!r} is not a number; {_USAGE}.") from None
        if not math.isfinite(value):
            raise InputError(f"{where}: {token!r} is not a finite number; {_USAGE}.")
        numbers.append(value)
    rot = numbers[2] if len(numbers) > 2 else 0.0
    scale = numbers[3] if len(numbers) > 3 else 1.0
    if not scale > 0.0:
        raise InputError(f"{where}: scale {tokens[4]} must be positive.")
    return ShiftLine(tokens[0], numbers[0], numbers[1], rot, scale, number)


def _check_unique(shifts, path):
    seen = {}
    for s in shifts:
        key = _name_keys(s.name)
        for other, line in seen.items():
            if key & other:
                raise InputError(f"shift file '{path}' line {s.line}: {s.name!r} names the same exposure as "
                                 f"line {line}.")  # fmt: skip
        seen[frozenset(key)] = s.line


def _name_keys(name: str) -> set:
    """Lower-case forms under which a shift-file name can match an exposure."""
    base = Path(name).name.lower()
    return {base, file_rootname(base).lower()}


# --------------------------------------------------------------------------
# applying
# --------------------------------------------------------------------------


def correction_matrix(rot: float, scale: float) -> np.ndarray:
    """``R(rot) / scale``: the linear part of the correction (see the module docstring)."""
    t = math.radians(rot)
    return np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]]) / scale


def apply_shiftfile(shifts: ShiftFile, exposures, *, default_reference: Callable[[], WCS], cwd=None) -> dict:
    """Correct the WCS of every chip of the exposures the shift file names (in place).

    Parameters
    ----------
    shifts : ShiftFile
        From :func:`read_shiftfile`.
    exposures : list of gpudriz.pipeline.io.instruments.Exposure
        The inputs; each shifted chip's ``wcs`` is replaced.
    default_reference : callable
        Returns the reference WCS when the file names none: the final output
        frame of the unshifted headers.  Called at most once.
    cwd : str or os.PathLike, optional
        Working folder, searched for a relative reference file after the
        shift file's folder.

    Returns
    -------
    dict
        ``{exposure rootname: ShiftLine}`` of the shifted exposures.

    Raises
    ------
    gpudriz.pipeline.io.inputs.InputError
        If a name matches no input or more than one, or the reference file
        is missing or has no celestial WCS.
    """
    matched = _match(shifts, exposures)
    for e in exposures:
        if e.rootname not in matched:
            log.info("shiftfile: no line for %s; its header WCS is used as is.", e.rootname)
    if shifts.reference is not None:
        ref = _read_reference(shifts.reference, shifts.path, cwd)
    else:
        ref = default_reference()
    ref_scale = math.sqrt(proj_plane_pixel_area(ref)) * 3600.0
    centre = np.asarray(ref.wcs.crpix, dtype=np.float64) - 1.0  # 0-based, like the pixel positions
    by_name = {e.rootname: e for e in exposures}
    for root, s in matched.items():
        e = by_name[root]
        shift, rot = _in_reference_pixels(s, shifts, e, ref, ref_scale)
        matrix = correction_matrix(rot, s.scale)
        offset = centre - matrix @ (centre + shift)
        for chip in e.chips:
            chip.wcs = corrected_wcs(chip.wcs, ref, matrix, offset, name=chip.name)
        log.info("shiftfile: %s corrected by shift (%.4f, %.4f) px, rotation %.6g deg, scale %.8g in the "
                 "reference frame.", root, shift[0], shift[1], rot, s.scale)  # fmt: skip
    return matched


def _match(shifts, exposures) -> dict:
    """``{exposure rootname: ShiftLine}``; every line must name exactly one input."""
    keys = {e.rootname: {e.rootname, e.path.name.lower(), file_rootname(e.path).lower()} for e in exposures}
    matched = {}
    for s in shifts.shifts:
        wanted = _name_keys(s.name)
        hits = [root for root, k in keys.items() if k & wanted]
        where = f"shift file '{shifts.path}' line {s.line}"
        if not hits:
            names = ", ".join(sorted(keys))
            raise InputError(f"{where}: {s.name!r} matches no input exposure ({names}); check the name.")
        if len(hits) > 1:
            raise InputError(f"{where}: {s.name!r} matches more than one input ({', '.join(hits)}); give the "
                             "file name.")  # fmt: skip
        matched[hits[0]] = s
    return matched


def _in_reference_pixels(s, shifts, exposure, ref, ref_scale):
    """The line's shift (reference pixels) and rotation (degrees, reference axes)."""
    shift = np.array([s.xsh, s.ysh], dtype=np.float64)
    if shifts.frame == "output":
        if shifts.units == "arcseconds":
            shift = shift / ref_scale
        return shift, s.rot
    chip = exposure.chips[0]
    if shifts.units == "arcseconds":
        shift = shift / chip.pixel_scale
    jac = _jacobian_to(chip.wcs, ref)
    rot = s.rot if np.linalg.det(jac) > 0 else -s.rot
    return jac @ shift, rot


def _jacobian_to(w, ref) -> np.ndarray:
    """d(reference pixel)/d(chip pixel) of the chip's linear WCS at its CRPIX (central differences)."""
    lin = linear_wcs(w)
    x0, y0 = (float(c) - 1.0 for c in lin.wcs.crpix)
    x = np.array([x0 + 1.0, x0 - 1.0, x0, x0])
    y = np.array([y0, y0, y0 + 1.0, y0 - 1.0])
    rx, ry = world_to_pixel(ref, *pixel_to_world(lin, x, y))
    return np.array([[rx[0] - rx[1], rx[2] - rx[3]], [ry[0] - ry[1], ry[2] - ry[3]]]) / 2.0


# --------------------------------------------------------------------------
# the reference WCS
# --------------------------------------------------------------------------


def _read_reference(spec: str, shiftfile: Path, cwd) -> WCS:
    """The celestial WCS of ``file`` or ``file[ext]``, found beside the shift file or in ``cwd``."""
    what = f"shift file '{shiftfile}': reference '{spec}'"
    name, ext = split_extension(spec, what)
    candidates = [Path(name)] if os.path.isabs(name) else [shiftfile.parent / name]
    if not os.path.isabs(name):
        candidates.append(Path(cwd if cwd is not None else os.getcwd()) / name)
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise InputError(f"{what} does not exist (looked in {', '.join(str(p.parent) for p in candidates)}).")
    try:
        hdul = fits.open(path, mode="readonly", memmap=False)
    except Exception as exc:  # astropy raises OSError, ValueError, TypeError... for a bad file
        raise InputError(f"{what} is not a readable FITS file ({reason(exc)}).") from None
    with hdul:
        if ext is not None:
            try:
                hdus = [hdul[ext]]
            except (KeyError, IndexError):
                raise InputError(f"{what}: the file has no such extension.") from None
        else:
            hdus = list(hdul)
        for hdu in hdus:
            w = _celestial(hdu.header, hdul)
            if w is not None:
                return w
    raise InputError(f"{what} has no celestial WCS (expected CTYPE1/2 such as RA---TAN, DEC--TAN).")


def _celestial(header, hdul):
    try:
        w = parse_wcs(header, hdul, "")
    except InputError:
        return None  # not a WCS header; the caller tries the next HDU or reports
    if not w.has_celestial:
        return None
    return w if w.naxis == 2 else w.celestial
