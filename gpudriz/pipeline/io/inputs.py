"""Turn MultiDrizzle's ``input`` parameter into a list of exposure files.

Implements the Initialization step's ``input`` and ``output`` parameters of
the MultiDrizzle manual (section 1.3, Table 2 and section 1.4 "Initialization
Step"): a single image, an association (ASN) table, a wild-card
specification (including the manual's bare-suffix form ``'flt.fits'``), a
comma-separated list, or an ``@file`` list whose optional second column
names each exposure's inverse-variance map (IVM).  No pixel is read here:
files are only checked to exist and to open as FITS.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from astropy.io import fits

from gpudriz.pipeline.io.fits import InputError, open_fits, reason

__all__ = ["InputError", "InputSet", "resolve_inputs", "file_rootname", "DEFAULT_OUTPUT"]

log = logging.getLogger("gpudriz")

#: Output rootname when the input names no product (manual 1.4, "output").
DEFAULT_OUTPUT = "final"

#: Calibrated-exposure suffixes looked for beside an ASN table, best first.
ASN_MEMBER_SUFFIXES = ("_flt.fits", "_flc.fits", "_crj.fits")

# HST file-name suffixes that are not part of a dataset's rootname.
_HST_SUFFIXES = ("flt", "flc", "crj", "crc", "raw", "ima", "cal", "c0m", "c1m", "sfl", "drz", "drc")
_FITS_EXTENSIONS = (".fits.gz", ".fits", ".fit", ".fts")
_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class InputSet:
    """The exposures named by MultiDrizzle's ``input`` parameter.

    Attributes
    ----------
    exposures : list of pathlib.Path
        Absolute paths of the exposure files, in input order.
    ivm : list of pathlib.Path or None
        Inverse-variance map of each exposure (``@file`` second column), same
        length as ``exposures``; None where none was given.
    output : str
        Rootname of the drizzled products.
    asn : pathlib.Path or None
        The association table, when the input was one.
    """

    exposures: list[Path]
    ivm: list[Path | None]
    output: str
    asn: Path | None


def file_rootname(path) -> str:
    """Rootname of a file name: without the FITS extension and an HST suffix.

    ``j8cw03a1q_flt.fits`` gives ``j8cw03a1q``; ``image_1.fits`` stays
    ``image_1`` (only the calibrated-product suffixes ``_flt``, ``_flc``,
    ``_crj``, ``_raw``, ``_drz``... are removed).

    Parameters
    ----------
    path : str or os.PathLike
        A file name, with or without folders.

    Returns
    -------
    str
        The rootname.
    """
    name = Path(path).name
    for ext in _FITS_EXTENSIONS:
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
            break
    stem, sep, suffix = name.rpartition("_")
    if sep and stem and suffix.lower() in _HST_SUFFIXES:
        return stem
    return name


def _output_rootname(output) -> str:
    """Validate a user's ``output``; a ``.fits`` (or ``_drz.fits``) ending is dropped."""
    if not isinstance(output, (str, os.PathLike)):
        raise InputError(f"'output' must be a rootname string such as 'final'; got {output!r}.")
    root = os.fspath(output).strip()
    if root.lower().endswith(".fits"):
        root = root[:-5]
        for suffix in ("_drz", "_drc"):
            if root.lower().endswith(suffix):
                root = root[: -len(suffix)]
    if not root or root.endswith(("/", os.sep)):
        raise InputError(f"'output' must be a rootname such as 'final'; got {output!r}.")
    return root


_EXTENSION = re.compile(r"^(?P<file>.+?)\[(?P<ext>[^\[\]]*)\]$")


def split_extension(spec: str, what: str):
    """Split ``"name.fits[ext]"`` into ``(file, ext)``.

    ``ext`` is an int (``[1]``), an EXTNAME (``[sci]``), ``(EXTNAME, EXTVER)``
    (``[sci,1]``) or None without brackets, or when a file of that exact name
    exists (brackets are legal in file names).

    Parameters
    ----------
    spec : str
        The name as the user gave it.
    what : str
        How to name it in the error, e.g. ``"'refimage' 'x.fits[a,b]'"``.

    Raises
    ------
    InputError
        If the brackets hold none of the accepted forms.
    """
    spec = spec.strip()
    m = _EXTENSION.match(spec)
    if m is None or os.path.exists(spec):
        return spec, None
    parts = [t.strip() for t in m["ext"].split(",")]
    if len(parts) == 1 and parts[0].isdigit():
        return m["file"], int(parts[0])
    if len(parts) == 1 and parts[0]:
        return m["file"], parts[0]
    if len(parts) == 2 and parts[0] and parts[1].isdigit():
        return m["file"], (parts[0], int(parts[1]))
    raise InputError(f"{what} names the extension [{m['ext']}]; expected [N], [EXTNAME] or [EXTNAME,VER].")


def _absolute(name: str, base: Path) -> Path:
    p = Path(os.path.expanduser(name))
    return Path(os.path.abspath(p if p.is_absolute() else base / p))


def _check_fits(path: Path, what: str) -> bool:
    """Raise unless ``path`` is an existing, whole FITS file.

    Returns whether the file holds an ``ASN`` table extension (an association).
    """
    with open_fits(path, what) as hdul:
        return any(h.name == "ASN" and isinstance(h, fits.BinTableHDU) for h in hdul[1:])


def _is_asn_name(path: Path) -> bool:
    return path.name.lower().endswith("_asn.fits")


def _present(value) -> bool:
    """MEMPRSNT is a FITS logical, or 'yes'/'no' text in hand-made tables."""
    if isinstance(value, (bytes, str)):
        text = value.decode() if isinstance(value, bytes) else value
        return text.strip().lower() in ("yes", "y", "t", "true", "1")
    return bool(value)


def _asn_member_file(folder: Path, memname: str, table: Path) -> Path:
    root = memname.lower()
    for suffix in ASN_MEMBER_SUFFIXES:
        candidate = folder / f"{root}{suffix}"
        if candidate.is_file():
            return candidate
    tried = ", ".join(f"{root}{s}" for s in ASN_MEMBER_SUFFIXES)
    raise InputError(f"association '{table}' lists member {memname} but none of {tried} exists in '{folder}'.")


def _read_asn(table: Path) -> tuple[list[Path], str]:
    """Present exposure members and the product rootname of an ASN table.

    The product is the ``PROD-DTH`` row (the dither product MultiDrizzle
    makes), else the first row whose MEMTYPE starts with ``PROD``, else the
    table's own rootname (its file name without ``_asn.fits``).
    """
    try:
        with fits.open(table, memmap=False) as hdul:
            if "ASN" not in hdul:
                raise InputError(f"association '{table}' has no 'ASN' table extension.")
            data = hdul["ASN"].data
            names = [] if data is None else [n.upper() for n in data.columns.names]
            for col in ("MEMNAME", "MEMTYPE", "MEMPRSNT"):
                if col not in names:
                    raise InputError(f"association '{table}' has no {col} column in its ASN table.")
            rows = [] if data is None else [
                (str(r["MEMNAME"]).strip(), str(r["MEMTYPE"]).strip().upper(), _present(r["MEMPRSNT"]))
                for r in data
            ]  # fmt: skip
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"association '{table}' is not a readable FITS table ({reason(exc)}).") from None

    members = [
        _asn_member_file(table.parent, name, table)
        for name, mtype, present in rows
        if mtype.startswith("EXP") and present and name
    ]
    if not members:
        raise InputError(f"association '{table}' has no present exposure (MEMTYPE EXP-*, MEMPRSNT yes) member.")
    products = [name for name, mtype, _ in rows if mtype.startswith("PROD") and name]
    dither = [name for name, mtype, _ in rows if mtype == "PROD-DTH" and name]
    if dither:
        product = dither[0].lower()
    elif products:
        product = products[0].lower()
    else:
        product = table.name[: -len("_asn.fits")] if _is_asn_name(table) else file_rootname(table)
    return members, product


def _match_pattern(pattern: str, base: Path) -> list[Path]:
    """Files matching a wild card, sorted by name; ASN tables are left out."""
    full = str(_absolute(pattern, base))
    found = sorted(Path(p) for p in glob.glob(full) if os.path.isfile(p))
    tables = [p for p in found if _is_asn_name(p)]
    if tables:
        log.info("input pattern '%s': leaving out association table(s) %s", pattern,
                 ", ".join(p.name for p in tables))  # fmt: skip
    found = [p for p in found if not _is_asn_name(p)]
    if not found:
        raise InputError(f"input pattern '{pattern}' matches no file in '{Path(full).parent}'.")
    return found


def _match_suffix(name: str, base: Path) -> list[Path]:
    """The manual's bare-suffix form: every file in the folder whose name ends with it."""
    target = _absolute(name, base)
    folder, suffix = target.parent, target.name
    found = []
    if folder.is_dir():
        found = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(suffix))
    if not found:
        raise InputError(
            f"input '{name}' not found: no such file in '{folder}', and no file there ends with '{suffix}'."
        )
    return found


def _resolve_item(item: str, base: Path) -> tuple[list[Path], str, Path | None]:
    """One file, ASN table, pattern or suffix: (exposures, product name, ASN path).

    The product name is the ASN's product, a single file's rootname, or
    :data:`DEFAULT_OUTPUT` for a pattern or suffix.
    """
    if _GLOB_CHARS.search(item):
        return _match_pattern(item, base), DEFAULT_OUTPUT, None
    path = _absolute(item, base)
    if path.is_dir():
        raise InputError(f"input '{item}' is a folder; expected a FITS file, a pattern or an @file.")
    if not path.is_file():
        return _match_suffix(item, base), DEFAULT_OUTPUT, None
    if _check_fits(path, "input file") or _is_asn_name(path):
        members, product = _read_asn(path)
        return members, product, path
    return [path], file_rootname(path), None


def _read_list_file(listfile: Path, base: Path, check: bool = True) -> tuple[list[Path], list[Path | None]]:
    """Exposures and IVMs named by an ``@file`` (the exposures opened and checked when ``check``).

    A relative name is looked up beside the list first, then in ``base``
    (the working folder), so lists written either way work.
    """
    if not listfile.is_file():
        raise InputError(f"input list '@{listfile}' does not exist.")
    try:
        lines = listfile.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"input list '@{listfile}' cannot be read as text ({reason(exc)}).") from None

    def locate(name: str) -> Path:
        beside = _absolute(name, listfile.parent)
        return beside if beside.exists() else _absolute(name, base)

    exposures: list[Path] = []
    ivms: list[Path | None] = []
    for number, line in enumerate(lines, start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) > 2:
            raise InputError(
                f"input list '{listfile}' line {number} has {len(fields)} columns; "
                "expected an exposure and at most one IVM file."
            )
        exposure = locate(fields[0])
        if not exposure.is_file():
            raise InputError(f"input list '{listfile}' line {number}: exposure '{fields[0]}' does not exist.")
        if _is_asn_name(exposure):
            raise InputError(
                f"input list '{listfile}' line {number} names association table '{fields[0]}'; "
                "list lines name exposures."
            )
        if check:
            _check_fits(exposure, "exposure")
        ivm = None
        if len(fields) == 2:
            ivm = locate(fields[1])
            if not ivm.is_file():
                raise InputError(f"input list '{listfile}' line {number}: IVM file '{fields[1]}' does not exist.")
            _check_fits(ivm, "IVM file")
        exposures.append(exposure)
        ivms.append(ivm)
    if not exposures:
        raise InputError(f"input list '{listfile}' names no exposure.")
    return exposures, ivms


def _check_duplicates(paths, what: str) -> None:
    seen: dict[Path, Path] = {}
    for p in paths:
        if p is None:
            continue
        key = p.resolve()
        if key in seen:
            raise InputError(f"{what} '{p}' is given more than once.")
        seen[key] = p


def resolve_inputs(input, *, output=None, cwd=None, check_listed=True) -> InputSet:
    """Resolve MultiDrizzle's ``input`` parameter into exposure files.

    ``input`` takes any form of the manual (section 1.4, "input"):

    - a single FITS file (``'j8cw03a1q_flt.fits'``);
    - an association table (``'j8cw030x0_asn.fits'``, or any FITS file with
      an ``ASN`` BINTABLE extension): members whose MEMTYPE starts with
      ``EXP`` and that are present (MEMPRSNT) become
      ``<memname lower>_flt.fits`` beside the table, or ``_flc.fits`` /
      ``_crj.fits`` where only those exist;
    - a wild-card pattern (``'*flt.fits'``, ``'data/j8*_flt.fits'``), matched
      files sorted by name, association tables among them left out;
    - the manual's bare suffix (``'flt.fits'``, the parameter's default): when
      no file of that name exists, every file of the folder whose name ends
      with it;
    - a comma-separated list of any of the above (also a Python list);
    - ``'@file'``: a text file naming one exposure per line, optionally
      followed by its inverse-variance map (IVM); blank lines and ``#``
      comments are ignored.

    Relative names are taken from ``cwd`` (an ``@file``'s lines from beside
    the list first, then from ``cwd``).

    The output rootname (manual 1.4, "output") is ``output`` when given (a
    trailing ``.fits`` or ``_drz.fits`` is dropped); otherwise, for an
    association table, the product it names (the ``PROD-DTH`` row, else the
    first ``PROD-*`` row, else the table's rootname), lower case; for a single
    exposure, that exposure's rootname (``j8cw03a1q_flt.fits`` gives
    ``j8cw03a1q``); for every other form, ``'final'``.

    Parameters
    ----------
    input : str, os.PathLike or sequence of those
        The input specification.
    output : str, optional
        Rootname of the drizzled products.
    cwd : str or os.PathLike, optional
        Folder for relative names; the current folder by default.
    check_listed : bool, optional
        Open every exposure an ``@file`` names to check that it is a whole
        FITS file (True, the default).  The pipeline's initialization reads
        each exposure next with the same checks (:func:`gpudriz.pipeline.io.fits.open_fits`)
        and passes False: opening a thousand files twice was a fifth of a
        mosaic's build.

    Returns
    -------
    InputSet
        Exposures (absolute paths, input order), their IVMs, the output
        rootname and the ASN table when there was one.

    Raises
    ------
    InputError
        A missing file, a pattern or suffix matching nothing, an association
        with no present member, an unreadable FITS file, an ``@file`` line
        with more than two columns, a missing IVM file, or a file given twice;
        the message names the path.
    """
    base = Path(os.path.abspath(os.getcwd() if cwd is None else os.fspath(cwd)))
    if not base.is_dir():
        raise InputError(f"'cwd' must be an existing folder; got '{cwd}'.")

    if isinstance(input, (list, tuple)):
        items = [os.fspath(i) if isinstance(i, os.PathLike) else i for i in input]
    elif isinstance(input, (str, os.PathLike)):
        items = [os.fspath(input)]
    else:
        raise InputError(f"'input' must be a file name, pattern, list or @file; got {input!r}.")
    if any(not isinstance(i, str) for i in items):
        raise InputError(f"'input' must hold file names (strings); got {input!r}.")
    if len(items) == 1 and not items[0].strip().startswith("@"):
        items = items[0].split(",")
    items = [i.strip() for i in items]
    if not items or any(not i for i in items):
        raise InputError(f"'input' must not be empty or hold empty names; got {input!r}.")

    exposures: list[Path] = []
    ivms: list[Path | None] = []
    product = None
    asn = None
    if len(items) == 1 and items[0].startswith("@"):
        listname = items[0][1:].strip()
        if not listname:
            raise InputError("'input' '@' must be followed by the name of a list file.")
        exposures, ivms = _read_list_file(_absolute(listname, base), base, check_listed)
    else:
        for item in items:
            if item.startswith("@"):
                raise InputError(f"'input' '{item}': an @file list must be the whole input, not part of a list.")
            found, item_product, item_asn = _resolve_item(item, base)
            exposures.extend(found)
            ivms.extend([None] * len(found))
            if len(items) == 1:
                product, asn = item_product, item_asn
        for p in exposures:
            _check_fits(p, "exposure")
    _check_duplicates(exposures, "exposure")
    _check_duplicates(ivms, "IVM file")

    root = _output_rootname(output) if output is not None else (product or DEFAULT_OUTPUT)
    return InputSet(exposures=exposures, ivm=ivms, output=root, asn=asn)
