"""The output folder of a run: one run at a time, and no stale temporaries of ours.

Intermediates are named from the exposures' rootnames (``<root>_single_sci.fits``,
``<root>_sci1_blt.fits``...), so two runs in one folder over the same inputs
but with different parameters, or different outputs, would read each other's
intermediates and give silently wrong products.  :class:`FolderLock` makes a
run hold an exclusive ``flock`` on ``<folder>/.gpudriz.lock`` for its whole
length: a second run in that folder stops at once with an error saying which
process holds it.  The kernel drops the lock when its holder exits, ``kill -9``
included, so a crashed run never leaves the folder locked.

Every file is written to a temporary ``.<name>.gpudriz-XXXXXXXX.tmp`` and
renamed into place (:func:`gpudriz.pipeline.io.products.atomic_write`); a run killed
during a write leaves that temporary behind.  While it holds the lock a run
is the only writer in the folder, so :func:`remove_stale_temporaries` deletes
every such file there: they can only be leftovers of a dead run.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

try:  # POSIX; elsewhere runs are not locked
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["TEMP_MARK", "LOCK_NAME", "FolderBusyError", "FolderLock", "temp_prefix",
           "remove_stale_temporaries"]  # fmt: skip

log = logging.getLogger("gpudriz")

#: What marks a temporary as gpudriz's, between the target's name and mkstemp's random part.
TEMP_MARK = ".gpudriz-"

#: The lock file of a folder.
LOCK_NAME = ".gpudriz.lock"

_TEMP = re.compile(r"^\..+" + re.escape(TEMP_MARK) + r"[A-Za-z0-9_]{8}\.tmp$")


class FolderBusyError(RuntimeError):
    """Another gpudriz run holds the folder."""


def temp_prefix(path: Path) -> str:
    """The ``mkstemp`` prefix of a temporary written for ``path`` (see the module docstring)."""
    return f".{path.name}{TEMP_MARK}"


def remove_stale_temporaries(folder) -> list[Path]:
    """Delete gpudriz's temporaries left in ``folder`` by a killed run; return them.

    Call only while holding the folder's :class:`FolderLock`: then no other
    run of gpudriz is writing there.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if _TEMP.match(entry.name) and entry.is_file(follow_symlinks=False):
            path = Path(entry.path)
            try:
                size = entry.stat().st_size
                path.unlink()
            except OSError as exc:  # e.g. removed meanwhile, or a read-only folder
                log.warning("could not remove the stale temporary '%s' (%s).", path, exc)
                continue
            log.info("removed '%s' (%d bytes), left by an interrupted run.", path, size)
            removed.append(path)
    return removed


class FolderLock:
    """Exclusive lock of a folder for one run (``with FolderLock(folder): ...``).

    Parameters
    ----------
    folder : str or os.PathLike
        The run's output folder.

    Raises
    ------
    FolderBusyError
        On entry, if another process (or another run in this one) holds the lock.
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd = None

    def __enter__(self):
        if fcntl is None:  # pragma: no cover
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise FolderBusyError(
                f"another gpudriz run (process {holder}) is working in '{self.folder}'; runs in one "
                "folder would overwrite each other's intermediates: wait for it to finish, or run in "
                "another folder (workdir)."
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc):
        if self._fd is not None:
            # The file stays (deleting it would race with a run opening it); the lock goes.
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        return False
