"""The state of a MultiDrizzle run: what each step produced, as plain dataclasses.

:class:`gpudriz.Multidrizzle` owns one :class:`RunState` and one
:class:`ChipWork` per input chip; the steps (:mod:`gpudriz.pipeline.steps`)
never see them.  For each step the orchestrator gathers the inputs from this
state (a chip's :class:`ChipInput`, paths of earlier products), calls the
step's task and stores what it returns here.

The constants and the error shared by the orchestrator and the steps live
here too, so that both import them without a cycle.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from astropy.io import fits

from gpudriz.pipeline.io.instruments import Chip, Exposure

__all__ = [
    "STEP_NAMES",
    "MASKPT",
    "MEDIAN_BUDGET",
    "PipelineError",
    "ChipInput",
    "ChipWork",
    "SingleImage",
    "MedianImage",
    "RunState",
    "to_electrons",
    "by_exposure",
]

#: The run() switches, in the order the steps run.
STEP_NAMES = ("static", "skysub", "driz_separate", "median", "blot", "driz_cr", "driz_combine")

#: MultiDrizzle's weight-mask threshold for ``median_newmasks`` (algorithms.md).
MASKPT = 0.7

#: Memory the median may use for one section of the stacked images (bytes).
MEDIAN_BUDGET = 512 * 2**20


class PipelineError(RuntimeError):
    """A pipeline step cannot go on; the message says which and why."""


def to_electrons(chip: Chip) -> float:
    """Factor from the chip's file units to electrons.

    Raises
    ------
    PipelineError
        For units other than electrons, counts and electrons/s.
    """
    if chip.units == "electrons":
        return 1.0
    if chip.units == "counts":
        return float(chip.gain)
    if chip.units == "electrons/s":
        return float(chip.exptime)
    raise PipelineError(f"{chip.name}: unknown units {chip.units!r}.")


@dataclass(frozen=True, eq=False)
class ChipInput:
    """What a step task knows of one chip: its description and what earlier steps found.

    Built by the orchestrator from a :class:`ChipWork` (:meth:`ChipWork.task_input`);
    picklable, so that another process can run the task.

    Attributes
    ----------
    chip : Chip
        Headers, instrument model and where its arrays are (read on demand).
    rootname : str
        The exposure's rootname (names of the chip's intermediates).
    exposure_path : Path
        The exposure file.
    to_electrons : float
        Factor from the file's units to electrons.
    sky : float
        Sky of the chip (electrons), 0 before the sky step.
    sky_in_data : bool
        Whether the input data still contain that sky.
    static_ok : array or None
        Static mask (True = good).
    crmask : array or None
        Cosmic rays found by driz_cr (True = CR).
    empty : bool
        The chip has no data (no say in its exposure's sky).
    crmask_file : Path or None
        The ``_crmask.fits`` file that holds the chip's cosmic rays (its
        ``CRMASK`` extension of the chip's EXTVER), read when ``crmask`` is
        None: the mosaic mode keeps masks on disk, not in memory.
    static_file : Path or None
        A file holding the static mask (a ``.npy`` of bool, True = good), read when
        ``static_ok`` is None: the mosaic mode sends tasks this name instead
        of the mask itself.
    """

    chip: Chip
    rootname: str
    exposure_path: Path
    to_electrons: float
    sky: float = 0.0
    sky_in_data: bool = True
    static_ok: object = field(default=None, repr=False)
    crmask: object = field(default=None, repr=False)
    empty: bool = False
    crmask_file: Path | None = None
    static_file: Path | None = None

    @property
    def key(self):
        """The chip number (SCI EXTVER): chips of one number share a static mask."""
        return self.chip.extver


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
    crmask_file : Path or None
        Mosaic mode: the ``_crmask.fits`` file holding the chip's cosmic rays
        (``crmask`` stays None there, so that memory does not grow with the inputs).
    static_file : Path or None
        Mosaic mode: the file holding the static mask of the chip's number
        (``static_ok`` stays None there: tasks are sent the name, not the mask).
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
    crmask_file: Path | None = None
    static_file: Path | None = None

    @property
    def key(self):
        return self.chip.extver

    @property
    def sky_in_data(self) -> bool:
        """Whether the input data still contain the sky (not removed by the user or in place)."""
        return not (self.sky_by_user or self.sky_written)

    def task_input(self, *, header: bool = True) -> ChipInput:
        """This chip as a step task sees it (:class:`ChipInput`).

        ``header=False``: its ``Chip`` without the copy of its SCI header
        (empty), which no step task reads but ``skyuser``'s, and which is
        half of what a chip weighs pickled: the mosaic mode's tasks carry
        chips to Dask workers by the thousand.
        """
        chip = self.chip if header else dataclasses.replace(self.chip, header=fits.Header())
        return ChipInput(
            chip=chip, rootname=self.exposure.rootname, exposure_path=self.exposure.path,
            to_electrons=self.to_electrons, sky=self.sky, sky_in_data=self.sky_in_data,
            static_ok=self.static_ok, crmask=self.crmask, empty=self.empty,
            crmask_file=self.crmask_file, static_file=self.static_file,
        )  # fmt: skip


@dataclass(frozen=True)
class SingleImage:
    """One exposure drizzled onto the separate frame (driz_separate).

    Attributes
    ----------
    rootname : str
    sci_path, wht_path : Path
        The single image (electrons/s) and its weights.
    """

    rootname: str
    sci_path: Path
    wht_path: Path


@dataclass(frozen=True)
class MedianImage:
    """The median step's products.

    Attributes
    ----------
    path : Path
        The median (electrons/s) on the separate frame.
    count_path : Path
        The number of good values combined at each pixel (int16).
    nimages : int
        How many single images were combined.
    """

    path: Path
    count_path: Path
    nimages: int


@dataclass
class RunState:
    """What the steps of a run produced that later steps read (besides each :class:`ChipWork`).

    Attributes
    ----------
    singles : list of (list of ChipWork, SingleImage)
        Per exposure, its chips and its single images (driz_separate).
    median : MedianImage or None
        The median and its counts (median).
    pixmaps : PixmapCache or None
        driz_separate's pixmaps to the separate frame, kept for the blot
        (:mod:`gpudriz.pipeline.steps.pixmap_cache`).
    """

    singles: list = field(default_factory=list)
    median: MedianImage | None = None
    pixmaps: object = None


def by_exposure(chips) -> list[list]:
    """``chips`` (ChipWork) grouped by exposure, in input order."""
    groups = {}
    for w in chips:
        groups.setdefault(id(w.exposure), []).append(w)
    return list(groups.values())
