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

import numpy as np
from astropy.io import fits

__all__ = ["header_text", "base_cards", "parameter_history", "inputs_table"]


def header_text(text) -> str:
    """``text`` as printable ASCII for a FITS header: other characters escaped (``\\xe9``, ``\\u65e5``)."""
    text = str(text)
    if text.isascii() and text.isprintable():
        return text
    escaped = text.encode("ascii", "backslashreplace").decode("ascii")
    # Control characters (a newline in a file name) are not printable either.
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in escaped)


def base_cards(md) -> fits.Header:
    """Fixed-size primary-header cards for every file written: software, backend, date, chip count."""
    import gpudriz

    h = fits.Header()
    h["ORIGIN"] = ("gpudriz", "software that wrote this file")
    h["GPDZVER"] = (gpudriz.__version__, "gpudriz version")
    h["GPDZBACK"] = (md.backend.name if md.backend else "", "gpudriz backend (engine)")
    h["DATE"] = (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
                 "UTC time the file was written")  # fmt: skip
    h["NDRIZIM"] = (len(md.chips), "number of input chips (see the INPUTS table)")
    table = getattr(md, "mdriztab", None)  # gpudriz.pipeline.config.mdriztab.MdriztabSelection (mdriztab=yes)
    if table is not None:
        h["MDRIZTAB"] = (header_text(table.name), "parameter table used (mdriztab=yes)")
        h["MDZTABRW"] = (table.row, "row of the MDRIZTAB used (from 1)")
    return h


def parameter_history(md, header: fits.Header) -> None:
    """Add one HISTORY card per parameter that differs from its default (text escaped to ASCII)."""
    from gpudriz.pipeline.config import parameters as P

    for name, value in md.pars.changed().items():
        header.add_history(header_text(f"gpudriz parameter {name} = {P.format_value(value)}"))


def _text_column(name, values) -> fits.Column:
    """Strings as a fixed-width ``A`` column of UTF-8 bytes: it holds any path."""
    data = [str(v).encode("utf-8", "surrogateescape") for v in values]
    width = max([1] + [len(b) for b in data])
    return fits.Column(name, format=f"{width}A", array=np.array(data, dtype=f"S{width}"))


def inputs_table(md) -> fits.BinTableHDU:
    """The ``INPUTS`` extension: one row per input chip, in the order of the context image.

    Columns: ``FILENAME`` (the file's name) and ``PATH`` (absolute), both
    UTF-8; ``EXTVER`` (the chip's SCI extension), ``ROOTNAME``,
    ``EXPTIME`` (s) and ``MDRIZSKY`` (sky subtracted, electrons).  Row k
    (from 0) is context bit k.
    """
    chips = md.chips
    cols = [
        _text_column("FILENAME", [w.chip.path.name for w in chips]),
        _text_column("PATH", [str(w.chip.path) for w in chips]),
        fits.Column("EXTVER", format="J", array=np.array([w.chip.extver for w in chips], dtype=np.int32)),
        _text_column("ROOTNAME", [w.exposure.rootname for w in chips]),
        fits.Column("EXPTIME", format="D", unit="s", array=np.array([w.chip.exptime for w in chips], float)),
        fits.Column("MDRIZSKY", format="D", unit="electron",
                    array=np.array([round(float(w.sky), 6) for w in chips], float)),  # fmt: skip
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="INPUTS")
    hdu.header["COMMENT"] = "one row per input chip; row k is context bit k; text columns are UTF-8"
    return hdu
