"""Step 1 of MultiDrizzle, initialization: the inputs, the instrument model, the output frames.

:meth:`gpudriz.Multidrizzle.build` calls :func:`initialize` once the
backend is chosen; :func:`apply_mdriztab` sets the parameters from an
MDRIZTAB row (``mdriztab=yes``) before that.  Everything that only shows
across inputs or in the pixels is checked here, before any step runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from gpudriz.pipeline.config import parameters as P
from gpudriz.pipeline.config.mdriztab import MdriztabSelection, read_mdriztab
from gpudriz.pipeline.geometry.distortion import apply_coeffs
from gpudriz.pipeline.geometry.outframe import OutputFrame, output_frame
from gpudriz.pipeline.geometry.shiftfile import apply_shiftfile, read_shiftfile
from gpudriz.pipeline.io import checks
from gpudriz.pipeline.io.inputs import resolve_inputs
from gpudriz.pipeline.io.instruments import Exposure, read_exposure
from gpudriz.pipeline.state import ChipWork, to_electrons

__all__ = ["Initialized", "initialize", "read_input", "final_frame", "apply_mdriztab"]

log = logging.getLogger("gpudriz")

#: Instrument-model parameters that override the headers when set.
_OVERRIDES = ("gain", "gnkeyword", "rdnoise", "rnkeyword", "exptime", "expkeyword", "crbit")


@dataclass
class Initialized:
    """What initialization found: the inputs, each chip's working state, the output frames.

    Attributes
    ----------
    output : str
        Rootname of the products.
    ivm : list of Path or None
        Each exposure's inverse-variance map (an ``@file``'s second column).
    exposures : list of Exposure
    chips : list of ChipWork
    separate_frame, final_frame : OutputFrame
    """

    output: str
    ivm: list
    exposures: list[Exposure]
    chips: list[ChipWork]
    separate_frame: OutputFrame
    final_frame: OutputFrame


def read_input(path, group, overrides, bits) -> Exposure:
    """One input's :func:`~gpudriz.pipeline.io.instruments.read_exposure` (a top-level task for Dask workers)."""
    return read_exposure(path, group=group, overrides=overrides, bits=bits)


def initialize(pars, workdir: Path, *, find_empty: bool = True, map_inputs=None) -> Initialized:
    """Read the inputs, apply the distortion model and shifts, and compute the output frames.

    Parameters
    ----------
    pars : gpudriz.pipeline.config.parameters.Parameters
    workdir : Path
        Folder of relative names.
    find_empty : bool
        Read every chip's pixels here to find those without data
        (:func:`gpudriz.pipeline.io.checks.empty_chips`).  The mosaic mode
        leaves it to its sky tasks, which read the chips on the workers:
        one process reading every pixel of a thousand exposures before any
        work would be the run's slowest part.
    map_inputs : callable, optional
        ``map_inputs(stage, fn, items, *common)`` -> the list of ``fn(item,
        *common)``, in order: how the inputs' headers are read
        (:meth:`gpudriz.pipeline.execution.ExecutionStart.map` shares them with a
        starting cluster's workers); default: one after the other, here.

    Raises
    ------
    InputError, ParameterError
        For inputs that cannot be used, or parameters they do not allow.
    """
    p = pars
    # read_exposure opens and checks each exposure: an @file's are not opened twice.
    inputs = resolve_inputs(p["input"], output=p["output"], cwd=workdir, check_listed=False)
    overrides = {k: p[k] for k in _OVERRIDES if p[k] is not None}
    if map_inputs is None:
        exposures = [read_input(path, p["group"], overrides, p["bits"]) for path in inputs.exposures]
    else:
        exposures = map_inputs("read", read_input, inputs.exposures, p["group"], overrides, p["bits"])
    # What only shows across inputs or in the pixels, checked before any work.
    checks.check_rootnames(exposures)
    checks.check_chip_shapes(exposures)
    checks.check_wcs(exposures)
    checks.check_ivms(exposures, inputs.ivm)
    empty = checks.empty_chips(exposures) if find_empty else set()
    chips = [
        ChipWork(chip=c, exposure=e, to_electrons=to_electrons(c), empty=(c.path, c.extver) in empty)
        for e in exposures for c in e.chips
    ]  # fmt: skip
    # The distortion model, then the registration corrections, go into each
    # chip's WCS before any frame is computed from them.
    apply_coeffs(exposures, p["coeffs"], cwd=workdir)
    if p["shiftfile"]:
        apply_shiftfile(read_shiftfile(workdir / p["shiftfile"]), exposures,
                        default_reference=lambda: final_frame(p, chips, workdir).wcs, cwd=workdir)  # fmt: skip
    if p["final_wht_type"] == "IVM" and any(v is None for v in inputs.ivm):
        raise P.ParameterError(
            "final_wht_type = IVM needs an inverse-variance map for every exposure "
            "(the second column of an @file)."
        )
    if p["final_wht_type"] == "ERR":
        missing = [c.chip.name for c in chips if not c.chip.has_err]
        if missing:
            raise P.ParameterError(f"final_wht_type = ERR needs ERR extensions; {missing[0]} has none.")
    # INDEF scale: the first input's undistorted scale as the instrument
    # model knows it (IDCSCALE for HST), as MultiDrizzle does.
    native = chips[0].chip.pixel_scale
    separate = output_frame(
        [c.chip.wcs for c in chips], [c.chip.shape for c in chips], scale=p["driz_sep_scale"] or native,
        rot=p["driz_sep_rot"], outnx=p["driz_sep_outnx"], outny=p["driz_sep_outny"], ra=p["ra"], dec=p["dec"],
    )  # fmt: skip
    return Initialized(inputs.output, inputs.ivm, exposures, chips, separate, final_frame(p, chips, workdir))


def final_frame(pars, chips, workdir: Path) -> OutputFrame:
    """The final frame of the chips' current WCS (also the shift file's default reference)."""
    p = pars
    native = chips[0].chip.pixel_scale
    return output_frame(
        [c.chip.wcs for c in chips], [c.chip.shape for c in chips],
        scale=p["final_scale"] or native, rot=p["final_rot"], outnx=p["final_outnx"],
        outny=p["final_outny"], ra=p["ra"], dec=p["dec"],
        refimage=workdir / p["refimage"] if p["refimage"] else None,
    )  # fmt: skip


def apply_mdriztab(pars, workdir: Path, given=None) -> MdriztabSelection:
    """Set ``pars`` from the MDRIZTAB row that fits the inputs (``mdriztab=yes``); return the row.

    The table's values override the other parameters (manual,
    ``mdriztab``), never input, output, mdriztab or backend; a value in
    ``given`` (the keywords given to ``Multidrizzle()``) that the table
    replaces is logged as a warning.
    """
    inputs = resolve_inputs(pars["input"], output=pars["output"], cwd=workdir)
    selection = read_mdriztab(inputs.exposures, workdir=workdir)
    given = {P.canonical_name(k): v for k, v in (given or {}).items()}
    for name, value in selection.values.items():
        if name in given and P.validate(name, given[name]) != value:
            log.warning("mdriztab: the table's %s = %s replaces the %s given.", name,
                        P.format_value(value), P.format_value(P.validate(name, given[name])))  # fmt: skip
    pars.update(selection.values)
    log.info(
        "mdriztab: parameters from %s (MDRIZTAB = %s), row %d: filter %s, numimages %d, for %d "
        "input exposure(s); %s.", selection.path, selection.name, selection.row,
        selection.filter, selection.numimages, selection.nimages,
        ", ".join(f"{k} = {P.format_value(v)}" for k, v in selection.values.items()) or "no values",
    )  # fmt: skip
    return selection
