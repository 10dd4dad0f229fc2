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
output folder.  ``workinplace=yes`` writes the sky and the cosmic-ray flags
into the inputs after their steps (:mod:`gpudriz.pipeline.io.inplace`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gpudriz.backend import get_backend
from gpudriz.backend.arrays import to_xp
from gpudriz.pipeline.config import parameters as P
from gpudriz.pipeline.geometry.distortion import apply_coeffs
from gpudriz.pipeline.geometry.outframe import OutputFrame, output_frame
from gpudriz.pipeline.geometry.shiftfile import apply_shiftfile, read_shiftfile
from gpudriz.pipeline.io import checks, inplace
from gpudriz.pipeline.io.inputs import resolve_inputs
from gpudriz.pipeline.io.instruments import Chip, Exposure, read_exposure
from gpudriz.pipeline.memory import check_run
from gpudriz.pipeline.workfolder import (
    FolderBusyError,
    FolderLock,
    remove_stale_temporaries,
)
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

#: What ``workinplace=yes`` writes into the inputs after a step (manual, workinplace).
_IN_PLACE = {"skysub": inplace.write_sky, "driz_cr": inplace.write_cr_flags}


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
        The sky was subtracted before gpudriz (``skyuser``): it is recorded,
        never subtracted again.
    sky_written : bool
        The sky was subtracted from the input file itself (``workinplace``).
    blot_path : Path or None
        The blotted median of this chip (electrons, sky not included).
    median_var_path : Path or None
        What that blot adds to the variance of driz_cr's ``D - B``
        (electrons squared, :mod:`gpudriz.pipeline.steps.median_noise`).
    cr_noise_scale : float or None
        driz_cr's measured noise of ``D - B`` over its model (CRNOISE).
    crmask : array or None
        Cosmic rays found by driz_cr (True = CR).
    cor : ndarray or None
        The chip with its cosmic rays replaced by the blot (``driz_cr_corr``).
    empty : bool
        The chip has no data (all zero, or no finite pixel): it has no say
        in its exposure's sky (:func:`gpudriz.pipeline.io.checks.empty_chips`).
    """

    chip: Chip
    exposure: Exposure
    to_electrons: float
    static_ok: object = None
    sky: float = 0.0
    sky_by_user: bool = False
    sky_written: bool = False
    blot_path: Path | None = None
    median_var_path: Path | None = None
    cr_noise_scale: float | None = None
    crmask: object = None
    cor: object = field(default=None, repr=False)
    empty: bool = False

    @property
    def key(self):
        return self.chip.extver

    @property
    def sky_in_data(self) -> bool:
        """Whether the input data still contain the sky (not removed by the user or in place)."""
        return not (self.sky_by_user or self.sky_written)


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
        Open the parameter editor (:meth:`editpars`) at the end of the
        initialization, with the values given here.
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
    pars : gpudriz.pipeline.config.parameters.Parameters
        The validated parameters.
    exposures, chips : list
        After :meth:`build`: each exposure, and each chip's working state
        (``chips[k].chip`` has shape, exptime, gain, rdnoise, units, wcs ...;
        ``chips[k].sky`` the sky after the sky step).
    separate_frame, final_frame : gpudriz.pipeline.geometry.outframe.OutputFrame
        After :meth:`build`: WCS and shape of the separate and final drizzles.
    """

    def __init__(self, input="flt.fits", output=None, editpars=False, backend=None, workdir=None,
                 **pars):  # fmt: skip
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
        self._median_count_path = None
        #: The MDRIZTAB row applied (gpudriz.pipeline.config.mdriztab.MdriztabSelection), or None.
        self.mdriztab = None
        # The manual's session edits parameters between Multidrizzle() and
        # build(), so the table is applied now and later edits win.
        if self.pars["mdriztab"]:
            self._apply_mdriztab(given=values)
        # Last, so that the editor shows the values of the keywords and of the table.
        if editpars:
            self.editpars()

    # -- public API -------------------------------------------------------------

    def help(self):
        """Print the available methods and the current parameters."""
        print(_USAGE)
        print(P.help_text(self.pars))

    def editpars(self, mode=None):
        """The manual's parameter editor: every parameter, by step, changed and validated.

        Each parameter is shown with its kind, default and allowed values;
        what the user changes is validated, and ``self.pars`` changes only
        when every value is valid (see :mod:`gpudriz.pipeline.config.editpars`).  Call
        :meth:`build` afterwards (:meth:`run` rebuilds if parameters changed).

        Parameters
        ----------
        mode : {None, "editor", "form"}
            "editor": a commented configuration file opened in ``$VISUAL`` or
            ``$EDITOR``, re-opened with the error at the top while a value is
            invalid; returns when the editor closes on a valid file.  "form":
            an ipywidgets form displayed in the notebook; its Apply button sets
            the values.  None: the form in a Jupyter notebook, else the editor.

        Raises
        ------
        ParameterError
            For an unknown ``mode``, when no editor can be used, or when the
            user cancels (the editor exits with an error status, or the file
            is saved unchanged after an error): the parameters are unchanged.
        ImportError
            For the form, when ipywidgets is not installed.
        """
        from gpudriz.pipeline.config import editpars as E

        if mode not in (None, "editor", "form"):
            raise P.ParameterError(
                f"editpars mode = {mode!r} is not valid: expected None, 'editor' or 'form'."
            )
        if mode == "form" or (mode is None and E.in_notebook()):
            E.show_form(self.pars, on_apply=self._parameters_edited)
            return
        self._parameters_edited(E.edit_in_editor(self.pars))

    def _parameters_edited(self, changed: dict):
        """Take in edited parameters: the next run() builds again with them."""
        if not changed:
            log.info("editpars: no parameter changed.")
            return
        if "backend" in changed:
            # The edit is the user's latest word: it wins over the backend argument.
            self._backend_arg = self.pars["backend"]
        self._built = False
        settings = ", ".join(f"{k} = {P.format_value(v)}" for k, v in changed.items())
        log.info("editpars: %s.", settings)

    def build(self):
        """Step 1, initialization: read the inputs and compute the output frames.

        Afterwards ``self.chips`` (shape, exposure time, gain, read noise,
        units per chip), ``self.separate_frame`` and ``self.final_frame``
        can be inspected.
        """
        p = self.pars
        if p["mdriztab"] and self.mdriztab is None:
            self._apply_mdriztab()  # switched on after Multidrizzle()
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
        # What only shows across inputs or in the pixels, checked before any work.
        checks.check_rootnames(self.exposures)
        checks.check_chip_shapes(self.exposures)
        checks.check_wcs(self.exposures)
        checks.check_ivms(self.exposures, self.ivm)
        empty = checks.empty_chips(self.exposures)
        self.chips = [
            ChipWork(chip=c, exposure=e, to_electrons=_to_electrons(c),
                     empty=(c.path, c.extver) in empty)
            for e in self.exposures for c in e.chips
        ]  # fmt: skip
        # The distortion model, then the registration corrections, go into each
        # chip's WCS before any frame is computed from them.
        apply_coeffs(self.exposures, p["coeffs"], cwd=self.workdir)
        if p["shiftfile"]:
            apply_shiftfile(read_shiftfile(self.path(p["shiftfile"])), self.exposures,
                            default_reference=lambda: self._final_frame().wcs, cwd=self.workdir)
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
        self.final_frame = self._final_frame()
        self._built = True
        log.info(
            "build: %d exposure(s), %d chip(s); separate frame %dx%d, final frame %dx%d; "
            "backend %s.", len(self.exposures), len(self.chips),
            self.separate_frame.shape[1], self.separate_frame.shape[0],
            self.final_frame.shape[1], self.final_frame.shape[0], self.backend.name,
        )  # fmt: skip
        return self

    def _final_frame(self) -> OutputFrame:
        """The final frame of the chips' current WCS (also the shift file's default reference)."""
        p = self.pars
        native = self.chips[0].chip.pixel_scale
        return output_frame(
            [c.chip.wcs for c in self.chips], [c.chip.shape for c in self.chips],
            scale=p["final_scale"] or native, rot=p["final_rot"], outnx=p["final_outnx"],
            outny=p["final_outny"], ra=p["ra"], dec=p["dec"],
            refimage=self.path(p["refimage"]) if p["refimage"] else None,
        )  # fmt: skip

    def run(self, static=None, skysub=None, driz_separate=None, median=None, blot=None,
            driz_cr=None, driz_combine=None):  # fmt: skip
        """Run the processing steps (manual section 1.3, "Performing the Image Combination").

        Each argument left as None takes the step's parameter; True/False
        forces it.  Returns ``self.products``: the files written, by kind.

        Before the first step, the memory each step needs is checked against
        what this process may use (:mod:`gpudriz.pipeline.memory`), and the output
        folder is locked for the run (:mod:`gpudriz.pipeline.workfolder`), which also
        removes temporaries left there by a killed run.

        Raises
        ------
        gpudriz.pipeline.memory.MemoryLimitError
            A step would need more memory than is available; nothing is written.
        PipelineError
            Another run holds the folder, or a step cannot go on.
        """
        if not self._built:
            self.build()
        asked = dict(static=static, skysub=skysub, driz_separate=driz_separate, median=median,
                     blot=blot, driz_cr=driz_cr, driz_combine=driz_combine)  # fmt: skip
        todo = {k: (self.pars[k] if v is None else bool(v)) for k, v in asked.items()}
        # The whole need of every step against the memory this process may use, before any work.
        check_run(self, todo)
        try:
            lock = FolderLock(self.workdir)
            lock.__enter__()
        except FolderBusyError as exc:
            raise PipelineError(str(exc)) from None
        try:
            # Under the lock no other run writes here: temporaries found are a killed run's.
            remove_stale_temporaries(self.workdir)
            return self._run_steps(todo)
        finally:
            lock.__exit__(None, None, None)

    def _run_steps(self, todo):
        """The enabled steps in order, then the runfile (the folder is locked by :meth:`run`)."""
        from gpudriz.pipeline.steps import legacy as _steps

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
            if self.pars["workinplace"] and name in _IN_PLACE:
                _IN_PLACE[name](self)
            self.timings[name] = time.perf_counter() - t0
            log.info("step %d/%d: %s done in %.2f s", k, len(enabled), name, self.timings[name])
        from gpudriz.pipeline.io import products

        products.write_runfile(self)
        if self.pars["clean"]:
            products.clean_intermediates(self)
        return self.products

    def _apply_mdriztab(self, given=None):
        """Set the parameters from the MDRIZTAB row that fits the inputs (``mdriztab=yes``).

        The table's values override the other parameters (manual,
        ``mdriztab``), never input, output, mdriztab or backend; a value given
        to ``Multidrizzle()`` that the table replaces is logged as a warning.
        The row is kept as ``self.mdriztab``.
        """
        from gpudriz.pipeline.config.mdriztab import read_mdriztab

        inputs = resolve_inputs(self.pars["input"], output=self.pars["output"], cwd=self.workdir)
        selection = read_mdriztab(inputs.exposures, workdir=self.workdir)
        given = {P.canonical_name(k): v for k, v in (given or {}).items()}
        for name, value in selection.values.items():
            if name in given and P.validate(name, given[name]) != value:
                log.warning("mdriztab: the table's %s = %s replaces the %s given.", name,
                            P.format_value(value), P.format_value(P.validate(name, given[name])))  # fmt: skip
        self.pars.update(selection.values)
        self.mdriztab = selection
        log.info(
            "mdriztab: parameters from %s (MDRIZTAB = %s), row %d: filter %s, numimages %d, for %d "
            "input exposure(s); %s.", selection.path, selection.name, selection.row,
            selection.filter, selection.numimages, selection.nimages,
            ", ".join(f"{k} = {P.format_value(v)}" for k, v in selection.values.items()) or "no values",
        )  # fmt: skip

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

