"""Memory checks: how much this process may still allocate, and one refusal for both backends.

Each backend's ``check_memory(nbytes, what)`` compares an allocation about to be made with its
free memory through :func:`require_memory` (host memory for the CPU backend,
:func:`host_free_bytes`; device memory for the CUDA one), so that an output too large for the
machine fails in one sentence instead of in NumPy or CuPy.

:func:`available_memory` is the pipeline's stricter view before a run: the smallest of the
host's ``MemAvailable``; for each cgroup (v2 ``memory.max - memory.current``, v1
``memory.limit_in_bytes - memory.usage_in_bytes``) from the process's own up to the root; and
``RLIMIT_AS`` minus the process's address space (``VmSize``).  The container limit is the one that
matters in batch systems and CI: the host's free memory says nothing about it.
"""

from __future__ import annotations

import math
import os
import resource
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Available", "available_memory", "host_free_bytes", "format_bytes", "require_memory",
           "CGROUP_ROOT", "PROC_SELF"]  # fmt: skip

#: Where cgroups are mounted, and the process's /proc entry (module attributes so tests can point them
#: at a simulated limit).
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF = Path("/proc/self")


def format_bytes(n, decimals=2):
    """``n`` bytes in the largest binary unit that keeps a leading digit (e.g. ``1.50 GiB``).

    Parameters
    ----------
    n : int or float
        A byte count; ``math.inf`` reads "unlimited".
    decimals : int
        Digits after the point.
    """
    if n == math.inf:
        return "unlimited"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.{decimals}f} {unit}"
    return f"{int(n)} bytes"


def require_memory(nbytes, free, what, where, error):
    """Raise ``error`` if ``nbytes`` exceed ``free`` (None: unknown, nothing is raised).

    Parameters
    ----------
    nbytes : int
        Size of the allocation about to be made.
    free : int or None
        Bytes free for it.
    what : str
        What the allocation is for, quoted in the error.
    where : str
        Which memory ("memory", "device memory"), quoted in the error.
    error : type
        The exception class raised.
    """
    if free is not None and nbytes > free:
        raise error(
            f"{what} needs {format_bytes(nbytes)} of {where} but only {format_bytes(free)} "
            "are free."
        )


def host_free_bytes():
    """Bytes of host memory available to new allocations (Linux ``MemAvailable``), or None."""
    try:
        for line in (PROC_SELF.parent / "meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


@dataclass(frozen=True)
class Available:
    """Memory this process may still allocate, and which limit sets it."""

    bytes: int
    source: str


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


def _host_available():
    host = host_free_bytes()
    if host is not None:
        return host
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


def _fmt(n) -> str:
    return format_bytes(n, decimals=1)


def available_memory() -> Available:
    """Memory this process may still allocate (see the module docstring), and its source.

    Returns
    -------
    Available
        ``bytes`` is ``math.inf`` when no limit at all can be read.
    """
    best = Available(math.inf, "no limit found")
    host = _host_available()
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
