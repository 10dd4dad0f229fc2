"""The MultiDrizzle pipeline: the manual's ``Multidrizzle`` object and its eight steps.

>>> import gpudriz                                              # doctest: +SKIP
>>> md = gpudriz.Multidrizzle(input="j8demo01_asn.fits")        # doctest: +SKIP
>>> md.build()                                                  # doctest: +SKIP
>>> md.run()                                                    # doctest: +SKIP

The steps (MultiDrizzle manual, section 1.4) run in order, each switched by
its parameter and by :meth:`Multidrizzle.run`'s arguments; each is a task
with explicit inputs in its own module of :mod:`gpudriz.pipeline.steps`
(``static``, ``sky``/``skymatch``, ``separate``, ``median``, ``blot``,
``driz_cr``, ``final``; the table is in ``docs/architecture.md``).

:class:`Multidrizzle` owns the run's state (:mod:`gpudriz.pipeline.state`:
each chip's :class:`~gpudriz.pipeline.state.ChipWork`, the single images,
the median) and the order: for each step it gathers the task's inputs from
the state (a chip's :class:`~gpudriz.pipeline.state.ChipInput`, the frame,
the step's parameters, the backend's name), calls the task and stores what
it returns.  The tasks never see the ``Multidrizzle`` object, and their
inputs are picklable.

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
from pathlib import Path

import numpy as np

from gpudriz.backend import get_backend
from gpudriz.pipeline.config import parameters as P
from gpudriz.pipeline.editing import ParameterEditing
from gpudriz.pipeline.execution import Execution, ExecutionStart
from gpudriz.pipeline.geometry.outframe import OutputFrame
from gpudriz.pipeline.graph import mosaic_mode, run_graph
from gpudriz.pipeline.initialization import apply_mdriztab, initialize
from gpudriz.pipeline.io import inplace, products
from gpudriz.pipeline.io.instruments import Exposure
from gpudriz.pipeline.io.provenance import InputRow, Provenance
from gpudriz.pipeline.memory import RunSize, check_run
from gpudriz.pipeline.state import (
    MASKPT,
    MEDIAN_BUDGET,
    STEP_NAMES,
    ChipWork,
    PipelineError,
    RunState,
    by_exposure,
)
from gpudriz.pipeline.steps import chipdata
from gpudriz.pipeline.steps.blot import BlotParams, blot_chip, read_median
from gpudriz.pipeline.steps.driz_cr import DrizCrParams, driz_cr_chip
from gpudriz.pipeline.steps.final import FinalParams, final_drizzle
from gpudriz.pipeline.steps.median import MedianParams, median_singles
from gpudriz.pipeline.steps.pixmap_cache import PixmapCache
from gpudriz.pipeline.steps.separate import SeparateParams, separate_exposure
from gpudriz.pipeline.steps.sky import SkyParams, combine_skies, sky_chip, user_chip_sky
from gpudriz.pipeline.steps.skymatch import match_sky
from gpudriz.pipeline.steps.static import StaticParams, combine_static, static_chip
from gpudriz.pipeline.steps.tiles import tiled_final
from gpudriz.pipeline.usage import help  # noqa: F401  (gpudriz.pipeline.multidrizzle.help, as the manual's)
from gpudriz.pipeline.workfolder import (
    FolderBusyError,
    FolderLock,
    remove_stale_temporaries,
)

__all__ = ["Multidrizzle", "ChipWork", "STEP_NAMES", "MASKPT", "MEDIAN_BUDGET", "help", "PipelineError"]

log = logging.getLogger("gpudriz")

#: What ``workinplace=yes`` writes into the inputs after a step (manual, workinplace).
_IN_PLACE = {"skysub": inplace.write_sky, "driz_cr": inplace.write_cr_flags}


class Multidrizzle(ParameterEditing):
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
    client : distributed.Client, optional
        Run the steps as tasks on this Dask cluster (the mosaic mode,
        :mod:`gpudriz.pipeline.graph`); it is not closed afterwards.  The
        ``workers`` and ``scheduler`` parameters do the same without a client.
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
                 client=None, **pars):  # fmt: skip
        self.pars = P.Parameters()
        values = dict(pars)
        values["input"] = input
        if output is not None:
            values["output"] = output
        if isinstance(backend, str):
            values["backend"] = backend
        self.pars.update(values)
        self._backend_arg = backend
        self._client = client
        self.workdir = Path(workdir) if workdir is not None else Path.cwd()
        self.backend = None
        self.exposures: list[Exposure] = []
        self.chips: list[ChipWork] = []
        self.separate_frame: OutputFrame | None = None
        self.final_frame: OutputFrame | None = None
        self.output = None
        self.products: dict[str, Path] = {}
        self.timings: dict[str, float] = {}
        #: Mosaic mode: per stage, (tasks run, tasks in all); a rerun runs only what is missing or stale.
        self.task_counts: dict[str, tuple] = {}
        self.intermediates: list[Path] = []
        self.ivm = []
        self._built = False
        self._cluster_start = None  # a local cluster starting while build() reads (ExecutionStart)
        #: What the steps produced that later steps read (gpudriz.pipeline.state.RunState).
        self.state = RunState()
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

    def build(self):
        """Step 1, initialization: read the inputs and compute the output frames.

        Afterwards ``self.chips`` (shape, exposure time, gain, read noise,
        units per chip), ``self.separate_frame`` and ``self.final_frame``
        can be inspected.
        """
        p = self.pars
        if p["mdriztab"] and self.mdriztab is None:
            self._apply_mdriztab()  # switched on after Multidrizzle()
        # An explicit argument wins; the parameter's default "auto" defers to the GPUDRIZ_BACKEND environment variable.
        choice = self._backend_arg
        if choice is None and p["backend"] != "auto":
            choice = p["backend"]
        self.backend = get_backend(choice)
        self._discard_cluster_start()
        if p["workers"] and mosaic_mode(p, self._client):  # its workers start while the inputs are read, then help
            self._cluster_start = ExecutionStart(**self._execution_options())
        try:
            init = initialize(p, self.workdir, find_empty=not mosaic_mode(p, self._client),
                              map_inputs=self._cluster_start.map if self._cluster_start else None)  # fmt: skip
        except BaseException:
            self._discard_cluster_start()
            raise
        self.output, self.ivm, self.exposures, self.chips = init.output, init.ivm, init.exposures, init.chips
        self.separate_frame, self.final_frame = init.separate_frame, init.final_frame
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
        p = self.pars
        mosaic = mosaic_mode(p, self._client)
        # The mosaic mode's separate, median and blot tasks hold windows and tiles, each
        # checked by its task; the final drizzle and the per-chip steps are checked here.
        checked = dict(todo, driz_separate=False, median=False, blot=False) if mosaic else todo
        try:
            check_run(RunSize(
                chip_shapes=tuple(w.chip.shape for w in self.chips), chip_keys=tuple(w.key for w in self.chips),
                n_exposures=len(self.exposures), separate_shape=tuple(self.separate_frame.shape),
                final_shape=tuple(self.final_frame.shape), driz_cr_corr=bool(p["driz_cr_corr"]),
                context=bool(p["context"]), tile_size=p["tile_size"],
            ), checked)  # fmt: skip
            lock = FolderLock(self.workdir)
            lock.__enter__()
        except BaseException as exc:
            self._discard_cluster_start()  # no run: the cluster build() started is not needed
            if isinstance(exc, FolderBusyError):
                raise PipelineError(str(exc)) from None
            raise
        try:
            # Under the lock no other run writes here: temporaries found are a killed run's.
            remove_stale_temporaries(self.workdir)
            if not mosaic:
                self._discard_cluster_start()  # the parameters changed since build()
                return self._run_steps(todo)
            with self._open_execution() as execution:
                return self._run_steps(todo, execution)
        finally:
            self._discard_cluster_start()
            lock.__exit__(None, None, None)

    def _execution_options(self) -> dict:
        p = self.pars
        return dict(workers=p["workers"], scheduler=p["scheduler"], client=self._client, backend=self.backend.name)

    def _open_execution(self) -> Execution:
        """Where the mosaic mode's tasks run: the cluster build() started, if the parameters still ask for it."""
        start, self._cluster_start = self._cluster_start, None
        return (start and start.take(**self._execution_options())) or Execution.open(**self._execution_options())

    def _discard_cluster_start(self):
        start, self._cluster_start = self._cluster_start, None
        if start is not None:
            start.discard()

    def _run_steps(self, todo, execution=None):
        """The enabled steps in order, then the runfile (the folder is locked by :meth:`run`).

        With an ``execution`` (the mosaic mode) the steps run as its tasks
        (:func:`gpudriz.pipeline.graph.run_graph`).
        """
        if execution is not None:
            run_graph(self, todo, execution)
            return self._finish()
        steps = [
            ("static", self._static),
            ("skysub", self._skysub),
            ("driz_separate", self._driz_separate),
            ("median", self._median),
            ("blot", self._blot),
            ("driz_cr", self._driz_cr),
            ("driz_combine", self._driz_combine),
        ]
        enabled = [(name, fn) for name, fn in steps if todo[name]]
        for k, (name, fn) in enumerate(enabled, 1):
            log.info("step %d/%d: %s", k, len(enabled), name)
            t0 = time.perf_counter()
            fn()
            if self.pars["workinplace"] and name in _IN_PLACE:
                _IN_PLACE[name](self.chips)
            self.timings[name] = time.perf_counter() - t0
            log.info("step %d/%d: %s done in %.2f s", k, len(enabled), name, self.timings[name])
        if self.state.pixmaps is not None:
            self.state.pixmaps.clear()  # driz_separate's pixmaps, if no blot took them
        return self._finish()

    def _finish(self):
        """After the steps: the runfile, and the intermediates removed when ``clean``."""
        runfile = products.write_runfile(self.pars, self.workdir)
        if runfile is not None:
            self.products["runfile"] = runfile
        if self.pars["clean"]:
            products.clean_intermediates(self.intermediates)
            self.intermediates = []
        return self.products

    # -- the steps: gather each task's inputs from the state, store what it returns -------

    @property
    def _task_backend(self):
        """The backend as the step tasks are given it (its name where that selects it)."""
        return chipdata.task_backend(self.backend)

    def provenance(self) -> Provenance:
        """The run's provenance record, as the files written now carry it."""
        table = self.mdriztab  # gpudriz.pipeline.config.mdriztab.MdriztabSelection (mdriztab=yes)
        return Provenance(
            backend=self.backend.name if self.backend else "", nchips=len(self.chips),
            changed=tuple(self.pars.changed().items()),
            mdriztab_name=None if table is None else table.name,
            mdriztab_row=None if table is None else table.row,
            inputs=tuple(InputRow(w.chip.path, w.chip.extver, w.exposure.rootname, w.chip.exptime, w.sky)
                         for w in self.chips),
        )  # fmt: skip

    def _static(self, masks=None):
        """Per-chip static masks (clipped mode - static_sig x rms), AND-ed over exposures.

        ``masks``: each chip's ``(key, mask)`` in input order when measured
        elsewhere (the mosaic mode's tasks); measured here when None.
        """
        p, name = self.pars, self._task_backend
        params = StaticParams.from_pars(p)
        if masks is None:
            # A generator: one chip's mask at a time joins the per-number masks.
            masks = ((w.key, static_chip(w.task_input(), params, name)) for w in self.chips)
        # self.path keeps an absolute name as it is.
        staticfile = self.path(p["staticfile"]) if p["staticfile"] else None
        combined = combine_static(masks, name, staticfile=staticfile,
                                  shapes={w.key: w.chip.shape for w in self.chips})  # fmt: skip
        for w in self.chips:
            w.static_ok = combined[w.key]

    def _skysub(self, measure=None, match=None):
        """Per-chip clipped sky combined per ``skymethod`` (or ``skyuser``'s), recorded as MDRIZSKY.

        localmin (the manual's rule): per exposure the lowest surface brightness of its chips; globalmin:
        the lowest rate per unit area of all exposures, for all; match: the exposures' sky differences
        solved from their overlaps (:mod:`gpudriz.pipeline.steps.skymatch`), anchored on the localmin values.
        ``measure(groups, params, backend)``, ``match``: the chips' skies, per exposure, when measured
        elsewhere, and :func:`match_sky` when matched elsewhere (the mosaic mode's tasks).
        """
        p, name = self.pars, self._task_backend
        if p["skyuser"]:
            # The user's value wins over every skymethod.
            for w in self.chips:
                w.sky = user_chip_sky(w.task_input(), w.exposure.primary_header, p["skyuser"])
                w.sky_by_user = True
            log.info("skysub: MDRIZSKY (e-) %s", {w.chip.name: round(w.sky, 3) for w in self.chips})
            return
        groups = by_exposure(self.chips)
        params = SkyParams.from_pars(p)
        if measure is None:
            values = [[sky_chip(w.task_input(), params, name) for w in group] for group in groups]
        else:
            values = measure(groups, params, name)
        scales = [[w.chip.pixel_scale for w in group] for group in groups]
        names = [group[0].exposure.path.name for group in groups]
        skies = combine_skies(values, scales, [g[0].chip.exptime for g in groups], names, p["skymethod"])
        if p["skymethod"] == "match":
            inputs = [[w.task_input() for w in g] for g in groups]
            skies = (match or match_sky)(inputs, skies, self.separate_frame, name)
        for group, group_skies in zip(groups, skies):
            for w, sky in zip(group, group_skies):
                if not np.isfinite(sky):
                    raise PipelineError(f"sky: no usable pixels to measure the sky of {w.chip.name}.")
                w.sky = float(sky)
        log.info("skysub (%s): MDRIZSKY (e-) %s", p["skymethod"],
                 {w.chip.name: round(w.sky, 3) for w in self.chips})  # fmt: skip

    def _driz_separate(self):
        """Each exposure drizzled onto the separate frame, in e-/s, weights exptime x good."""
        params, prov = SeparateParams.from_pars(self.pars), self.provenance()
        self.state.singles = []
        # The blot reuses the pixmaps to this frame while they fit the cache's budget.
        self.state.pixmaps = PixmapCache(self.backend.ops.free_bytes)
        for group in by_exposure(self.chips):
            single = separate_exposure([w.task_input() for w in group], group[0].exposure.exptime,
                                       self.separate_frame, params, self._task_backend, self.workdir,
                                       prov, self.state.pixmaps)  # fmt: skip
            self.intermediates += [single.sci_path, single.wht_path]
            self.state.singles.append((group, single))

    def _median(self):
        """The single images combined into the median and its counts (:mod:`~gpudriz.pipeline.steps.median`)."""
        groups = [g for g, _ in self.state.singles]
        median = median_singles(
            [s.sci_path for _, s in self.state.singles], [s.wht_path for _, s in self.state.singles],
            [g[0].exposure.exptime for g in groups], [np.mean([w.sky for w in g]) for g in groups],
            [np.mean([w.chip.rdnoise for w in g]) for g in groups], self.separate_frame,
            MedianParams.from_pars(self.pars), self._task_backend, self.workdir, self.output,
            self.provenance(),
        )  # fmt: skip
        self.intermediates += [median.path, median.count_path]
        self.state.median = median

    def _blot(self):
        """The median blotted back to every chip, and its noise term (:mod:`~gpudriz.pipeline.steps.blot`)."""
        if self.state.median is None:
            raise PipelineError("blot: there is no median image; run the median step.")
        name, params, prov = self._task_backend, BlotParams.from_pars(self.pars), self.provenance()
        med, counts = read_median(self.state.median, name)
        cache = self.state.pixmaps
        for w in self.chips:
            r = blot_chip(w.task_input(), med, counts, len(self.state.singles), self.separate_frame,
                          params, name, self.workdir, prov, cache.take(w.chip.name) if cache else None)  # fmt: skip
            self.intermediates += [r.blot_path, r.median_var_path]
            w.blot_path, w.median_var_path = r.blot_path, r.median_var_path

    def _driz_cr(self):
        """Every chip against its blot; the masks and _cor files (:mod:`~gpudriz.pipeline.steps.driz_cr`)."""
        p, params = self.pars, DrizCrParams.from_pars(self.pars)
        scales = {}
        for w in self.chips:
            if w.blot_path is None:
                raise PipelineError("driz_cr: there are no blotted images; run the blot step.")
            r = driz_cr_chip(w.task_input(), w.blot_path, w.median_var_path, params, self._task_backend)
            w.crmask, w.cr_noise_scale, w.cor = r.crmask, r.noise_scale, r.cor
            scales[w.chip.name] = round(w.cr_noise_scale, 3)
        self.products.update(products.write_crmasks(
            [(w.exposure.rootname, w.chip.extver, w.crmask, w.cr_noise_scale) for w in self.chips],
            self.workdir, self.provenance()))  # fmt: skip
        if p["driz_cr_corr"]:
            self.products.update(products.write_cor(
                [(w.exposure.path, w.exposure.rootname, w.chip, w.cor, w.crmask) for w in self.chips],
                self.workdir))  # fmt: skip
        log.info("driz_cr: noise of D - B over its model, per chip %s", scales)
        log.info("driz_cr: cosmic-ray pixels per chip %s",
                 {w.chip.name: int(w.crmask.sum()) for w in self.chips})  # fmt: skip

    def _driz_combine(self):
        """The final drizzle and its product (:mod:`gpudriz.pipeline.steps.final`), or its tiles."""
        p = self.pars
        ivms = [None] * len(self.chips)
        if p["final_wht_type"] == "IVM":
            ivms = [self.ivm[self.exposures.index(w.exposure)] for w in self.chips]
        chips, params = [w.task_input() for w in self.chips], FinalParams.from_pars(p)
        if p["tile_size"]:  # one tile at a time (gpudriz.pipeline.steps.tiles)
            self.products.update(tiled_final(chips, ivms, self.final_frame, params, p["tile_size"],
                                             self._task_backend, self.workdir, self.output, self.provenance(),
                                             build=p["build"]))  # fmt: skip
            return
        image = final_drizzle(chips, ivms, self.final_frame, params, self._task_backend)
        self.products.update(products.write_drizzle_product(
            self.workdir, self.output, image.planes(), self.final_frame, self.provenance(),
            build=p["build"]))  # fmt: skip
        log.info("driz_combine: wrote %s", ", ".join(str(f.name) for f in self.products.values()))

    def _apply_mdriztab(self, given=None):
        """Set the parameters from the MDRIZTAB row that fits the inputs (``mdriztab=yes``).

        See :func:`gpudriz.pipeline.initialization.apply_mdriztab`; the row is
        kept as ``self.mdriztab``.
        """
        self.mdriztab = apply_mdriztab(self.pars, self.workdir, given)

    # -- the chips as the steps see them (gpudriz.pipeline.steps.chipdata) -----------------

    @property
    def xp(self):
        return self.backend.xp

    def read_electrons(self, work: ChipWork):
        """The chip's science array in electrons, on the backend (sky not subtracted)."""
        return chipdata.read_electrons(work.task_input(), self.xp)

    def dq_good(self, work: ChipWork):
        """DQ-good pixels of the chip (the ``bits`` parameter), on the backend."""
        return chipdata.dq_good(work.chip, self.xp)

    def good_mask(self, work: ChipWork, *, with_cr=False):
        """DQ-good AND static-good (AND not a cosmic ray when ``with_cr``)."""
        return chipdata.good_mask(work.task_input(), self.xp, with_cr=with_cr)

    def pixmap_to(self, work: ChipWork, frame: OutputFrame):
        """The chip's pixmap into ``frame``, on the backend."""
        return chipdata.pixmap_to(work.chip, frame, self.backend)

    def scale_ratio(self, work: ChipWork, frame: OutputFrame) -> float:
        """Output pixel size over the chip's undistorted pixel size."""
        return chipdata.scale_ratio(work.chip, frame)

    def path(self, name: str) -> Path:
        return self.workdir / name

    def new_drizzle(self, kernel, frame, fillval, *, context=False, nimages=1):
        return chipdata.new_drizzle(kernel, frame, fillval, self.backend, context=context, nimages=nimages)
