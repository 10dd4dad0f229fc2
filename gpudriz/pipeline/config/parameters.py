"""The MultiDrizzle parameters: one definition read by the API, CLI, config files and docs.

Every parameter of Table 2 of the MultiDrizzle manual ("Parameters for
MultiDrizzle") is defined here with the Table 2 default, in the table's order,
grouped by the step headings of section 1.4.  Beyond Table 2:

- ``final_wht_type`` (EXP, ERR or IVM; default EXP), which section 1.4 describes
  in step 8.  Section 1.4 names no other parameter missing from Table 2: it
  does not describe ``driz_cr_grow``, ``driz_sep_bits``/``final_bits`` or
  ``combine_maskpt``, so they are not defined.
- ``skymethod`` (localmin, globalmin or match; default localmin, the manual's
  rule), AstroDrizzle's choice of how exposures' skies relate.
- ``backend`` (group "gpudriz"), the engine argument of ``Multidrizzle``, so
  that the command line and configuration files can set it.

Where Table 2 and section 1.4 disagree, Table 2 wins and the parameter's
``note`` says so: ``context`` (yes), ``combine_type`` (median),
``combine_nsigma`` ("6 3"), ``driz_cr_snr`` ("3.0 2.5"), ``skylower`` /
``skyupper`` (-50 / 200), ``output`` (blank: the rootname comes from the input).
Section 1.4 calls ``gnkeyword`` ``gainkeyword``; that spelling is accepted as
an alias.  ``combine_type`` also offers ``minmax``, which ``combine_nlow`` and
``combine_nhigh`` refer to; the kernels offer ``lanczos2`` and ``blot_interp``
offers ``lanczos3`` / ``lanczos5``, the engine's extensions of the manual's lists.

Values arrive as Python values or as text (command line, configuration file);
:func:`validate` turns either into one canonical Python value and raises a
one-sentence :class:`ParameterError` naming the parameter otherwise.
"""

from __future__ import annotations

import difflib
import io
import math
import numbers
import os
import re
import tempfile
import textwrap
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Parameter",
    "ParameterError",
    "UnknownParameterError",
    "PARAMETERS",
    "STEPS",
    "ALIASES",
    "KIND_LABELS",
    "canonical_name",
    "validate",
    "format_value",
    "Parameters",
    "write_config",
    "read_config",
    "parse_cli",
    "help_text",
    "reference_markdown",
]

#: Parameter groups in processing order, with the manual's headings as titles.
STEPS = {
    "init": "Initialization",
    "static": "Static Mask Creation",
    "sky": "Sky Subtraction",
    "driz_separate": "Create Separate Drizzled Images",
    "median": "Create Median Image",
    "blot": "Blot Median Image",
    "driz_cr": "Remove Cosmic-rays",
    "driz_combine": "Create Final Cleaned, Combined Product",
    "instrument": "Override Instrument Specific Parameters",
    "gpudriz": "gpudriz Engine",
}

#: Human names of the value kinds, as shown in help and configuration files.
KIND_LABELS = {
    "bool": "yes/no",
    "int": "integer",
    "float": "number",
    "str": "text",
    "choice": "choice",
    "pair": "pair of numbers",
    "file": "file name",
    "files": "file list",
    "keyword": "header keyword",
}

_TRUE = frozenset({"yes", "y", "true"})
_FALSE = frozenset({"no", "n", "false"})
# Text that means "unset" (IRAF's INDEF, a blank, Python's None spelt out).
_NULL_TEXT = frozenset({"", "indef", "none"})
_KEYWORD_RE = re.compile(r"[A-Z0-9_-]{1,8}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class ParameterError(ValueError):
    """A parameter name or value is not acceptable; the message is one sentence."""


class UnknownParameterError(ParameterError, KeyError):
    """No parameter has this name (also a `KeyError`, so mapping look-ups behave)."""

    def __str__(self):
        # KeyError would quote the whole message; keep it a plain sentence.
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Parameter:
    """Definition of one MultiDrizzle parameter.

    Attributes
    ----------
    name : str
        Name as in Table 2 of the manual.
    step : str
        Group (a key of `STEPS`).
    kind : str
        Value kind, a key of `KIND_LABELS`: ``"bool"``, ``"int"``, ``"float"``,
        ``"str"``, ``"choice"``, ``"pair"`` (two floats), ``"file"``,
        ``"files"`` (one or more input names) or ``"keyword"`` (a FITS keyword).
    default : object
        Canonical default value (``None`` for INDEF / blank).
    description : str
        One line, from Table 2.
    choices : tuple of str
        Allowed values of a ``"choice"``; for a ``"file"``, named values
        accepted besides a file name.  Matched case-insensitively, returned as
        spelt here.
    minimum, maximum : float or None
        Numeric bounds (of both numbers of a pair).
    exclusive_minimum, exclusive_maximum : bool
        Whether the bound itself is excluded.
    nullable : bool
        Whether INDEF / blank / None is allowed.
    none_means : str
        What INDEF means for this parameter (required when ``nullable``).
    example : str
        Example values shown with the allowed values of a text parameter.
    note : str
        Remarks: departures from section 1.4, single-value rules, extensions.
    """

    name: str
    step: str
    kind: str
    default: object
    description: str
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    nullable: bool = False
    none_means: str = ""
    example: str = ""
    note: str = ""

    def __post_init__(self):
        if self.step not in STEPS:
            raise ValueError(f"parameter {self.name}: step {self.step!r} is not in STEPS.")
        if self.kind not in KIND_LABELS:
            raise ValueError(f"parameter {self.name}: kind {self.kind!r} is not in KIND_LABELS.")
        if self.nullable != bool(self.none_means):
            raise ValueError(f"parameter {self.name}: give none_means exactly when nullable.")
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"parameter {self.name}: a choice needs its choices.")

    @property
    def kind_label(self) -> str:
        """Human name of the kind (``"number"``, ``"yes/no"``...)."""
        return KIND_LABELS[self.kind]

    @property
    def allowed(self) -> str:
        """Text describing the accepted values, as used in errors and help."""
        if self.kind == "bool":
            text = "yes or no"
        elif self.kind == "choice":
            text = "one of " + ", ".join(self.choices)
        elif self.kind == "int":
            text = "an integer" + self._bounds_text()
        elif self.kind == "float":
            text = "a number" + self._bounds_text()
        elif self.kind == "pair":
            text = (f"one or two numbers{self._bounds_text()} such as '6 3' or '6,3' "
                    "(one number serves both)")  # fmt: skip
        elif self.kind == "keyword":
            text = "a FITS header keyword of 1 to 8 letters, digits, '-' or '_'"
        elif self.kind == "files":
            text = "a file name, a wildcard, an @list file or a comma-separated list of names"
        elif self.kind == "file":
            text = "a file name"
            if self.choices:
                text = ", ".join(self.choices) + " or " + text
        else:
            text = "text"
        if self.example:
            text += f" such as {self.example}"
        if self.nullable:
            text += ", or INDEF"
        return text

    def _bounds_text(self) -> str:
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            left = "(" if self.exclusive_minimum else "["
            right = ")" if self.exclusive_maximum else "]"
            return f" in {left}{_format_number(lo)}, {_format_number(hi)}{right}"
        if lo is not None:
            return f" {'>' if self.exclusive_minimum else '>='} {_format_number(lo)}"
        if hi is not None:
            return f" {'<' if self.exclusive_maximum else '<='} {_format_number(hi)}"
        return ""

    def validate(self, value):
        """Return the canonical value of ``value`` for this parameter.

        Parameters
        ----------
        value : object
            A Python value or its text form (command line, configuration file).

        Returns
        -------
        object
            ``bool``, ``int``, ``float``, ``str``, ``tuple`` of two floats, or
            ``None`` (INDEF) where allowed.

        Raises
        ------
        ParameterError
            One sentence naming the parameter, the value and what is accepted.
        """
        given = value  # quoted as given in the error
        if isinstance(value, os.PathLike) and self.kind in ("file", "files"):
            value = os.fspath(value)
        if isinstance(value, str):
            text = value.strip()
            # A named choice wins over INDEF: coeffs="none" means "no distortion model".
            for choice in self.choices:
                if text.lower() == choice.lower():
                    return choice
            if text.lower() in _NULL_TEXT:
                value = None
        if value is None:
            if self.nullable:
                return None
            raise self._error(given)
        result = _CONVERTERS[self.kind](self, value)
        if result is None:
            raise self._error(given)
        return result

    def _error(self, value) -> ParameterError:
        return ParameterError(f"{self.name} = {value!r} is not valid: expected {self.allowed}.")

    def _in_bounds(self, x: float) -> bool:
        lo, hi = self.minimum, self.maximum
        if lo is not None and (x < lo or (self.exclusive_minimum and x == lo)):
            return False
        if hi is not None and (x > hi or (self.exclusive_maximum and x == hi)):
            return False
        return True


# --- conversion of one value per kind (None = not acceptable) -------------------


def _is_bool(value) -> bool:
    # numpy.bool_ is not a numbers.Number; recognise it by its dtype kind.
    if isinstance(value, bool):
        return True
    dtype = getattr(value, "dtype", None)
    return getattr(dtype, "kind", "") == "b" and getattr(value, "ndim", 1) == 0


def _number(value) -> float | None:
    """A finite float from a real number or numeric text, else None."""
    if _is_bool(value):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, numbers.Real):
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def _to_bool(p: Parameter, value):
    if _is_bool(value):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


def _to_int(p: Parameter, value):
    if isinstance(value, numbers.Integral) and not _is_bool(value):
        n = int(value)
    else:
        if isinstance(value, str):
            try:
                return _to_int(p, int(value.strip()))
            except ValueError:
                pass  # "1e3" or "4.0": take the float route below
        x = _number(value)
        if x is None or not x.is_integer():
            return None
        n = int(x)
    return n if p._in_bounds(n) else None


def _to_float(p: Parameter, value):
    x = _number(value)
    return x if x is not None and p._in_bounds(x) else None


def _to_pair(p: Parameter, value):
    if isinstance(value, str):
        items = re.split(r"[,\s]+", value.strip())
    elif isinstance(value, Iterable):
        items = list(value)
    else:
        items = [value]
    if not 1 <= len(items) <= 2:
        return None
    numbers_ = [_to_float(p, item) for item in items]
    if any(x is None for x in numbers_):
        return None
    # The manual: "If only one value is specified, then it is used in both steps."
    return (numbers_[0], numbers_[-1])


def _to_choice(p: Parameter, value):
    return None  # matching strings were returned by Parameter.validate already


def _clean_text(value) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    # Control characters (newlines above all) would break configuration files.
    if not text or _CONTROL_RE.search(text):
        return None
    return text


def _to_text(p: Parameter, value):
    if isinstance(value, numbers.Integral) and not _is_bool(value):
        value = str(int(value))  # group=1 means extension "1"
    return _clean_text(value)


def _to_file(p: Parameter, value):
    return _clean_text(value)


def _to_files(p: Parameter, value):
    if isinstance(value, (str, os.PathLike)):
        return _clean_text(os.fspath(value))
    if not isinstance(value, Iterable):
        return None
    names = [_clean_text(os.fspath(v)) if isinstance(v, (str, os.PathLike)) else None
             for v in value]  # fmt: skip
    # A comma inside one name could not be told apart from the list separator.
    if not names or any(n is None or "," in n for n in names):
        return None
    return ",".join(names)


def _to_keyword(p: Parameter, value):
    text = _clean_text(value)
    if text is None or not _KEYWORD_RE.fullmatch(text.upper()):
        return None
    return text.upper()


_CONVERTERS = {
    "bool": _to_bool,
    "int": _to_int,
    "float": _to_float,
    "pair": _to_pair,
    "choice": _to_choice,
    "str": _to_text,
    "file": _to_file,
    "files": _to_files,
    "keyword": _to_keyword,
}


# --- the definitions ---------------------------------------------------------------

_KERNELS = ("square", "point", "gaussian", "turbo", "tophat", "lanczos2", "lanczos3")
_KERNEL_NOTE = ("lanczos2 is a gpudriz extension (a drizzle 3.x kernel); the manual lists square, "
                "point, gaussian, turbo, tophat and lanczos3.")  # fmt: skip
_PIXFRAC_NOTE = ("The manual describes values between 0 and 1; larger drops are accepted, as "
                 "drizzle accepts them.  Below 0.001 the kernel becomes point.")  # fmt: skip
_FILL_NONE = "no fill: pixels that received no input keep the value drizzle computes"
_SIZE_NONE = "the smallest size that holds every input pixel"
_SIZE_NOTE = "Section 1.4 labels it a float; a size in pixels is a whole number."


def _p(name, step, kind, default, description, **kw) -> Parameter:
    return Parameter(name=name, step=step, kind=kind, default=default,
                     description=description, **kw)  # fmt: skip


_DEFINITIONS = (
    # 1 Initialization
    _p("input", "init", "files", "flt.fits", "Input files: filename, wildcard suffix, or @list"),
    _p("output", "init", "str", None, "Rootname for output drizzled products", example="'final'",
       nullable=True,
       none_means="the rootname comes from the input (an association's product, a single "
                  "exposure's rootname, otherwise 'final')",
       note="Section 1.4 names 'final' as the default for lists and wildcards; Table 2 leaves "
            "it blank."),
    _p("mdriztab", "init", "bool", False, "Use table with multidrizzle parameters?"),
    _p("refimage", "init", "file", None, "Name of image to use as reference WCS", nullable=True,
       none_means="no reference image: the output WCS is computed from the inputs"),
    _p("runfile", "init", "file", "multidrizzle.run",
       "File for logging the final drizzle commands"),
    _p("workinplace", "init", "bool", False, "Work on input files in place? (NOT RECOMMENDED)"),
    _p("coeffs", "init", "file", "header", "Use header-based distortion coefficients?",
       choices=("header", "cubic", "trauger", "none"),
       note="header, cubic and trauger name the distortion model, none applies no distortion "
            "correction, anything else names a coefficients file."),
    _p("context", "init", "bool", True, "Create context image during final drizzle?",
       note="Section 1.4 says False; Table 2's yes is used."),
    _p("clean", "init", "bool", False, "Remove temporary files?"),
    _p("group", "init", "str", None, "Specification of extension/group to process", nullable=True,
       none_means="every extension or group is processed", example="'1' or 'sci,1'"),
    _p("bits", "init", "int", 0, "Integer mask bit values considered good", minimum=0),
    _p("ra", "init", "float", None, "right ascension output frame center",
       minimum=0.0, maximum=360.0, exclusive_maximum=True, nullable=True,
       none_means="the centre is computed from the dither positions of the inputs",
       note="Decimal degrees."),
    _p("dec", "init", "float", None, "declination output frame center", minimum=-90.0, maximum=90.0,
       nullable=True, none_means="the centre is computed from the dither positions of the inputs",
       note="Decimal degrees."),
    _p("build", "init", "bool", True, "Create multi-extension output file?"),
    _p("shiftfile", "init", "file", None, "Shiftfile name", nullable=True,
       none_means="no shifts beyond those of the headers"),
    # 2 Bad pixel (static) mask creation
    _p("static", "static", "bool", True, "Create static bad-pixel mask from the data?"),
    _p("staticfile", "static", "file", None, "Name of (optional) input static bad-pixel mask",
       nullable=True, none_means="no user mask: only the DQ information of the inputs is used"),
    _p("static_sig", "static", "float", 4.0, "Sigma*rms below mode to clip for static mask",
       minimum=0.0, exclusive_minimum=True),
    # 3 Sky subtraction
    _p("skysub", "sky", "bool", True, "Perform sky subtraction?"),
    _p("skywidth", "sky", "float", 0.1, "Interval width for sky statistics (in sigma)",
       minimum=0.0, exclusive_minimum=True),
    _p("skystat", "sky", "choice", "median", "Sky correction statistics parameter",
       choices=("median", "mode", "mean")),
    _p("skylower", "sky", "float", -50.0,
       "Lower limit of usable data for sky (always in electrons)",
       nullable=True, none_means="no lower limit",
       note="Section 1.4 gives no default; Table 2's -50 is used."),
    _p("skyupper", "sky", "float", 200.0,
       "Upper limit of usable data for sky (always in electrons)",
       nullable=True, none_means="no upper limit",
       note="Section 1.4 gives no default; Table 2's 200 is used."),
    _p("skyclip", "sky", "int", 5, "Number of clipping iterations", minimum=0),
    _p("skylsigma", "sky", "float", 4.0, "Lower side clipping factor (in sigma)",
       minimum=0.0, exclusive_minimum=True),
    _p("skyusigma", "sky", "float", 4.0, "Upper side clipping factor (in sigma)",
       minimum=0.0, exclusive_minimum=True),
    _p("skymethod", "sky", "choice", "localmin", "Sky method: localmin, globalmin or match",
       choices=("localmin", "globalmin", "match"),
       note="Not a MultiDrizzle parameter (AstroDrizzle's): localmin is the manual's behaviour, "
            "each exposure's lowest chip surface brightness; globalmin takes the lowest over "
            "all exposures for every exposure; match solves the sky differences between "
            "exposures from their overlaps, for mosaics whose exposures see different skies."),
    _p("skyuser", "sky", "keyword", None,
       "KEYWORD indicating a sky subtraction value if done by user.",
       nullable=True, none_means="MultiDrizzle computes and subtracts the sky"),
    # 4 Drizzling to separate outputs
    _p("driz_separate", "driz_separate", "bool", True, "Drizzle onto separate output images?"),
    _p("driz_sep_outnx", "driz_separate", "int", None,
       "Size of separate output frame's X-axis (pixels)",
       minimum=1, nullable=True, none_means=_SIZE_NONE, note=_SIZE_NOTE),
    _p("driz_sep_outny", "driz_separate", "int", None,
       "Size of separate output frame's Y-axis (pixels)",
       minimum=1, nullable=True, none_means=_SIZE_NONE, note=_SIZE_NOTE),
    _p("driz_sep_kernel", "driz_separate", "choice", "turbo", "Shape of kernel function",
       choices=_KERNELS, note=_KERNEL_NOTE),
    _p("driz_sep_scale", "driz_separate", "float", None,
       "Absolute size of output pixels in arcsec/pixel",
       minimum=0.0, exclusive_minimum=True, nullable=True,
       none_means="the undistorted pixel scale of the first input"),
    _p("driz_sep_pixfrac", "driz_separate", "float", 1.0, "Linear size of drop in input pixels",
       minimum=0.0, exclusive_minimum=True, note=_PIXFRAC_NOTE),
    _p("driz_sep_rot", "driz_separate", "float", None,
       "Orientation of final image's Y-axis w.r.t. North (in degrees)", nullable=True,
       none_means="no rotation: the camera's own orientation, axes roughly along the detector's"),
    _p("driz_sep_fillval", "driz_separate", "float", None,
       "Value to be assigned to undefined output points", nullable=True, none_means=_FILL_NONE),
    # 5 Median image creation
    _p("median", "median", "bool", True, "Create a median image?"),
    _p("median_newmasks", "median", "bool", True, "Create new masks when doing the median?"),
    _p("combine_type", "median", "choice", "minmed", "Type of combine operation",
       choices=("average", "median", "sum", "minmed", "minmax"),
       note="Section 1.4's default (and AstroDrizzle's); Table 2 gives median, which leaves "
            "3.6x more cosmic rays in the final image (docs/differences.md).  minmax is the "
            "method combine_nlow and combine_nhigh refer to in the manual."),
    _p("combine_nsigma", "median", "pair", (4.0, 3.0),
       "Significance for accepting minimum instead of median",
       minimum=0.0, exclusive_minimum=True,
       note="The first value decides between median and minimum, the second is used when growing; "
            "one value is used for both.  Section 1.4's '4 3' (Table 2 gives '6 3')."),
    _p("combine_nlow", "median", "int", 0,
       "Number of low pixels to reject (median, average, sum, minmax)", minimum=0,
       note="Of each pixel's good values, as numcombine: lowered where fewer are good; minmax "
            "scales it with the good values (IRAF); minmed ignores it."),
    _p("combine_nhigh", "median", "int", 1,
       "Number of high pixels to reject (median, average, sum, minmax)", minimum=0,
       note="As combine_nlow.  Table 2's 1 drops a cosmic ray before the median of four images."),
    _p("combine_lthresh", "median", "float", None,
       "Lower threshold for clipping input pixel values",
       nullable=True, none_means="no lower threshold"),
    _p("combine_hthresh", "median", "float", None,
       "Upper threshold for clipping input pixel values",
       nullable=True, none_means="no upper threshold"),
    _p("combine_grow", "median", "float", 1.0, "Radius (pixels) for neighbor rejection",
       minimum=0.0),
    # 6 Blotting the median image
    _p("blot", "blot", "bool", True, "Blot the median back to the input frame?"),
    _p("blot_interp", "blot", "choice", "poly5", "Interpolant: nearest,linear,poly3,poly5,sinc",
       choices=("nearest", "linear", "poly3", "poly5", "sinc", "lanczos3", "lanczos5"),
       note="lanczos3 and lanczos5 are gpudriz extensions (cdrizzle's Lanczos interpolants)."),
    _p("blot_sinscl", "blot", "float", 1.0, "Scale for sinc interpolation kernel",
       minimum=0.0, exclusive_minimum=True),
    # 7 Cosmic-ray detection and removal
    _p("driz_cr", "driz_cr", "bool", True, "Perform CR rejection with deriv and driz_cr?"),
    _p("driz_cr_corr", "driz_cr", "bool", False, "Create CR cleaned _cor file and a _crmask file?"),
    _p("driz_cr_snr", "driz_cr", "pair", (5.0, 4.0), "driz_cr: SNR parameter",
       minimum=0.0, exclusive_minimum=True,
       note="First and second detection pass, in units of the noise of D - B, which gpudriz "
            "models without AstroDrizzle's inflation (docs/pipeline.md, driz_cr noise); one "
            "value is used for both.  Table 2's '3.0 2.5' and section 1.4's '3.5 3.0' were "
            "meant for the inflated noise: with a true noise they flag 100x more clean pixels "
            "(docs/differences.md)."),
    _p("driz_cr_scale", "driz_cr", "pair", (1.2, 0.7), "driz_cr: scale parameter", minimum=0.0,
       note="Multiplies the derivative in the first and second pass; one value is used for both."),
    # 8 Final image combination
    _p("driz_combine", "driz_combine", "bool", True, "Perform final drizzle image combination?",
       note="Table 2 lists it under Remove Cosmic-rays; section 1.4 describes it in step 8."),
    _p("final_wht_type", "driz_combine", "choice", "EXP",
       "Type of weighting image for the final drizzle: exposure time, ERR array or user IVM",
       choices=("EXP", "ERR", "IVM"),
       note="Not in Table 2; described in section 1.4, step 8.  IVM files are the second column "
            "of an @list input."),
    _p("final_outnx", "driz_combine", "int", None, "Size of FINAL output frame X-axis (pixels)",
       minimum=1, nullable=True, none_means=_SIZE_NONE, note=_SIZE_NOTE),
    _p("final_outny", "driz_combine", "int", None, "Size of FINAL output frame Y-axis (pixels)",
       minimum=1, nullable=True, none_means=_SIZE_NONE, note=_SIZE_NOTE),
    _p("final_kernel", "driz_combine", "choice", "square", "Shape of kernel function",
       choices=_KERNELS, note=_KERNEL_NOTE),
    _p("final_scale", "driz_combine", "float", None,
       "Absolute size of output pixels in arcsec/pixel",
       minimum=0.0, exclusive_minimum=True, nullable=True,
       none_means="the undistorted pixel scale of the first input"),
    _p("final_pixfrac", "driz_combine", "float", 1.0, "Linear size of drop in input pixels",
       minimum=0.0, exclusive_minimum=True, note=_PIXFRAC_NOTE),
    _p("final_rot", "driz_combine", "float", 0.0,
       "Orientation of final image's Y-axis w.r.t. North (in degrees)", nullable=True,
       none_means="no rotation: the camera's own orientation, axes roughly along the detector's"),
    _p("final_fillval", "driz_combine", "float", None,
       "Value to be assigned to undefined output points", nullable=True, none_means=_FILL_NONE),
    # Instrument overrides (defined with step 1 in section 1.4, grouped as in Table 2)
    _p("gain", "instrument", "float", None, "Detector gain", minimum=0.0, exclusive_minimum=True,
       nullable=True, none_means="the instrument's gain (or gnkeyword)",
       note="Electrons per count."),
    _p("gnkeyword", "instrument", "keyword", None, "Detector gain keyword in header", nullable=True,
       none_means="not used", note="Section 1.4 calls it gainkeyword; that name is accepted too."),
    _p("rdnoise", "instrument", "float", None, "Detector read noise", minimum=0.0, nullable=True,
       none_means="the instrument's read noise (or rnkeyword)", note="Electrons."),
    _p("rnkeyword", "instrument", "keyword", None, "Detector read noise keyword in header",
       nullable=True, none_means="not used"),
    _p("exptime", "instrument", "float", None, "Exposure time", minimum=0.0, exclusive_minimum=True,
       nullable=True, none_means="the exposure time of the header (or expkeyword)",
       note="Seconds."),
    _p("expkeyword", "instrument", "keyword", None, "Exposure time keyword in header",
       nullable=True, none_means="not used"),
    _p("crbit", "instrument", "int", None, "Bit value for CR identification in DQ array", minimum=0,
       nullable=True, none_means="the instrument's cosmic-ray bit (4096 for ACS and WFPC2)",
       note="0 leaves the DQ arrays untouched."),
    # gpudriz's own
    _p("backend", "gpudriz", "choice", "auto", "Engine for the per-pixel work: auto, cpu or cuda",
       choices=("auto", "cpu", "cuda"),
       note="Not a MultiDrizzle parameter: the backend argument of Multidrizzle.  auto uses CUDA "
            "when a device answers."),
)

#: Every parameter by name, in the manual's order (Table 2, then final_wht_type
#: in its section 1.4 place, then gpudriz's ``backend``).
PARAMETERS = {p.name: p for p in _DEFINITIONS}

#: Other spellings accepted for a parameter name (section 1.4's, where it differs).
ALIASES = {"gainkeyword": "gnkeyword"}


# --- names and values ------------------------------------------------------------


def canonical_name(name) -> str:
    """Return the parameter name that ``name`` refers to.

    Case, surrounding blanks and dashes for underscores (``final-pixfrac``) do
    not matter; the aliases of `ALIASES` are resolved.

    Raises
    ------
    UnknownParameterError
        If no parameter has this name; the message suggests the closest name.
    """
    if not isinstance(name, str):
        raise UnknownParameterError(f"parameter names are text, got {name!r}.")
    name = name.strip()
    key = name.lower().replace("-", "_")
    if key in PARAMETERS:
        return key
    if key in ALIASES:
        return ALIASES[key]
    close = difflib.get_close_matches(key, list(PARAMETERS) + list(ALIASES), n=1)
    if close:
        suggestion = ALIASES.get(close[0], close[0])
        raise UnknownParameterError(f"unknown parameter {name!r} (did you mean {suggestion!r}?).")
    raise UnknownParameterError(f"unknown parameter {name!r}.")


def validate(name, value):
    """Return the canonical value of parameter ``name`` for ``value``.

    Parameters
    ----------
    name : str
        Parameter name (see :func:`canonical_name` for accepted spellings).
    value : object
        A Python value or text.  Booleans accept yes/no/true/false/y/n in any
        case; ``None``, ``"INDEF"``, ``"None"`` and blank text mean INDEF where
        the parameter allows it; pairs accept ``"6 3"``, ``"6,3"``, a
        2-sequence, or one number used for both values; integers accept floats
        of integral value; choices are matched case-insensitively.

    Returns
    -------
    object
        The canonical value (see :meth:`Parameter.validate`).

    Raises
    ------
    ParameterError
        One sentence naming the parameter, e.g. ``final_pixfrac = -1 is not
        valid: expected a number > 0.``; an :class:`UnknownParameterError`
        (with a suggestion) for an unknown name.
    """
    return PARAMETERS[canonical_name(name)].validate(value)


def _format_number(x) -> str:
    if isinstance(x, numbers.Integral):
        return str(int(x))
    # Integral floats print as integers ("6 3"); repr keeps every other float exact.
    if float(x).is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(float(x))


def format_value(value) -> str:
    """Return the text form of a canonical value (INDEF, yes/no, ``6 3``...).

    :func:`validate` reads the text back to the same value.
    """
    if value is None:
        return "INDEF"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return " ".join(_format_number(x) for x in value)
    if isinstance(value, numbers.Real):
        return _format_number(value)
    return str(value)


# --- a validated set of values ---------------------------------------------------------


class Parameters(MutableMapping):
    """All MultiDrizzle parameters, validated on every assignment.

    Starts from the defaults; ``values`` and keywords are applied on top.  Keys
    are always the canonical names, in the manual's order; parameters cannot be
    removed (use :meth:`reset`).

    Parameters
    ----------
    values : mapping or iterable of (name, value), optional
        Values to set.
    **kw
        More values to set.

    Raises
    ------
    ParameterError
        If a name or value is not acceptable; nothing is set then.

    Examples
    --------
    >>> p = Parameters(final_pixfrac="0.8", combine_nsigma="4 3")
    >>> p.final_pixfrac, p["combine_nsigma"]
    (0.8, (4.0, 3.0))
    >>> p.changed()
    {'combine_nsigma': (4.0, 3.0), 'final_pixfrac': 0.8}
    """

    __slots__ = ("_values",)

    def __init__(self, values=None, /, **kw):
        object.__setattr__(self, "_values", {name: p.default for name, p in PARAMETERS.items()})
        self.update(values, **kw)

    def __getitem__(self, name):
        return self._values[canonical_name(name)]

    def __setitem__(self, name, value):
        key = canonical_name(name)
        self._values[key] = PARAMETERS[key].validate(value)

    def __delitem__(self, name):
        raise TypeError(
            f"parameters cannot be removed; use reset({name!r}) to restore the default."
        )

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __contains__(self, name):
        try:
            canonical_name(name)
        except UnknownParameterError:
            return False
        return True

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except UnknownParameterError as exc:
            raise AttributeError(str(exc)) from None

    def __setattr__(self, name, value):
        if name.startswith("_"):
            object.__setattr__(self, name, value)  # the slot (set by copy and pickle)
        else:
            # Validated like p[name]; a misspelt name is an error, not a new attribute.
            self[name] = value

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._values))

    def __repr__(self):
        changed = ", ".join(f"{k}={v!r}" for k, v in self.changed().items())
        return f"Parameters({changed})"

    def update(self, values=None, /, **kw):
        """Set several values at once; if any is not acceptable, none is set.

        Raises
        ------
        ParameterError
            For the first unacceptable name or value.
        """
        items = []
        if values is not None:
            items.extend(values.items() if isinstance(values, Mapping) else values)
        items.extend(kw.items())
        staged = {}
        for name, value in items:
            key = canonical_name(name)
            staged[key] = PARAMETERS[key].validate(value)
        self._values.update(staged)

    def reset(self, *names):
        """Restore the defaults of ``names`` (of every parameter when none is given)."""
        keys = [canonical_name(n) for n in names] or list(PARAMETERS)
        for key in keys:
            self._values[key] = PARAMETERS[key].default

    def copy(self) -> Parameters:
        """Return an independent copy."""
        new = Parameters()
        new._values.update(self._values)
        return new

    def changed(self) -> dict:
        """Return ``{name: value}`` of the parameters that differ from their default."""
        return {k: v for k, v in self._values.items() if v != PARAMETERS[k].default}

    def as_dict(self) -> dict:
        """Return every value as a plain ``{name: value}`` dict, in the manual's order."""
        return dict(self._values)

    def step_values(self, step) -> dict:
        """Return ``{name: value}`` of the parameters of one group of `STEPS`.

        Raises
        ------
        ParameterError
            If ``step`` is not a group name.
        """
        if step not in STEPS:
            raise ParameterError(f"step {step!r} is not one of {', '.join(STEPS)}.")
        return {k: v for k, v in self._values.items() if PARAMETERS[k].step == step}


def _as_parameters(params) -> Parameters:
    if params is None:
        return Parameters()
    return params if isinstance(params, Parameters) else Parameters(params)


# --- configuration files --------------------------------------------------------------

_CONFIG_HEADER = """\
# gpudriz (MultiDrizzle) parameters.
# Each setting is 'name = value'; a line whose first non-blank character is '#' is a comment.
# Yes/no switches take yes or no; pairs take two numbers such as 6 3.
# INDEF (or nothing after '=') leaves a parameter unset where its comment allows INDEF.
# Parameters missing from the file keep their defaults.
"""


def _config_text(value) -> str:
    text = format_value(value)
    # Outer quotes are removed on reading, so a value that starts or ends with a
    # quote is wrapped in one more pair to come back unchanged.
    if isinstance(value, str) and (text[0] in "'\"" or text[-1] in "'\""):
        text = f'"{text}"'
    return text


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def write_config(path_or_file, params=None):
    """Write a commented, human-editable configuration file.

    Parameters are grouped by step; each is a comment line (description, kind,
    default, accepted values) followed by ``name = value``, with INDEF for
    None and pairs as ``6 3``.  :func:`read_config` reads it back exactly.

    Parameters
    ----------
    path_or_file : str, os.PathLike or text file
        Destination.  A path is written through a temporary file in the same
        folder and renamed, so a failed write leaves no half-written file.
    params : Parameters or mapping, optional
        Values to write; names not given keep their defaults.  Defaults when None.

    Raises
    ------
    ParameterError
        If ``params`` holds an unknown name or an unacceptable value.
    """
    params = _as_parameters(params)
    lines = [_CONFIG_HEADER.rstrip("\n")]
    for step, title in STEPS.items():
        lines += ["", "# " + "-" * 76, f"# {title} [{step}]", "# " + "-" * 76]
        for name, p in PARAMETERS.items():
            if p.step != step:
                continue
            lines.append(f"# {p.description}  ({p.kind_label}; default {format_value(p.default)}; "
                         f"{p.allowed})")  # fmt: skip
            lines.append(f"{name} = {_config_text(params[name])}")
    text = "\n".join(lines) + "\n"
    if hasattr(path_or_file, "write"):
        path_or_file.write(text)
        return
    path = Path(path_or_file)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        # mkstemp makes the file private; a configuration file is an ordinary one.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read_config(path) -> Parameters:
    """Read a configuration file written by :func:`write_config` (or by hand).

    Blank lines and lines starting with ``#`` are ignored; every other line is
    ``name = value`` (the value may be wrapped in quotes).  Parameters not in
    the file keep their defaults.

    Parameters
    ----------
    path : str, os.PathLike or text file

    Returns
    -------
    Parameters

    Raises
    ------
    ParameterError
        Naming the file and line number: a line that is not a setting, an
        unknown name, a bad value, or a parameter set twice.
    OSError
        If the file cannot be read.
    """
    if hasattr(path, "read"):
        source = getattr(path, "name", "<configuration>")
        text = path.read()
    else:
        source = os.fspath(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ParameterError(
                f"{source}: not a configuration file (it is not UTF-8 text)."
            ) from None
    params = Parameters()
    seen = {}
    for number, raw in enumerate(io.StringIO(text), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}, line {number}"
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ParameterError(
                f"{where}: expected 'name = value' or a '#' comment, got {line!r}."
            )
        try:
            key = canonical_name(name)
            if key in seen:
                raise ParameterError(f"{key} is set twice (first on line {seen[key]}).")
            params[key] = _unquote(value.strip())
        except ParameterError as exc:
            raise ParameterError(f"{where}: {exc}") from None
        seen[key] = number
    return params


# --- command line -----------------------------------------------------------------------


def parse_cli(args) -> dict:
    """Parse parameter settings from command-line arguments.

    Accepted forms: ``name=value``, ``--name value`` and ``--name=value``, with
    underscores or dashes in names (``--final-pixfrac 0.8``).  A later setting
    of the same parameter wins.

    Parameters
    ----------
    args : list of str
        The arguments after the input specification.

    Returns
    -------
    dict
        ``{name: canonical value}`` in the order given.

    Raises
    ------
    ParameterError
        For an argument of no accepted form, a ``--name`` without a value, an
        unknown name (with a suggestion) or an unacceptable value.
    """
    settings = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--") and "=" not in arg:
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                raise ParameterError(
                    f"option {arg!r} needs a value (--name value or --name=value)."
                )
            name, value = arg[2:], args[i + 1]
            i += 2
        elif "=" in arg and not arg.startswith("="):
            name, _, value = arg.removeprefix("--").partition("=")
            i += 1
        else:
            raise ParameterError(
                f"{arg!r} is not a parameter setting: expected name=value, --name value "
                "or --name=value."
            )
        key = canonical_name(name)
        settings.pop(key, None)  # keep the order of the last setting
        settings[key] = PARAMETERS[key].validate(value)
    return settings


# --- help and reference ---------------------------------------------------------------------


_HELP_WIDTH = 79
_HELP_INDENT = " " * 6


def help_text(params=None) -> str:
    """Return the description of every parameter, grouped by step.

    Each parameter shows its kind, default and accepted values, what INDEF
    means and any note.

    Parameters
    ----------
    params : Parameters or mapping, optional
        Current values; those that differ from the default are shown too.

    Returns
    -------
    str
    """
    current = _as_parameters(params)
    out = [
        "gpudriz (MultiDrizzle) parameters",
        "Set them as Multidrizzle(input, name=value), 'gpudriz INPUT name=value' or in a "
        "configuration file.",
    ]
    for step, title in STEPS.items():
        out += ["", f"{title} [{step}]"]
        for name, p in PARAMETERS.items():
            if p.step != step:
                continue
            head = f"  {name} ({p.kind_label}, default {format_value(p.default)})"
            if current[name] != p.default:
                head += f" = {format_value(current[name])}"
            out.append(head)
            body = [p.description, f"Accepts {p.allowed}."]
            if p.nullable:
                body.append(f"INDEF: {p.none_means}.")
            if p.note:
                body.append(p.note)
            out += [textwrap.fill(t, _HELP_WIDTH, initial_indent=_HELP_INDENT,
                                  subsequent_indent=_HELP_INDENT + "  ") for t in body]  # fmt: skip
    return "\n".join(out) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def reference_markdown() -> str:
    """Return a Markdown reference of every parameter: one table per step.

    ``docs/parameters.md`` is generated from it.

    Returns
    -------
    str
    """
    out = [
        "# Parameters",
        "",
        "Generated from `gpudriz.pipeline.config.parameters` (`reference_markdown()`); do not edit by hand.",
        "Defaults are those of Table 2 of the MultiDrizzle manual; section 1.4 describes each "
        "parameter.  INDEF (or a blank) leaves a parameter unset where it is allowed.",
    ]
    for step, title in STEPS.items():
        out += ["", f"## {title} (`{step}`)", "",
                "| Parameter | Kind | Default | Accepted values | Description |",
                "|---|---|---|---|---|"]  # fmt: skip
        for name, p in PARAMETERS.items():
            if p.step != step:
                continue
            accepted = p.allowed + (f"; INDEF: {p.none_means}" if p.nullable else "")
            description = p.description
            if p.note:
                # Table 2's descriptions have no full stop; separate the note with one.
                description += ("" if description[-1] in ".?)" else ".") + " " + p.note
            default = f"`{format_value(p.default)}`"
            cells = [f"`{name}`", p.kind_label, default, accepted, description]
            out.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    return "\n".join(out) + "\n"
