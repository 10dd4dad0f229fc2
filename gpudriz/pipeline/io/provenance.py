"""What the products record about their making: software, parameters and every input chip.

Provenance of the inputs goes into the final product once, as a binary table
extension ``INPUTS`` with one row per input chip (file, chip, rootname,
exposure time, sky subtracted).  Header cards per input (MultiDrizzle's
``D###DATA``, ``D###EXPT``, ``D###SKY``) in every intermediate made each of
the ~5N files grow with N, so run time grew as N^2 (and past 999 chips the
keywords are no longer valid FITS); a table row per chip in one file scales.
Intermediates carry only fixed-size cards (design principle 11).

Paths are data: a table column holds them as UTF-8 bytes, whatever the
characters, and text that goes into a header card (parameters such as
``input`` and ``output``) is escaped to printable ASCII by
:func:`header_text` (``é`` becomes ``\\xe9``), since FITS headers admit
nothing else.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

import numpy as np
from astropy.io import fits

from gpudriz.pipeline.config import parameters as P

__all__ = ["InputRow", "Provenance", "software_version", "header_text", "base_cards", "parameter_history", "inputs_table"]


@dataclass(frozen=True)
class InputRow:
    """One input chip as the ``INPUTS`` table records it (row k is context bit k).

    Attributes
    ----------
    path : Path
        The exposure file.
    extver : int
        The chip's SCI EXTVER.
    rootname : str
    exptime : float
        Seconds.
    sky : float
        Sky subtracted (electrons).
    """

    path: object
    extver: int
    rootname: str
    exptime: float
    sky: float


@dataclass(frozen=True)
class Provenance:
    """What a run records in the files it writes: made by the orchestrator, picklable.

    Attributes
    ----------
    backend : str
        The backend's name ("" before one is chosen).
    nchips : int
        Number of input chips.
    changed : tuple of (str, object)
        The parameters that differ from their defaults, in order.
    mdriztab_name : str or None
        The MDRIZTAB used (``mdriztab=yes``), with its row (from 1).
    mdriztab_row : int or None
    inputs : tuple of InputRow
        Every input chip, for the final product's ``INPUTS`` table.
    """

    backend: str
    nchips: int
    changed: tuple = ()
    mdriztab_name: str | None = None
    mdriztab_row: int | None = None
    inputs: tuple = ()


def header_text(text) -> str:
    """``text`` as printable ASCII for a FITS header: other characters escaped (``\\xe9``, ``\\u65e5``)."""
    text = str(text)
    if text.isascii() and text.isprintable():
        return text
    escaped = text.encode("ascii", "backslashreplace").decode("ascii")
    # Control characters (a newline in a file name) are not printable either.
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in escaped)


@functools.cache  # the installed metadata is looked up once: ~1 ms, paid by every file written
def software_version() -> str:
    """gpudriz's version, as ``gpudriz.__version__`` reads it (installed metadata)."""
    try:
        return version("gpudriz")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def base_cards(prov: Provenance) -> fits.Header:
    """Fixed-size primary-header cards for every file written: software, backend, date, chip count."""
    h = fits.Header()
    h["ORIGIN"] = ("gpudriz", "software that wrote this file")
    h["GPDZVER"] = (software_version(), "gpudriz version")
    h["GPDZBACK"] = (prov.backend, "gpudriz backend (engine)")
    h["DATE"] = (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
                 "UTC time the file was written")  # fmt: skip
    h["NDRIZIM"] = (prov.nchips, "number of input chips (see the INPUTS table)")
    if prov.mdriztab_name is not None:
        h["MDRIZTAB"] = (header_text(prov.mdriztab_name), "parameter table used (mdriztab=yes)")
        h["MDZTABRW"] = (prov.mdriztab_row, "row of the MDRIZTAB used (from 1)")
    return h


def parameter_history(prov: Provenance, header: fits.Header) -> None:
    """Add one HISTORY card per parameter that differs from its default (text escaped to ASCII)."""
    for name, value in prov.changed:
        header.add_history(header_text(f"gpudriz parameter {name} = {P.format_value(value)}"))


def _text_column(name, values) -> fits.Column:
    """Strings as a fixed-width ``A`` column of UTF-8 bytes: it holds any path."""
    data = [str(v).encode("utf-8", "surrogateescape") for v in values]
    width = max([1] + [len(b) for b in data])
    return fits.Column(name, format=f"{width}A", array=np.array(data, dtype=f"S{width}"))


def inputs_table(prov: Provenance) -> fits.BinTableHDU:
    """The ``INPUTS`` extension: one row per input chip, in the order of the context image.

    Columns: ``FILENAME`` (the file's name) and ``PATH`` (absolute), both
    UTF-8; ``EXTVER`` (the chip's SCI extension), ``ROOTNAME``,
    ``EXPTIME`` (s) and ``MDRIZSKY`` (sky subtracted, electrons).  Row k
    (from 0) is context bit k.
    """
    rows = prov.inputs
    cols = [
        _text_column("FILENAME", [r.path.name for r in rows]),
        _text_column("PATH", [str(r.path) for r in rows]),
        fits.Column("EXTVER", format="J", array=np.array([r.extver for r in rows], dtype=np.int32)),
        _text_column("ROOTNAME", [r.rootname for r in rows]),
        fits.Column("EXPTIME", format="D", unit="s", array=np.array([r.exptime for r in rows], float)),
        fits.Column("MDRIZSKY", format="D", unit="electron",
                    array=np.array([round(float(r.sky), 6) for r in rows], float)),  # fmt: skip
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="INPUTS")
    hdu.header["COMMENT"] = "one row per input chip; row k is context bit k; text columns are UTF-8"
    return hdu
