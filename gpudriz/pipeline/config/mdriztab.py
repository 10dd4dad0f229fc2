"""MultiDrizzle's MDRIZTAB: parameters read from a reference table (``mdriztab=yes``).

The manual (section 1.3, "Reference files: IDCTAB and MDRIZTAB"): the primary
header of every calibrated exposure names an MDRIZTAB, e.g.
``MDRIZTAB = jref$wfc_smov_mdz.fits``, where ``jref`` is an environment
variable holding the folder of the reference files.  With ``mdriztab=yes``
"the values in the table will override the settings for the remainder of
the parameters".

The table (STScI's ``*_mdz.fits``) is a FITS binary table with a ``filter``
column, a ``numimages`` column and one column per MultiDrizzle parameter,
named as the parameter.  One row is selected, as STScI's pipeline does:

1. the filter name of the data: the filter keywords of the first exposure's
   primary header (ACS: FILTER1 and FILTER2), blank ones left out, joined by
   commas (``F606W,CLEAR2L``);
2. the rows whose ``filter`` is that name; where there are none, the rows
   whose ``filter`` is the name without its CLEAR elements (``F606W``), then
   the rows for ``ANY``;
3. of those, the last row whose ``numimages`` does not exceed the number of
   input exposures (tables list each filter's rows by increasing
   ``numimages``).

A filter whose rows all need more images falls through to the next name
(ending with ``ANY``); where no row is left, the error names the filter and
the number of images (STScI's code silently takes the table's first row).

Cells are read as the parameters' own values: blank text, NaN and IRAF's
integer INDEF (-2147483647) mean INDEF; integer 0/1 in a yes/no column means
no/yes; a logical ``coeffs`` (AstroDrizzle's tables) means ``header`` (yes)
or ``none`` (no).  The MultiDrizzle column names ``subsky``, ``crbitval``
and ``readnoise`` stand for ``skysub``, ``crbit`` and ``rdnoise``.  Columns
that name no gpudriz parameter (``driz_sep_bits``, ``final_bits``...) are
ignored and logged; the table never sets ``input``, ``output``,
``mdriztab`` or ``backend``.
"""

from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from gpudriz.pipeline.config import parameters as P
from gpudriz.pipeline.io.fits import InputError, open_fits, reason

__all__ = [
    "COLUMN_ALIASES",
    "PROTECTED",
    "MdriztabSelection",
    "filter_names",
    "read_mdriztab",
    "resolve_table_name",
    "row_values",
    "select_row",
]

log = logging.getLogger("gpudriz")

#: Header keyword naming the table.
KEYWORD = "MDRIZTAB"

#: Parameters a table never sets: they say what to process and how to run it.
PROTECTED = frozenset({"input", "output", "mdriztab", "backend"})

#: MultiDrizzle's column names that differ from the parameter names.
COLUMN_ALIASES = {"subsky": "skysub", "crbitval": "crbit", "readnoise": "rdnoise"}

#: Columns used to select the row, not parameters.
SELECTION_COLUMNS = ("filter", "numimages")

#: Filter keywords of the primary header, by INSTRUME (STScI's list).
FILTER_KEYWORDS = {
    "ACS": ("FILTER1", "FILTER2"),
    "WFPC2": ("FILTNAM1", "FILTNAM2"),
    "STIS": ("OPT_ELEM", "FILTER"),
    "NICMOS": ("FILTER", "FILTER2"),
    "WFC3": ("FILTER", "FILTER2"),
}
_GENERIC_FILTER_KEYWORDS = ("FILTER", "FILTER1", "FILTER2")

#: The filter name of rows that serve any filter.
ANY_FILTER = "ANY"

#: IRAF's INDEF for 32-bit integer columns.
INDEF_INT = -2147483647

# "jref$name" (IRAF), and "$jref/name" / "${jref}/name" (shell).
_IRAF_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\$(.*)", re.DOTALL)
_SHELL_NAME = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))(.*)",
                         re.DOTALL)  # fmt: skip


@dataclass(frozen=True)
class MdriztabSelection:
    """The MDRIZTAB row chosen for a set of exposures.

    Attributes
    ----------
    name : str
        The table as the header names it (``jref$wfc_smov_mdz.fits``).
    path : pathlib.Path
        The table file.
    row : int
        The row used, counted from 1 as in FITS.
    filter : str
        The row's ``filter`` cell.
    numimages : int
        The row's ``numimages`` cell.
    nimages : int
        Number of input exposures the row was chosen for.
    values : dict
        ``{parameter: canonical value}`` the row sets, in the table's order.
    unused : list of str
        Columns that name no parameter gpudriz has (ignored).
    """

    name: str
    path: Path
    row: int
    filter: str
    numimages: int
    nimages: int
    values: dict = field(default_factory=dict)
    unused: list = field(default_factory=list)


# --- the table's file ---------------------------------------------------------------


def _environment(var: str) -> str | None:
    """The variable's value: its own spelling first, then lower and upper case."""
    for key in dict.fromkeys((var, var.lower(), var.upper())):
        value = os.environ.get(key)
        if value:
            return value
    return None


def resolve_table_name(name: str, *, workdir, source="the header") -> Path:
    """Return the file an MDRIZTAB keyword value names.

    Parameters
    ----------
    name : str
        The keyword value: ``jref$name`` (IRAF: the folder is the environment
        variable ``jref``; ``jref$/name`` too), ``$jref/name`` or
        ``${jref}/name``, or a plain path.
    workdir : str or os.PathLike
        Folder of relative paths (the run's workdir).
    source : str
        Where the name was read, quoted in errors.

    Returns
    -------
    pathlib.Path
        An absolute path (not checked to exist).

    Raises
    ------
    InputError
        If the name is blank or its environment variable is not set.
    """
    text = str(name).strip()
    if not text:
        raise InputError(f"the MDRIZTAB keyword in {source} is blank: it names no table.")
    match = _IRAF_NAME.fullmatch(text)
    if match:
        var, rest = match.group(1), match.group(2)
    else:
        match = _SHELL_NAME.fullmatch(text)
        var, rest = ((match.group(1) or match.group(2)), match.group(3)) if match else (None, text)
    if var is not None:
        folder = _environment(var)
        if folder is None:
            raise InputError(
                f"MDRIZTAB '{text}' in {source} needs the environment variable '{var}' "
                f"(the folder of the reference files), which is not set."
            )
        # IRAF folders end with '/', shell ones often not: join either way.
        path = Path(os.path.expanduser(folder)) / rest.lstrip("/\\")
    else:
        path = Path(os.path.expanduser(text))
    if not path.is_absolute():
        path = Path(workdir) / path
    return Path(os.path.abspath(path))


def _read_table(path: Path, name: str, source: str) -> Table:
    """The first table extension of ``path``, with its selection columns checked."""
    where = f"MDRIZTAB = '{name}' in {source}"
    try:
        hdul = open_fits(path, "MDRIZTAB table")
    except InputError as exc:
        raise InputError(f"{str(exc).rstrip('.')} ({where}).") from None
    with hdul:
        index = next((k for k, hdu in enumerate(hdul)
                      if isinstance(hdu, (fits.BinTableHDU, fits.TableHDU))), None)  # fmt: skip
        if index is None:
            raise InputError(
                f"MDRIZTAB table '{path}' holds no table extension ({where}); an MDRIZTAB is a "
                "FITS table with 'filter', 'numimages' and one column per parameter."
            )
        try:
            table = Table.read(hdul, hdu=index, format="fits")
        except Exception as exc:  # astropy raises many kinds on malformed tables
            raise InputError(
                f"MDRIZTAB table '{path}' cannot be read as a table ({reason(exc)})."
            ) from None
    columns = {c.strip().lower() for c in table.colnames}
    for needed in SELECTION_COLUMNS:
        if needed not in columns:
            raise InputError(
                f"MDRIZTAB table '{path}' has no '{needed}' column, so it is not an MDRIZTAB "
                "(a table with 'filter', 'numimages' and one column per parameter)."
            )
    return table


def _column(table: Table, name: str):
    return next(table[c] for c in table.colnames if c.strip().lower() == name)


# --- row selection ---------------------------------------------------------------------


def filter_names(header) -> list[str]:
    """Return the filter names to look for in an MDRIZTAB, best first.

    The filter keywords of ``header`` (by INSTRUME, as in
    `FILTER_KEYWORDS`; FILTER, FILTER1, FILTER2 for other instruments),
    blank ones left out, joined by commas in upper case; then the same
    without CLEAR elements and N/A (when that differs and is not empty);
    then ``ANY``.

    Parameters
    ----------
    header : astropy.io.fits.Header or mapping
        The first exposure's primary header.

    Returns
    -------
    list of str

    Examples
    --------
    >>> filter_names({"INSTRUME": "ACS", "FILTER1": "F606W", "FILTER2": "CLEAR2L"})
    ['F606W,CLEAR2L', 'F606W', 'ANY']
    """
    instrument = str(header.get("INSTRUME", "")).strip().upper()
    keys = FILTER_KEYWORDS.get(instrument, _GENERIC_FILTER_KEYWORDS)
    elements = []
    for key in keys:
        value = header.get(key)
        if isinstance(value, str) and value.strip():
            elements.append(value.strip().upper())
    names = []
    if elements:
        names.append(",".join(elements))
    kept = [e for e in elements if not e.startswith("CLEAR") and e != "N/A"]
    if kept and kept != elements:
        names.append(",".join(kept))
    if ANY_FILTER not in names:
        names.append(ANY_FILTER)
    return names


def _normal_filter(cell) -> str:
    """A table's filter cell in the form `filter_names` returns."""
    value = _cell(cell)
    if value is None:
        return ""
    return ",".join(part.strip() for part in str(value).upper().split(","))


def select_row(table: Table, names, nimages: int) -> int | None:
    """Return the index of the row to use, or None.

    For each filter name in turn, the last row with that ``filter`` whose
    ``numimages`` is at most ``nimages``; the first name with such a row wins.

    Parameters
    ----------
    table : astropy.table.Table
        The MDRIZTAB (``filter`` and ``numimages`` columns, any case).
    names : list of str
        Filter names, best first (see `filter_names`).
    nimages : int
        Number of input exposures.

    Returns
    -------
    int or None
        Row index (from 0), None when no row fits.
    """
    filters = [_normal_filter(v) for v in _column(table, "filter")]
    counts = [_cell(v) for v in _column(table, "numimages")]
    for name in names:
        rows = [i for i, (f, n) in enumerate(zip(filters, counts))
                if f == name and isinstance(n, (int, float)) and n <= nimages]  # fmt: skip
        if rows:
            return rows[-1]
    return None


# --- cell values ---------------------------------------------------------------------------


def _cell(value):
    """A table cell as a plain Python value; INDEF cells (masked, blank, NaN, INDEF_INT) as None."""
    if value is np.ma.masked:
        return None
    if isinstance(value, np.ma.MaskedArray):
        if value.mask.any():
            return None
        value = value.data
    if isinstance(value, np.ndarray):
        return [_cell(v) for v in value]  # a vector cell, e.g. combine_nsigma as two numbers
    if isinstance(value, np.floating) and value.dtype.itemsize < 8:
        # Tables store single precision ('E'): 0.7 is read as 0.699999988; the
        # shortest decimal that gives the same float32 is the value meant.
        value = float(np.format_float_positional(value, unique=True, trim="-"))
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value == INDEF_INT:
        return None
    return value


def _as_parameter_value(name: str, value):
    """Table conventions that differ from the parameters' own (see the module docstring)."""
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if P.PARAMETERS[name].kind == "bool" and is_int and value in (0, 1):
        return bool(value)
    if name == "coeffs" and isinstance(value, bool):
        return "header" if value else "none"
    return value


def row_values(table: Table, index: int, path) -> tuple[dict, list]:
    """Return the parameter values of one row and the columns left unused.

    Parameters
    ----------
    table : astropy.table.Table
    index : int
        Row index (from 0).
    path : str or os.PathLike
        The table's file, quoted in errors.

    Returns
    -------
    values : dict
        ``{parameter: canonical value}``, `PROTECTED` parameters left out.
    unused : list of str
        Columns that name no parameter.

    Raises
    ------
    gpudriz.pipeline.config.parameters.ParameterError
        For a cell the parameter does not accept, naming the table, the row
        (from 1) and the column.
    """
    values, unused = {}, []
    for column in table.colnames:
        key = column.strip().lower()
        if key in SELECTION_COLUMNS:
            continue
        try:
            name = P.canonical_name(COLUMN_ALIASES.get(key, key))
        except P.UnknownParameterError:
            unused.append(column)
            continue
        if name in PROTECTED:
            continue
        value = _as_parameter_value(name, _cell(table[column][index]))
        if value is None:
            value = "INDEF"  # so that an error quotes the cell as the user knows it
        try:
            values[name] = P.validate(name, value)
        except P.ParameterError as exc:
            raise P.ParameterError(
                f"MDRIZTAB '{path}', row {index + 1}, column '{column}': {exc}"
            ) from None
    return values, unused


# --- all together ------------------------------------------------------------------------------


def read_mdriztab(exposures, *, workdir) -> MdriztabSelection:
    """Read the MDRIZTAB of a set of exposures and return the row that fits them.

    Parameters
    ----------
    exposures : list of str or os.PathLike
        The input exposures, in input order (the first one's primary header
        names the table and gives the filter).
    workdir : str or os.PathLike
        Folder of a relative table path.

    Returns
    -------
    MdriztabSelection

    Raises
    ------
    InputError
        No exposure, no MDRIZTAB keyword, its environment variable not set,
        the table missing, unreadable or not an MDRIZTAB, or no row for the
        data's filter and number of images.
    gpudriz.pipeline.config.parameters.ParameterError
        A cell of the chosen row that its parameter does not accept.
    """
    exposures = [Path(e) for e in exposures]
    if not exposures:
        raise InputError("mdriztab = yes needs at least one input exposure to name the MDRIZTAB.")
    first = exposures[0]
    try:
        header = fits.getheader(first, 0)
    except Exception as exc:  # the inputs were checked already; this is a race or a bad file
        raise InputError(
            f"exposure '{first}' is not a readable FITS file ({reason(exc)})."
        ) from None
    source = f"the primary header of '{first}'"
    if KEYWORD not in header:
        raise InputError(
            f"mdriztab = yes, but {source} has no MDRIZTAB keyword naming the parameter table."
        )
    name = str(header[KEYWORD]).strip()
    path = resolve_table_name(name, workdir=workdir, source=source)
    table = _read_table(path, name, source)
    names = filter_names(header)
    nimages = len(exposures)
    index = select_row(table, names, nimages)
    if index is None:
        wanted = " or ".join(repr(n) for n in names)
        raise InputError(
            f"MDRIZTAB table '{path}' has no row for filter {wanted} with numimages at most "
            f"{nimages} (the number of input exposures)."
        )
    values, unused = row_values(table, index, path)
    if unused:
        log.info("mdriztab: columns of %s that name no gpudriz parameter, ignored: %s.", path.name,
                 ", ".join(unused))  # fmt: skip
    return MdriztabSelection(
        name=name, path=path, row=index + 1, filter=_normal_filter(_column(table, "filter")[index]),
        numimages=int(_cell(_column(table, "numimages")[index])), nimages=nimages, values=values,
        unused=unused,
    )  # fmt: skip
