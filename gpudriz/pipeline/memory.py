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

import math
import os
import resource
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gpudriz.pipeline.state import MEDIAN_BUDGET

__all__ = ["Available", "StepNeed", "RunSize", "available_memory", "step_needs", "check_run", "MemoryLimitError",
           "CGROUP_ROOT", "PROC_SELF"]  # fmt: skip

#: Where cgroups are mounted, and the process's /proc entry (module attributes so tests can point them
#: at a simulated limit).
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF = Path("/proc/self")

#: Bytes per pixel of the final frame: SCI and WHT (float32), the co-added variance (float32), one
#: float64 accumulation cell, ERR and its temporaries while it is computed, and the host copies
#: written out (measured peak: 25.6 B/px with one context plane).
FINAL_BYTES_PER_PIXEL = 26
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
class Available:
    """Memory this process may still allocate, and which limit sets it."""

    bytes: int
    source: str


@dataclass(frozen=True)
class StepNeed:
    """A step's estimated peak, what it is made of, and what to change to lower it."""

    step: str
    bytes: int
    detail: str
    advice: str


def _read_int(path: Path):
    try:
        text = path.read_text().strip()
    except (OSError, ValueError):
        return None
    if text == "max":
        return math.inf
    try:
        return int(text)
    except ValueError:
        return None


def _meminfo_available():
    try:
        for line in (PROC_SELF.parent / "meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:  # not Linux: free physical pages
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_dirs():
    """The process's cgroup folders, its own first, up to the mount point."""
    rel = set()
    try:
        for line in (PROC_SELF / "cgroup").read_text().splitlines():
            parts = line.split(":", 2)
            if len(parts) == 3 and (parts[1] == "" or "memory" in parts[1].split(",")):
                rel.add((parts[1], parts[2].lstrip("/")))
    except OSError:
        pass
    dirs = []
    for controllers, path in sorted(rel) or [("", "")]:
        base = CGROUP_ROOT if controllers == "" else CGROUP_ROOT / "memory"
        d = base / path
        while True:
            dirs.append(d)
            if d == base or d.parent == d:
                break
            d = d.parent
    # v1 layouts mount the memory controller at <root>/memory; in a container the root may be it.
    dirs += [CGROUP_ROOT, CGROUP_ROOT / "memory"]
    seen, out = set(), []
    for d in dirs:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def available_memory() -> Available:
    """Memory this process may still allocate (see the module docstring), and its source.

    Returns
    -------
    Available
        ``bytes`` is ``math.inf`` when no limit at all can be read.
    """
    best = Available(math.inf, "no limit found")
    host = _meminfo_available()
    if host is not None:
        best = Available(host, "the host's available memory")
    for d in _cgroup_dirs():
        for limit_name, usage_name in (("memory.max", "memory.current"),
                                       ("memory.limit_in_bytes", "memory.usage_in_bytes")):  # fmt: skip
            limit = _read_int(d / limit_name)
            if limit is None or limit == math.inf or limit >= 2**60:  # v1 writes "unlimited" as ~2^63
                continue
            usage = _read_int(d / usage_name) or 0
            free = max(0, limit - usage)
            if free < best.bytes:
                best = Available(free, f"cgroup limit {d / limit_name} = {_fmt(limit)}, {_fmt(usage)} in use")
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        used = 0
        try:
            for line in (PROC_SELF / "status").read_text().splitlines():
                if line.startswith("VmSize:"):
                    used = int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
        free = max(0, soft - used)
        if free < best.bytes:
            best = Available(free, f"RLIMIT_AS (ulimit -v) = {_fmt(soft)}, {_fmt(used)} of address space in use")
    return best


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
    """

    chip_shapes: tuple
    chip_keys: tuple
    n_exposures: int
    separate_shape: tuple
    final_shape: tuple
    driz_cr_corr: bool
    context: bool


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
    fin_advice = "lower final_outnx/final_outny or raise final_scale (twice the scale needs a quarter)"
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
    needs["driz_combine"] = StepNeed(
        "driz_combine", per_px * fin_px + chip + held_static + held_cr,
        f"{per_px} B per pixel of the {fx}x{fy} final frame {chip_note}", fin_advice)
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
        raise MemoryLimitError(
            f"memory: the {worst.step} step needs about {_fmt(worst.bytes)} ({worst.detail}) but only "
            f"{_fmt(avail.bytes)} is available to this process ({avail.source}); {worst.advice}."
        )
