"""Sky background: step 3 of MultiDrizzle (manual section 1.4).

Per chip, the sky is a clipped statistic of its good pixels
(:func:`chip_sky`).  Chips of one exposure see the same sky per unit solid
angle but may have different pixel areas, so the exposure's sky is the
lowest surface brightness of its chips, converted back to each chip's pixel
area (:func:`exposure_sky`; ``skymethod = localmin``, the manual's rule).
``skymethod = globalmin`` gives every exposure the lowest sky rate per unit
area of all exposures (:func:`global_sky`); ``match`` solves the exposures'
sky differences from their overlaps (:mod:`gpudriz.pipeline.steps.skymatch`).
Alternatively the user names a header keyword that holds a sky already
subtracted (``skyuser``, :func:`user_sky`).

Units: the data, ``skylower`` and ``skyupper`` and the returned sky are in
electrons per pixel ("always in electrons", manual Table 2); a caller with
data in counts or e-/s converts to electrons first.

The statistics run on the backend's array module (``xp``, NumPy or CuPy)
through :func:`gpudriz.pipeline.steps.stats.clipped_stats`; only the scalar sky reaches
the host.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

from gpudriz.backend.validate import optional_limit, positive_number
from gpudriz.pipeline.io.checks import chip_emptiness
from gpudriz.pipeline.io.inputs import InputError
from gpudriz.pipeline.state import ChipInput
from gpudriz.pipeline.steps.chipdata import backend_of, good_mask, read_electrons
from gpudriz.pipeline.steps.stats import clipped_stats

__all__ = ["SKY_METHODS", "SKY_STATS", "SkyParams", "sky_chip", "measure_chip_sky", "user_chip_sky", "combine_skies",
           "chip_sky", "exposure_sky", "global_sky", "user_sky"]  # fmt: skip

log = logging.getLogger("gpudriz")

#: Values of the ``skystat`` parameter.
SKY_STATS = ("median", "mode", "mean")

#: Values of the ``skymethod`` parameter.
SKY_METHODS = ("localmin", "globalmin", "match")


def chip_sky(
    sci,
    *,
    xp,
    good=None,
    skystat="median",
    skywidth=0.1,
    skylower=-50.0,
    skyupper=200.0,
    skyclip=5,
    skylsigma=4.0,
    skyusigma=4.0,
    backend=None,
) -> float:
    """The sky of one chip: a clipped statistic of its usable pixels, in electrons.

    MultiDrizzle manual section 1.4, step 3 (algorithms.md, "Sky"): the
    pixels good in ``good`` (DQ per ``bits`` AND the static mask), finite,
    and within ``[skylower, skyupper]`` are clipped ``skyclip`` times at
    ``skylsigma`` / ``skyusigma`` about the mean, and ``skystat`` of what
    remains is the sky.

    Parameters
    ----------
    sci : 2-D array of ``xp``
        The chip's data in electrons.
    xp : module
        Array module of ``sci`` (``Backend.xp``).
    good : bool array of ``xp``, optional
        True where a pixel may be used; None uses every pixel.
    skystat : {"median", "mode", "mean"}
        The statistic; "mode" is the parabola-refined peak of a histogram of
        bin width ``skywidth * sigma`` (see :mod:`gpudriz.pipeline.steps.stats`).
    skywidth : float
        Histogram bin width of the mode, in sigma.
    skylower, skyupper : float or None
        Range of usable pixel values, in electrons; None means no limit.
    skyclip : int
        Clipping iterations (0: none).
    skylsigma, skyusigma : float
        Clipping limits below and above the mean, in sigma.
    backend : str or Backend, optional
        Whose passes compute the statistics (default: the CPU for NumPy
        arrays, CUDA for CuPy arrays).

    Returns
    -------
    float
        The sky in electrons per pixel; NaN when no pixel is usable (logged;
        :func:`exposure_sky` then relies on the exposure's other chips).

    Raises
    ------
    ValueError
        If ``skystat`` is not one of :data:`SKY_STATS` or another parameter
        is out of range (the message names it).
    """
    stat = skystat.strip().lower() if isinstance(skystat, str) else skystat
    if stat not in SKY_STATS:
        raise ValueError(f"'skystat' must be one of {', '.join(map(repr, SKY_STATS))}; got {skystat!r}.")
    # Checked here so that errors quote the sky parameters the user set.
    if isinstance(skyclip, bool) or not isinstance(skyclip, numbers.Integral) or skyclip < 0:
        raise ValueError(f"'skyclip' must be a non-negative integer; got {skyclip!r}.")
    for value, label in ((skywidth, "skywidth"), (skylsigma, "skylsigma"), (skyusigma, "skyusigma")):
        positive_number(value, label)
    lower = optional_limit(skylower, "skylower")
    upper = optional_limit(skyupper, "skyupper")
    if lower is not None and upper is not None and lower > upper:
        raise ValueError(f"'skylower' ({lower:g}) must not be above 'skyupper' ({upper:g}).")
    if good is not None and tuple(good.shape) != tuple(sci.shape):
        raise ValueError(
            f"'good' has shape {tuple(good.shape)}; expected the chip's shape {tuple(sci.shape)}."
        )
    stats = clipped_stats(
        sci,
        xp=xp,
        backend=backend,
        mask=good,
        lower=lower,
        upper=upper,
        nclip=skyclip,
        lsigma=skylsigma,
        usigma=skyusigma,
        binwidth=skywidth,
    )
    if stats.npix == 0:
        log.warning(
            "sky: no pixel of a %s chip is good, finite and within [%s, %s] electrons; its sky is undefined.",
            tuple(sci.shape), skylower, skyupper,
        )
        return float("nan")
    return float(getattr(stats, stat))


def _pixel_scale(value, index: int) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"'pixel_scales' must hold positive numbers; chip {index} has {value!r}.")
    return float(value)


def exposure_sky(chip_values: Sequence[float], pixel_scales: Sequence[float], *, name=None) -> list[float]:
    """The sky to subtract from each chip of one exposure (MultiDrizzle's minimum rule).

    Manual section 1.4, step 3: each chip's sky is scaled to surface
    brightness ``sky / pscale**2``, the lowest over the exposure's chips is
    taken, and it is scaled back to each chip, ``min_sb * pscale_chip**2``.
    A chip whose sky is NaN (nothing measurable, see :func:`chip_sky`) does
    not take part.

    Parameters
    ----------
    chip_values : sequence of float
        Sky of each chip, electrons per pixel.
    pixel_scales : sequence of float
        Undistorted pixel scale of each chip (any one unit, e.g. arcsec).
    name : str, optional
        The exposure, for the log.

    Returns
    -------
    list of float
        Sky per chip, electrons per pixel, in the order of ``chip_values``.
        When no chip has a finite sky, 0.0 for each (nothing is subtracted;
        logged as a warning).

    Raises
    ------
    ValueError
        If the two sequences are empty or differ in length, or a pixel
        scale is not a positive number.
    """
    values = [float(v) for v in chip_values]
    scales = [_pixel_scale(s, i) for i, s in enumerate(pixel_scales)]
    if not values or len(values) != len(scales):
        raise ValueError(
            f"'chip_values' ({len(values)}) and 'pixel_scales' ({len(scales)}) must give one "
            f"value per chip, at least one."
        )
    brightness = [v / (s * s) for v, s in zip(values, scales) if math.isfinite(v)]
    if not brightness:
        log.warning("sky: no chip of %s has a measurable sky; no sky is subtracted.", name or "an exposure")
        return [0.0] * len(values)
    lowest = min(brightness)
    return [lowest * s * s for s in scales]


def global_sky(chip_values, pixel_scales, exptimes, *, names=None) -> list[list[float]]:
    """``skymethod = globalmin``: the lowest sky rate per unit area of all exposures, for all.

    Each chip's sky is turned into a surface-brightness rate,
    ``sky / exptime / pscale**2`` (exposures of different length and chips
    of different pixel area compare only so); the lowest over every chip of
    every exposure is converted back to each chip, ``x exptime x
    pscale**2``.  A chip whose sky is NaN does not take part.

    Parameters
    ----------
    chip_values : sequence of sequences of float
        Per exposure, the sky of each chip (electrons per pixel).
    pixel_scales : sequence of sequences of float
        Per exposure, each chip's undistorted pixel scale (one unit for all).
    exptimes : sequence of float
        Exposure time of each exposure, seconds.
    names : sequence of str, optional
        The exposures, for the log.

    Returns
    -------
    list of list of float
        Sky per chip, electrons per pixel, nested like ``chip_values``.
        When no chip has a finite sky, 0.0 everywhere (logged as a warning).

    Raises
    ------
    ValueError
        If the nestings differ, an exposure has no chip, a pixel scale or an
        exposure time is not a positive number.
    """
    if not (len(chip_values) == len(pixel_scales) == len(exptimes)) or not chip_values:
        raise ValueError(
            f"'chip_values' ({len(chip_values)}), 'pixel_scales' ({len(pixel_scales)}) and 'exptimes' "
            f"({len(exptimes)}) must give one entry per exposure, at least one."
        )
    rates, scales, times = [], [], []
    for e, (values, sc, t) in enumerate(zip(chip_values, pixel_scales, exptimes)):
        if isinstance(t, bool) or not isinstance(t, numbers.Real) or not math.isfinite(t) or t <= 0:
            raise ValueError(f"'exptimes' must hold positive numbers; exposure {e} has {t!r}.")
        sc = [_pixel_scale(s, i) for i, s in enumerate(sc)]
        values = [float(v) for v in values]
        if not values or len(values) != len(sc):
            raise ValueError(
                f"exposure {e}: 'chip_values' ({len(values)}) and 'pixel_scales' ({len(sc)}) must give "
                f"one value per chip, at least one."
            )
        rates += [(v / (t * s * s), e) for v, s in zip(values, sc) if math.isfinite(v)]
        scales.append(sc)
        times.append(float(t))
    if not rates:
        log.warning("sky: no chip of any exposure has a measurable sky; no sky is subtracted.")
        return [[0.0] * len(sc) for sc in scales]
    lowest, where = min(rates)
    log.info("sky: globalmin %.5g e-/s per unit area, from %s, applied to every exposure.", lowest,
             names[where] if names else f"exposure {where}")  # fmt: skip
    return [[lowest * t * s * s for s in sc] for sc, t in zip(scales, times)]


def user_sky(header, keyword: str, *, source=None) -> float:
    """The sky a user already subtracted, read from a header keyword (``skyuser``).

    Parameters
    ----------
    header : mapping or sequence of mappings
        An ``astropy.io.fits.Header`` (or any mapping), or several searched
        in order (for example the chip's SCI header, then the primary
        header); the first that has the keyword gives the value.
    keyword : str
        The keyword the ``skyuser`` parameter names.
    source : str, optional
        The file (and extension), for the error messages.

    Returns
    -------
    float
        The sky value, in the units of the data it was subtracted from.

    Raises
    ------
    InputError
        If the keyword is in none of the headers or does not hold a finite
        number; the message names the keyword and ``source``.
    ValueError
        If ``keyword`` is not a non-empty string.
    """
    if not isinstance(keyword, str) or not keyword.strip():
        raise ValueError(f"'skyuser' must name a header keyword; got {keyword!r}.")
    keyword = keyword.strip()
    headers = [header] if isinstance(header, Mapping) or hasattr(header, "cards") else list(header)
    where = f"'{source}'" if source else "the header"
    for h in headers:
        if keyword in h:
            value = h[keyword]
            break
    else:
        raise InputError(f"skyuser keyword '{keyword}' is not in {where}; expected the sky already subtracted.")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InputError(f"skyuser keyword '{keyword}' in {where} holds {value!r}; expected a finite number.")
    return float(value)


# -- the step's tasks -------------------------------------------------------------------


@dataclass(frozen=True)
class SkyParams:
    """The sky step's statistics parameters (manual Table 2; :func:`chip_sky`)."""

    skystat: str
    skywidth: float
    skylower: float | None
    skyupper: float | None
    skyclip: int
    skylsigma: float
    skyusigma: float

    @classmethod
    def from_pars(cls, pars) -> SkyParams:
        """From the run's :class:`~gpudriz.pipeline.config.parameters.Parameters`."""
        return cls(**{f.name: pars[f.name] for f in fields(cls)})


def sky_chip(chip: ChipInput, params: SkyParams, backend) -> float:
    """The measured sky of one chip, electrons per pixel (the step's task for one chip).

    Parameters
    ----------
    chip : ChipInput
        The chip and its static mask (DQ- and static-good pixels are used).
    params : SkyParams
    backend : str or Backend

    Returns
    -------
    float
        :func:`chip_sky` of its good pixels; NaN for a chip without data
        (``chip.empty``): it has no say in its exposure's sky.
    """
    return measure_chip_sky(chip, params, backend)[0]


def measure_chip_sky(chip: ChipInput, params: SkyParams, backend) -> tuple[float, str | None]:
    """:func:`sky_chip`'s value, and why the chip has no data (:func:`~gpudriz.pipeline.io.checks.chip_emptiness`).

    The mosaic mode's sky tasks find the chips without data here, on the
    pixels they read anyway (its build does not read them); the value is
    NaN for those, as for a chip marked ``empty``.
    """
    be = backend_of(backend)
    xp = be.xp
    data = read_electrons(chip, xp)
    why = chip_emptiness(data, xp)
    if chip.empty or why is not None:
        # A chip without data has no say in its exposure's sky.
        return math.nan, why
    value = chip_sky(
        data, xp=xp, backend=be, good=good_mask(chip, xp), skystat=params.skystat,
        skywidth=params.skywidth, skylower=params.skylower, skyupper=params.skyupper,
        skyclip=params.skyclip, skylsigma=params.skylsigma, skyusigma=params.skyusigma,
    )  # fmt: skip
    return value, None


def user_chip_sky(chip: ChipInput, primary_header, keyword: str) -> float:
    """``skyuser``: the sky already subtracted from one chip, in electrons.

    The keyword is looked up in the chip's SCI header first, then in its
    exposure's ``primary_header`` (:func:`user_sky`).
    """
    header = chip.chip.header.copy()
    header.extend(primary_header, unique=True)  # SCI keyword first
    return float(user_sky(header, keyword, source=chip.chip.name)) * chip.to_electrons


def combine_skies(values, pixel_scales, exptimes, names, method: str) -> list[list[float]]:
    """Each chip's sky from the measured ones, per ``skymethod`` localmin or globalmin.

    Parameters
    ----------
    values, pixel_scales : list of list of float
        Per exposure, each chip's measured sky (:func:`sky_chip`) and pixel scale.
    exptimes : list of float
        Per exposure, its first chip's exposure time.
    names : list of str
        The exposures' file names, for the log.
    method : {"localmin", "globalmin", "match"}
        "match" gives the localmin values, which anchor
        :func:`gpudriz.pipeline.steps.skymatch.match_sky`.
    """
    if method == "globalmin":
        return global_sky(values, pixel_scales, exptimes, names=names)
    return [exposure_sky(v, s, name=n) for v, s, n in zip(values, pixel_scales, names)]
