"""Memory a run needs, step by step, against the memory this process may actually use.

Checked by :meth:`gpudriz.Multidrizzle.run` before any step runs, so that a
frame too large for the machine is refused in one sentence at the start, with
what to change, instead of being killed without a message (a cgroup's OOM
killer, exit 137) or failing in numpy after hours of earlier steps.

*Need* is each step's peak host memory: its output-sized arrays (bytes per
output pixel, counted below, the final drizzle's measured at 25.6 bytes per
pixel of a 12,000 x 12,000 frame), the working arrays of the largest input
chip, and what the run holds across steps (static masks, cosmic-ray masks,
``_cor`` data).  Steps run one after the other, so the largest of them is what
must fit, on top of what the process uses already.

*Available* is the smallest of: the host's ``MemAvailable``; for each cgroup
(v2 ``memory.max - memory.current``, v1 ``memory.limit_in_bytes -
memory.usage_in_bytes``) from the process's own up to the root; and
``RLIMIT_AS`` minus the process's address space (``VmSize``).  The container
limit is the one that matters in batch systems and CI: the host's free memory
says nothing about it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from gpudriz.backend.memory import Available, available_memory
from gpudriz.pipeline.state import MEDIAN_BUDGET

__all__ = ["Available", "StepNeed", "RunSize", "available_memory", "step_needs", "check_run",
           "fitting_tile_size", "MemoryLimitError"]  # fmt: skip

#: Bytes per pixel of the final frame: SCI and WHT (float32), the co-added variance (float32), one
#: float64 accumulation cell, ERR and its temporaries while it is computed, and the host copies
#: written out (measured peak: 25.6 B/px with one context plane).
FINAL_BYTES_PER_PIXEL = 26
#: Stands for the suggested ``tile_size`` in the final drizzle's advice (:func:`check_run` fills it in).
TILE_ADVICE_TOKEN = "<N>"
#: Each context plane (32 input chips per plane), int32.
CONTEXT_BYTES_PER_PIXEL = 4
#: Bytes per pixel of the separate frame while one exposure is drizzled onto it: SCI, WHT, the
#: float64 accumulation and the host copies written out.
SEPARATE_BYTES_PER_PIXEL = 24
#: Bytes per pixel of the largest input chip while it is worked on: its data, good mask, weights,
#: float64 pixmap (16), variance and copies.
CHIP_BYTES_PER_PIXEL = 48


class MemoryLimitError(MemoryError):
    """A step would need more memory than the process may use."""


@dataclass(frozen=True)
class StepNeed:
    """A step's estimated peak, what it is made of, and what to change to lower it."""

    step: str
    bytes: int
    detail: str
    advice: str


def _fmt(n) -> str:
    if n == math.inf:
        return "unlimited"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


@dataclass(frozen=True)
class RunSize:
    """What a run's memory needs depend on: its chips, frames and a few parameters.

    Attributes
    ----------
    chip_shapes : tuple of (int, int)
        Every input chip's shape.
    chip_keys : tuple
        Every input chip's number (SCI EXTVER): one static mask per number.
    n_exposures : int
    separate_shape, final_shape : (int, int)
        The separate and final frames.
    driz_cr_corr : bool
        driz_cr keeps each chip's ``_cor`` data.
    context : bool
        The final drizzle has context planes.
    tile_size : int
        The final drizzle's tiles (``tile_size``; 0: one frame): it holds one tile at a time.
    """

    chip_shapes: tuple
    chip_keys: tuple
    n_exposures: int
    separate_shape: tuple
    final_shape: tuple
    driz_cr_corr: bool
    context: bool
    tile_size: int = 0


def step_needs(size: RunSize, todo) -> list[StepNeed]:
    """Estimated peak host memory of each step switched on in ``todo`` (a dict step name -> bool).

    Parameters
    ----------
    size : RunSize
        The built run's chips and frames.
    todo : dict
        Step name -> whether it runs.
    """
    chip_px = max(int(np.prod(shape)) for shape in size.chip_shapes)
    chip = CHIP_BYTES_PER_PIXEL * chip_px
    # Held across steps: one static mask per chip number, one CR mask per chip, _cor data.
    n_ver = len(set(size.chip_keys))
    held_static = n_ver * chip_px if todo.get("static") else 0
    held_cr = sum(int(np.prod(shape)) for shape in size.chip_shapes) * (1 + (4 if size.driz_cr_corr else 0))
    sy, sx = size.separate_shape
    fy, fx = size.final_shape
    sep_px, fin_px = sy * sx, fy * fx
    n_exp = size.n_exposures
    sep_advice = "lower driz_sep_outnx/driz_sep_outny or raise driz_sep_scale (twice the scale needs a quarter)"
    fin_advice = (f"set tile_size={TILE_ADVICE_TOKEN} (the final drizzle then holds one tile at a time), or lower "
                  "final_outnx/final_outny or raise final_scale (twice the scale needs a quarter)")
    chip_note = f"and {CHIP_BYTES_PER_PIXEL} B per pixel of the largest {chip_px}-pixel input chip"
    needs = {
        "static": StepNeed("static", chip + held_static, f"{CHIP_BYTES_PER_PIXEL} B per pixel of the largest "
                           f"{chip_px}-pixel input chip and the static masks", "use smaller input chips (group)"),
        "skysub": StepNeed("skysub", chip + held_static, f"{CHIP_BYTES_PER_PIXEL} B per pixel of the largest "
                           f"{chip_px}-pixel input chip", "use smaller input chips (group)"),
        "driz_separate": StepNeed(
            "driz_separate", SEPARATE_BYTES_PER_PIXEL * sep_px + chip + held_static,
            f"{SEPARATE_BYTES_PER_PIXEL} B per pixel of the {sx}x{sy} separate frame {chip_note}", sep_advice),
        "median": StepNeed(
            # The median (float32) and its good-value counts (int16), each held whole, and
            # their host copies: 10 B per pixel.
            "median", min(MEDIAN_BUDGET, 12 * n_exp * sep_px) + 10 * sep_px + held_static,
            f"the median's section budget and 10 B per pixel of the {sx}x{sy} separate frame",
            sep_advice),
        "blot": StepNeed("blot", 6 * sep_px + chip + held_static,
                         f"the {sx}x{sy} median and its counts {chip_note}", sep_advice),
        "driz_cr": StepNeed("driz_cr", chip + held_static + held_cr,
                            f"{chip_note.removeprefix('and ')} and every chip's cosmic-ray mask",
                            "use fewer or smaller input chips"),
    }
    ctx_planes = math.ceil(len(size.chip_shapes) / 32) if size.context else 0
    per_px = FINAL_BYTES_PER_PIXEL + CONTEXT_BYTES_PER_PIXEL * max(0, ctx_planes - 1) - (0 if ctx_planes else 4)
    what = f"the {fx}x{fy} final frame"
    if size.tile_size:
        # One tile's arrays at a time, always with context planes (they say which chips reach it);
        # every chip may reach one tile.
        fy, fx = min(fy, size.tile_size), min(fx, size.tile_size)
        fin_px, what = fy * fx, f"one {fx}x{fy} tile of the final frame"
        per_px = FINAL_BYTES_PER_PIXEL + CONTEXT_BYTES_PER_PIXEL * (math.ceil(len(size.chip_shapes) / 32) - 1)
        fin_advice = "lower tile_size"
    needs["driz_combine"] = StepNeed(
        "driz_combine", per_px * fin_px + chip + held_static + held_cr,
        f"{per_px} B per pixel of {what} {chip_note}", fin_advice)
    return [needs[name] for name in needs if todo.get(name)]


def check_run(size: RunSize, todo) -> None:
    """Refuse the run, before any step, if a step would need more memory than is available.

    ``size`` and ``todo`` as :func:`step_needs` takes them.

    Raises
    ------
    MemoryLimitError
        Naming the step, its need and what it is made of, the memory
        available and which limit sets it, and what to change.
    """
    needs = step_needs(size, todo)
    if not needs:
        return
    avail = available_memory()
    worst = max(needs, key=lambda n: n.bytes)
    if worst.bytes > avail.bytes:
        advice = worst.advice.replace(TILE_ADVICE_TOKEN, str(fitting_tile_size(size, todo, avail.bytes)))
        raise MemoryLimitError(
            f"memory: the {worst.step} step needs about {_fmt(worst.bytes)} ({worst.detail}) but only "
            f"{_fmt(avail.bytes)} is available to this process ({avail.source}); {advice}."
        )


def fitting_tile_size(size: RunSize, todo, available: int) -> int:
    """The largest ``tile_size`` (a multiple of 256, at least 256) whose final drizzle fits in ``available``."""
    fy, fx = size.final_shape
    best = 256
    for n in range(256, max(fy, fx) + 256, 256):
        tiled = dataclasses.replace(size, tile_size=n)
        need = [s for s in step_needs(tiled, todo) if s.step == "driz_combine"]
        if need and need[0].bytes > available:
            break
        best = n
    return best
