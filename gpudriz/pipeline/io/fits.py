"""FITS helpers shared by the readers of inputs, reference images and tables.

One error type for every unusable user input (:class:`InputError`), one way
of quoting a library's error inside it (:func:`reason`) and one way of
opening a FITS file that refuses truncated files (:func:`open_fits`).  This
module imports nothing from the pipeline, so the configuration, input and
geometry modules can all use it without import cycles.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from astropy.io import fits

__all__ = ["InputError", "reason", "open_fits", "is_compressed"]


class InputError(ValueError):
    """A user's input (file, list, header or parameter) cannot be used as given."""


def reason(exc: Exception) -> str:
    """The first sentence of a library's error, to quote inside ours.

    Parameters
    ----------
    exc : Exception
        The error raised by astropy, the OS...

    Returns
    -------
    str
        Its message on one line, cut at the first sentence, without the full
        stop (the class name when the message is empty).
    """
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.split(". ")[0].rstrip(".")


def is_compressed(path) -> bool:
    """Whether ``path`` is gzip, bzip2 or zip.

    Astropy reads such files, but their size says nothing about the HDUs.
    """
    with open(path, "rb") as f:
        magic = f.read(4)
    return magic[:2] == b"\x1f\x8b" or magic[:3] == b"BZh" or magic == b"PK\x03\x04"


def open_fits(path: Path, what: str):
    """Open ``path`` read-only with every header read; raise if it is not a whole FITS file.

    Astropy drops a truncated last HDU with only a warning; the byte count
    of the HDUs it found is compared with the file's size instead, so a
    truncated or padded file is an error, not a silently shorter exposure.

    Parameters
    ----------
    path : pathlib.Path
        The file.
    what : str
        How to name it in errors (``"exposure"``, ``"IVM file"``...).

    Returns
    -------
    astropy.io.fits.HDUList
        Open read-only; the caller closes it.

    Raises
    ------
    InputError
        If the file is missing, unreadable, truncated, padded, or holds fewer
        extensions than its NEXTEND says.
    """
    if not path.is_file():
        raise InputError(f"{what} '{path}' does not exist.")
    hdul = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # astropy's truncation warnings; reported below instead
            hdul = fits.open(path, mode="readonly", memmap=False, lazy_load_hdus=True)
            hdul.readall()
        # The HDU's own fileinfo: the list's also serialises every header to tell whether one was
        # resized (a third of a mosaic's build went there), which a file opened read-only never is.
        last = hdul[len(hdul) - 1].fileinfo()
        end, size = last["datLoc"] + last["datSpan"], path.stat().st_size
    except Exception as exc:  # astropy raises OSError, ValueError, TypeError... on bad files
        if hdul is not None:
            hdul.close()
        raise InputError(f"{what} '{path}' is not a readable FITS file ({reason(exc)}).") from None
    if end != size and not is_compressed(path):
        hdul.close()
        raise InputError(f"{what} '{path}' is truncated or corrupt (its HDUs span {end} bytes, the file {size}).")
    # A file cut exactly at an HDU boundary has a consistent size; NEXTEND says what it should hold.
    nextend = hdul[0].header.get("NEXTEND")
    if isinstance(nextend, int) and not isinstance(nextend, bool) and nextend > len(hdul) - 1:
        hdul.close()
        raise InputError(f"{what} '{path}' is truncated: its primary header says NEXTEND = {nextend} "
                         f"extensions but the file holds {len(hdul) - 1} (if extensions were removed on "
                         "purpose, set NEXTEND to the number left).")  # fmt: skip
    return hdul
