"""The MultiDrizzle pipeline: the manual's ``Multidrizzle`` object and its eight steps.

>>> import gpudriz                                              # doctest: +SKIP
>>> md = gpudriz.Multidrizzle(input="j8demo01_asn.fits")        # doctest: +SKIP
>>> md.build()                                                  # doctest: +SKIP
>>> md.run()                                                    # doctest: +SKIP

The steps (MultiDrizzle manual, section 1.4) run in order, each switched by
its parameter and by :meth:`Multidrizzle.run`'s arguments:

1. initialization (:meth:`Multidrizzle.build`): inputs, instrument model,
   output frames;
2. ``static``: per-chip static bad-pixel mask, AND-ed over exposures;
3. ``skysub``: per-chip clipped sky, MultiDrizzle's per-exposure minimum
   surface brightness rule, recorded as MDRIZSKY;
4. ``driz_separate``: each exposure drizzled onto the separate frame;
5. ``median``: the separate images combined section by section under a
   memory budget;
6. ``blot``: the median blotted back to every chip;
7. ``driz_cr``: cosmic rays found by comparing each chip with its blot;
8. ``driz_combine``: the final drizzle, with the cosmic rays masked.

The orchestration never touches an array library directly beyond the
backend's array module ``xp``; the per-pixel work runs on the backend
(CUDA kernels or their Numba twins; design principle 2).  Inputs are read,
never written (``workinplace=no``); working data stay in memory or in the
output folder.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gpudriz import parameters as P
from gpudriz._arrays import to_xp
from gpudriz.backend import get_backend
from gpudriz.inputs import resolve_inputs
from gpudriz.instruments import Chip, Exposure, read_exposure
from gpudriz.outframe import OutputFrame, output_frame
from gpudriz.pixmap import calc_pixmap
from gpudriz.resample import Drizzle

__all__ = ["Multidrizzle", "STEP_NAMES", "help", "PipelineError"]

log = logging.getLogger("gpudriz")

#: The run() switches, in the order the steps run.
STEP_NAMES = ("static", "skysub", "driz_separate", "median", "blot", "driz_cr", "driz_combine")

#: MultiDrizzle's weight-mask threshold for ``median_newmasks`` (algorithms.md).
MASKPT = 0.7

#: Memory the median may use for one section of the stacked images (bytes).
MEDIAN_BUDGET = 512 * 2**20

#: Parameter values a later release implements; until then they are refused
#: with a clear error instead of being silently ignored.
_NOT_YET = {
    "mdriztab": (True, "reading an MDRIZTAB"),
    "workinplace": (True, "working on the input files in place"),
    "shiftfile": (None, "applying a shift file"),
}


class PipelineError(RuntimeError):
    """A pipeline step cannot go on; the message says which and why."""


@dataclass(eq=False)
class ChipWork:
    """Working state of one input chip (never written back to the input file).

    Attributes
    ----------
    chip : Chip
        Headers and instrument model.
    exposure : Exposure
    to_electrons : float
        Factor from the file's units to electrons.
    static_ok : array or None
        Static mask (True = good), shared by every chip with the same EXTVER.
    sky : float
        Sky subtracted (electrons).
    sky_by_user : bool
        The sky was subtracted before gpudriz (``skyuser``): it is recorded
        and added back to the blot, never subtracted again.
    blot_path : Path or None
        The blotted median of this chip (electrons, sky not included).
    crmask : array or None
        Cosmic rays found by driz_cr (True = CR).
    cor : ndarray or None
        The chip with its cosmic rays replaced by the blot (``driz_cr_corr``).
    """

    chip: Chip
    exposure: Exposure
    to_electrons: float
    static_ok: object = None
    sky: float = 0.0
    sky_by_user: bool = False
    blot_path: Path | None = None
    crmask: object = None
    cor: object = field(default=None, repr=False)

    @property
    def key(self):
        return self.chip.extver


def _to_electrons(chip: Chip) -> float:
    if chip.units == "electrons":
        return 1.0
    if chip.units == "counts":
        return float(chip.gain)
    if chip.units == "electrons/s":
        return float(chip.exptime)
    raise PipelineError(f"{chip.name}: unknown units {chip.units!r}.")


def help():  # noqa: A001 - the manual's name: multidrizzle.help()
    """Print how to run the pipeline and every parameter (the manual's ``multidrizzle.help()``)."""
    print(_USAGE)
    print(P.help_text())


_USAGE = """gpudriz: MultiDrizzle on the GPU (and the CPU).

    >>> import gpudriz
    >>> md = gpudriz.Multidrizzle(input='flt.fits', output=None, editpars=False, **pars)
    >>> md.build()      # inputs, instrument model, output frames (inspect md.chips, md.final_frame)
    >>> md.run()        # static, skysub, driz_separate, median, blot, driz_cr, driz_combine
    >>> md.help()

Command line:  gpudriz INPUT [name=value ...]   (gpudriz --help for more)
"""


class Multidrizzle:
    """MultiDrizzle's Python interface (manual section 1.3), with gpudriz's engine.

    Parameters
    ----------
    input : str or list of str
        Exposures: a file, an association table, a wildcard, a comma-separated
        list or an ``@file`` (manual, ``input``).
    output : str, optional
        Rootname of the products; default from the association's product, else
        "final".
    editpars : bool
        Open the parameter editor; not available in this release (an error
        says so).
    backend : {"auto", "cpu", "cuda"}, gpudriz.backend.Backend or None
        Engine; None takes the ``backend`` parameter, else ``GPUDRIZ_BACKEND``,
        else "auto".
    workdir : str or Path, optional
        Folder of relative input names and of every file written (default:
        the current directory).
    **pars
        Any parameter of the manual's Table 2 (see :func:`gpudriz.help`).

    Attributes
    ----------
    pars : gpudriz.parameters.Parameters
        The validated parameters.
    exposures, chips : list
        After :meth:`build`: each exposure, and each chip's working state
        (``chips[k].chip`` has shape, exptime, gain, rdnoise, units, wcs ...;
        ``chips[k].sky`` the sky after the sky step).
    separate_frame, final_frame : gpudriz.outframe.OutputFrame
        After :meth:`build`: WCS and shape of the separate and final drizzles.
    """

    def __init__(self, input="flt.fits", output=None, editpars=False, backend=None, workdir=None,
                 **pars):  # fmt: skip
        if editpars:
            raise P.ParameterError(
                "editpars = yes is not available in this release: set parameters as keywords, "
                "on the command line or in a configuration file."
            )
        self.pars = P.Parameters()
        values = dict(pars)
        values["input"] = input
        if output is not None:
            values["output"] = output
        if isinstance(backend, str):
            values["backend"] = backend
        self.pars.update(values)
        self._backend_arg = backend
        self.workdir = Path(workdir) if workdir is not None else Path.cwd()
        self.backend = None
        self.exposures: list[Exposure] = []
        self.chips: list[ChipWork] = []
        self.separate_frame: OutputFrame | None = None
        self.final_frame: OutputFrame | None = None
        self.output = None
        self.products: dict[str, Path] = {}
        self.timings: dict[str, float] = {}
        self.intermediates: list[Path] = []
        self.ivm = []
        self._built = False
        self._singles = []
        self._median_path = None

    # -- public API -------------------------------------------------------------

    def help(self):
        """Print the available methods and the current parameters."""
        print(_USAGE)
        print(P.help_text(self.pars))

    def editpars(self):
        """The manual's parameter editor: not available in this release (an error says so)."""
        raise P.ParameterError(
            "editpars() is not available in this release: set parameters as keywords, on the "
            "command line or in a configuration file (see gpudriz.help())."
        )

    def build(self):
        """Step 1, initialization: read the inputs and compute the output frames.

        Afterwards ``self.chips`` (shape, exposure time, gain, read noise,
        units per chip), ``self.separate_frame`` and ``self.final_frame``
        can be inspected.
        """
        p = self.pars
        for name, (bad, what) in _NOT_YET.items():
            value = p[name]
            if (bad is None and value not in (None, "")) or (bad is not None and value == bad):
                raise P.ParameterError(
                    f"{name} = {P.format_value(value)}: {what} is not available in this release."
                )
        if p["coeffs"] not in ("header",):
            raise P.ParameterError(
                f"coeffs = {P.format_value(p['coeffs'])}: only the header's distortion model "
                "('header') is available in this release; other models are not available yet."
            )
        # An explicit argument wins; the parameter's default "auto" defers to
        # the GPUDRIZ_BACKEND environment variable.
        choice = self._backend_arg
        if choice is None and p["backend"] != "auto":
            choice = p["backend"]
        self.backend = get_backend(choice)
        inputs = resolve_inputs(p["input"], output=p["output"], cwd=self.workdir)
        self.output = inputs.output
        self.ivm = inputs.ivm
        overrides = {k: p[k] for k in ("gain", "gnkeyword", "rdnoise", "rnkeyword", "exptime",
                                       "expkeyword", "crbit") if p[k] is not None}  # fmt: skip
        self.exposures = [
            read_exposure(path, group=p["group"], overrides=overrides, bits=p["bits"])
            for path in inputs.exposures
        ]
        self.chips = [
            ChipWork(chip=c, exposure=e, to_electrons=_to_electrons(c))
            for e in self.exposures for c in e.chips
        ]  # fmt: skip
        if p["final_wht_type"] == "IVM" and any(v is None for v in self.ivm):
            raise P.ParameterError(
                "final_wht_type = IVM needs an inverse-variance map for every exposure "
                "(the second column of an @file)."
            )
        if p["final_wht_type"] == "ERR":
            missing = [c.chip.name for c in self.chips if not c.chip.has_err]
            if missing:
                raise P.ParameterError(
                    f"final_wht_type = ERR needs ERR extensions; {missing[0]} has none."
                )
        wcs_list = [c.chip.wcs for c in self.chips]
        shapes = [c.chip.shape for c in self.chips]
        # INDEF scale: the first input's undistorted scale as the instrument
        # model knows it (IDCSCALE for HST), as MultiDrizzle does.
        native = self.chips[0].chip.pixel_scale
        self.separate_frame = output_frame(
            wcs_list, shapes, scale=p["driz_sep_scale"] or native, rot=p["driz_sep_rot"],
            outnx=p["driz_sep_outnx"], outny=p["driz_sep_outny"], ra=p["ra"], dec=p["dec"],
        )  # fmt: skip
        self.final_frame = output_frame(
            wcs_list, shapes, scale=p["final_scale"] or native, rot=p["final_rot"],
            outnx=p["final_outnx"], outny=p["final_outny"], ra=p["ra"], dec=p["dec"],
            refimage=p["refimage"],
        )  # fmt: skip
        self._built = True
        log.info(
            "build: %d exposure(s), %d chip(s); separate frame %dx%d, final frame %dx%d; "
            "backend %s.", len(self.exposures), len(self.chips),
            self.separate_frame.shape[1], self.separate_frame.shape[0],
            self.final_frame.shape[1], self.final_frame.shape[0], self.backend.name,
        )  # fmt: skip
        return self

    def run(self, static=None, skysub=None, driz_separate=None, median=None, blot=None,
            driz_cr=None, driz_combine=None):  # fmt: skip
        """Run the processing steps (manual section 1.3, "Performing the Image Combination").

        Each argument left as None takes the step's parameter; True/False
        forces it.  Returns ``self.products``: the files written, by kind.
        """
        if not self._built:
            self.build()
        asked = dict(static=static, skysub=skysub, driz_separate=driz_separate, median=median,
                     blot=blot, driz_cr=driz_cr, driz_combine=driz_combine)  # fmt: skip
        todo = {k: (self.pars[k] if v is None else bool(v)) for k, v in asked.items()}
        from gpudriz import _steps

        steps = [
            ("static", _steps.static_mask),
            ("skysub", _steps.sky_subtraction),
            ("driz_separate", _steps.drizzle_separate),
            ("median", _steps.median_image),
            ("blot", _steps.blot_median),
            ("driz_cr", _steps.cosmic_rays),
            ("driz_combine", _steps.final_drizzle),
        ]
        enabled = [(name, fn) for name, fn in steps if todo[name]]
        for k, (name, fn) in enumerate(enabled, 1):
            log.info("step %d/%d: %s", k, len(enabled), name)
            t0 = time.perf_counter()
            fn(self)
            self.timings[name] = time.perf_counter() - t0
            log.info("step %d/%d: %s done in %.2f s", k, len(enabled), name, self.timings[name])
        from gpudriz import products

        products.write_runfile(self)
        if self.pars["clean"]:
            products.clean_intermediates(self)
        return self.products

    # -- helpers used by the steps ----------------------------------------------

    @property
    def xp(self):
        return self.backend.xp

    def read_electrons(self, work: ChipWork):
        """The chip's science array in electrons, on the backend (sky not subtracted)."""
        sci = work.chip.read_sci()
        if not np.isfinite(sci).all():
            log.info("%s: %d non-finite pixel(s) ignored.", work.chip.name,
                     int((~np.isfinite(sci)).sum()))  # fmt: skip
        return to_xp(sci * np.float32(work.to_electrons), self.xp, np.float32)

    def dq_good(self, work: ChipWork):
        """DQ-good pixels of the chip (the ``bits`` parameter), on the backend."""
        dq = work.chip.read_dq()
        good = (dq & ~np.uint32(work.chip.good_bits)) == 0
        return to_xp(good, self.xp)

    def good_mask(self, work: ChipWork, *, with_cr=False):
        """DQ-good AND static-good (AND not a cosmic ray when ``with_cr``)."""
        good = self.dq_good(work)
        if work.static_ok is not None:
            good &= work.static_ok
        if with_cr and work.crmask is not None:
            good &= ~work.crmask
        return good

    def pixmap_to(self, work: ChipWork, frame: OutputFrame):
        """The chip's pixmap into ``frame``, on the backend."""
        return calc_pixmap(work.chip.wcs, frame.wcs, shape=work.chip.shape, backend=self.backend,
                           device=True)  # fmt: skip

    def scale_ratio(self, work: ChipWork, frame: OutputFrame) -> float:
        """Output pixel size over the chip's undistorted pixel size."""
        return float(frame.pixel_scale / work.chip.pixel_scale)

    def path(self, name: str) -> Path:
        return self.workdir / name

    def new_drizzle(self, kernel, frame, fillval, *, context=False, nimages=1):
        return Drizzle(kernel=kernel, fillval=fillval, out_shape=frame.shape,
                       disable_ctx=not context, max_ctx_id=max(nimages - 1, 0),
                       backend=self.backend)  # fmt: skip

