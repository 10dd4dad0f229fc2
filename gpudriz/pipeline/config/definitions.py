"""The definitions of the MultiDrizzle parameters, read by the API, CLI, config files and docs.

Every parameter of Table 2 of the MultiDrizzle manual ("Parameters for
MultiDrizzle") is defined here with the Table 2 default, in the table's order,
grouped by the step headings of section 1.4.  Beyond Table 2:

- ``final_wht_type`` (EXP, ERR or IVM; default EXP), which section 1.4 describes
  in step 8.  Section 1.4 names no other parameter missing from Table 2: it
  does not describe ``driz_cr_grow``, ``driz_sep_bits``/``final_bits`` or
  ``combine_maskpt``, so they are not defined.
- ``skymethod`` (localmin, globalmin or match; default localmin, the manual's
  rule), AstroDrizzle's choice of how exposures' skies relate.
- ``tile_size`` (group driz_combine), gpudriz's tiled final product (0: one frame).
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

Each definition converts its values (:meth:`Parameter.validate`, with the
converters of :mod:`gpudriz.pipeline.config.values`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from gpudriz.pipeline.config.values import (
    CONVERTERS,
    KIND_LABELS,
    NULL_TEXT,
    ParameterError,
    format_number,
)
from gpudriz.resample import SUPPORTED_DRIZZLE_KERNELS

__all__ = ["STEPS", "Parameter", "KERNELS", "PARAMETERS", "ALIASES"]

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
            return f" in {left}{format_number(lo)}, {format_number(hi)}{right}"
        if lo is not None:
            return f" {'>' if self.exclusive_minimum else '>='} {format_number(lo)}"
        if hi is not None:
            return f" {'<' if self.exclusive_maximum else '<='} {format_number(hi)}"
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
            if text.lower() in NULL_TEXT:
                value = None
        if value is None:
            if self.nullable:
                return None
            raise self._error(given)
        result = CONVERTERS[self.kind](self, value)
        if result is None:
            raise self._error(given)
        return result

    def _error(self, value) -> ParameterError:
        return ParameterError(f"{self.name} = {value!r} is not valid: expected {self.allowed}.")

    def in_bounds(self, x: float) -> bool:
        """Whether the number ``x`` lies within the bounds (exclusive where marked)."""
        lo, hi = self.minimum, self.maximum
        if lo is not None and (x < lo or (self.exclusive_minimum and x == lo)):
            return False
        if hi is not None and (x > hi or (self.exclusive_maximum and x == hi)):
            return False
        return True


# The drizzle kernels are the engine's; they are listed as the manual lists
# them: its original five first, then the Lanczos kernels in the engine's order.
_MANUAL_FIRST = ("square", "point", "gaussian", "turbo", "tophat")

#: Values of ``driz_sep_kernel`` and ``final_kernel``: the engine's
#: `gpudriz.resample.SUPPORTED_DRIZZLE_KERNELS`, in the manual's order.
KERNELS = tuple(sorted(
    SUPPORTED_DRIZZLE_KERNELS,
    key=lambda k: (_MANUAL_FIRST.index(k) if k in _MANUAL_FIRST else len(_MANUAL_FIRST),
                   SUPPORTED_DRIZZLE_KERNELS.index(k)),
))  # fmt: skip
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
       choices=KERNELS, note=_KERNEL_NOTE),
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
       choices=KERNELS, note=_KERNEL_NOTE),
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
    _p("tile_size", "driz_combine", "int", 0,
       "Side of the square tiles the final frame is written in (pixels); 0: one frame",
       minimum=0,
       note="A gpudriz extension, not a MultiDrizzle parameter.  With tile_size=N the final frame "
            "is cut into N x N tiles on its WCS (edge tiles smaller), each drizzled on its own and "
            "written as <output>_x<ix>y<iy>_drz.fits, listed in <output>_tiles.ecsv; tiles that "
            "no input touches are not written (docs/pipeline.md, Tiled output)."),
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
    _p("workers", "gpudriz", "int", 0,
       "Worker processes of a local Dask cluster (0: this process)", minimum=0,
       note="A gpudriz extension (mosaic mode, docs/pipeline.md).  workers=N runs the steps as "
            "tasks on a local dask.distributed cluster of N processes; with the CUDA backend "
            "each worker uses its own GPU.  Results are the same as with workers=0."),
    _p("scheduler", "gpudriz", "str", None,
       "Address of an existing Dask scheduler, e.g. tcp://host:8786", nullable=True,
       none_means="no cluster: workers decides",
       note="A gpudriz extension: the steps run as tasks on that cluster; the inputs and the "
            "output folder must be on a file system every worker sees.  The Python API also "
            "takes client= (a distributed.Client)."),
)

#: Every parameter by name, in the manual's order (Table 2, then final_wht_type
#: in its section 1.4 place, then gpudriz's ``backend``).
PARAMETERS = {p.name: p for p in _DEFINITIONS}

#: Other spellings accepted for a parameter name (section 1.4's, where it differs).
ALIASES = {"gainkeyword": "gnkeyword"}


