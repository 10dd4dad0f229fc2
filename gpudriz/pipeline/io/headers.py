"""Header keywords of an exposure: the manual's overrides, chip selection and units.

The Initialization step (MultiDrizzle manual, section 1.4) reads gain, read
noise, exposure time and units from the headers unless the user overrides
them (``gain``/``gnkeyword``, ``rdnoise``/``rnkeyword``,
``exptime``/``expkeyword``, ``crbit``) and keeps the chips ``group``
selects.  Keywords are looked up in the ``SCI`` header, then the primary
header, as INHERIT does.  :mod:`gpudriz.pipeline.io.instruments` puts it
together into chips.
"""

from __future__ import annotations

import logging
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from astropy.io import fits

from gpudriz.backend.validate import check_sign, finite_real, is_bool
from gpudriz.pipeline.io.fits import InputError

__all__ = [
    "DEFAULT_CRBIT",
    "OVERRIDE_KEYS",
    "OVERRIDE_ALIASES",
    "UNITS",
    "BUNITS",
    "UINT32_MAX",
    "ChipHeaders",
    "override_number",
    "flag_bits",
    "parse_overrides",
    "parse_group",
    "header_value",
    "keyword_number",
    "finite_or_none",
    "keyword_text",
    "chip_units",
]

log = logging.getLogger("gpudriz")

#: DQ flag that marks cosmic rays in ACS and WFC3 data (manual, "crbit").
DEFAULT_CRBIT = 4096


#: The manual's instrument overrides accepted in ``overrides``.
OVERRIDE_KEYS = ("gain", "gnkeyword", "rdnoise", "rnkeyword", "exptime", "expkeyword", "crbit")


#: Other spellings accepted in ``overrides`` (section 1.4 says ``gainkeyword``).
OVERRIDE_ALIASES = {"gainkeyword": "gnkeyword"}


#: Units a chip's data can be in.
UNITS = ("electrons", "counts", "electrons/s", "counts/s")


#: BUNIT spellings (upper case, blanks removed) and the units they mean.
BUNITS = {
    "ELECTRONS": "electrons", "ELECTRON": "electrons", "E-": "electrons", "E": "electrons",
    "COUNTS": "counts", "COUNT": "counts", "DN": "counts", "ADU": "counts",
    "ELECTRONS/S": "electrons/s", "ELECTRONS/SEC": "electrons/s", "ELECTRON/S": "electrons/s",
    "E-/S": "electrons/s", "E/S": "electrons/s",
    "COUNTS/S": "counts/s", "COUNTS/SEC": "counts/s", "COUNT/S": "counts/s", "DN/S": "counts/s",
    "ADU/S": "counts/s",
}  # fmt: skip


#: Largest DQ flag sum (DQ arrays are read as uint32).
UINT32_MAX = 2**32 - 1


@dataclass(frozen=True)
class ChipHeaders:
    """What the instrument model of one chip is computed from."""

    path: Path
    primary: fits.Header
    sci: fits.Header
    extver: int
    shape: tuple[int, int]
    instrument: str
    detector: str


def override_number(value, name, *, positive=False, nonnegative=False) -> float:
    """An override's number (numeric text accepted) as a float, or raise naming ``name``.

    Raises
    ------
    InputError
        If it is not a finite number, or not positive / non-negative when required.
    """
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise InputError(f"'{name}' must be a number; got {value!r}.") from None
    v = finite_real(value)
    if v is None:
        raise InputError(f"'{name}' must be a finite number; got {value!r}.")
    try:
        return check_sign(v, name, positive=positive, nonnegative=nonnegative)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def flag_bits(value, name) -> int:
    """A sum of DQ bit values (an integer, or its digits as text) in the uint32 range, or raise naming ``name``."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if is_bool(value) or not isinstance(value, numbers.Integral):
        raise InputError(f"'{name}' must be an integer sum of DQ bit values; got {value!r}.")
    if not 0 <= int(value) <= UINT32_MAX:
        raise InputError(f"'{name}' must be between 0 and {UINT32_MAX}; got {value}.")
    return int(value)


def parse_overrides(overrides) -> dict:
    """Validated overrides; None and blank values mean "not given"."""
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise InputError(f"'overrides' must be a mapping of parameter names to values; got {overrides!r}.")
    overrides = {OVERRIDE_ALIASES.get(k, k): v for k, v in overrides.items()}
    unknown = sorted(set(overrides) - set(OVERRIDE_KEYS), key=str)
    if unknown:
        names = ", ".join(map(repr, unknown))
        raise InputError(f"unknown override(s) {names}; expected some of {', '.join(OVERRIDE_KEYS)}.")
    given = {k: v for k, v in overrides.items() if v is not None and not (isinstance(v, str) and not v.strip())}
    for value_key, keyword_key in (("gain", "gnkeyword"), ("rdnoise", "rnkeyword"), ("exptime", "expkeyword")):
        if value_key in given and keyword_key in given:
            raise InputError(f"give either '{value_key}' or '{keyword_key}', not both.")
    out = {}
    for key, value in given.items():
        if key.endswith("keyword"):
            if not isinstance(value, str):
                raise InputError(f"'{key}' must be a header keyword name; got {value!r}.")
            out[key] = value.strip().upper()
        elif key == "crbit":
            out[key] = flag_bits(value, key)
        elif key == "rdnoise":
            out[key] = override_number(value, key, nonnegative=True)
        else:
            out[key] = override_number(value, key, positive=True)
    return out


def parse_group(group) -> list[int] | None:
    """Chip numbers (SCI EXTVERs) selected by ``group``; None selects all.

    Accepts an int, ``"1"``, ``"sci,1"``, ``"1,2"``, ``"sci,1,sci,2"`` or a
    list of those.  A bare number is the chip number (SCI EXTVER), as in
    AstroDrizzle: for ACS/WFC ``1`` is ``SCI,1`` and ``2`` is ``SCI,2``.
    """
    if group is None:
        return None
    if isinstance(group, (list, tuple)):
        parts = list(group)
    else:
        parts = [group]
    tokens: list = []
    for part in parts:
        if is_bool(part):
            raise InputError(f"'group' must be a chip number or 'sci,N'; got {group!r}.")
        if isinstance(part, numbers.Integral):
            tokens.append(int(part))
        elif isinstance(part, str):
            tokens.extend(t for t in re.split(r"[,\s\[\]()]+", part) if t)
        else:
            raise InputError(f"'group' must be a chip number or 'sci,N'; got {group!r}.")
    if not tokens:
        return None
    chips: list[int] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if isinstance(tok, str) and not tok.isdigit():
            if tok.upper() != "SCI" or i + 1 >= len(tokens) or not str(tokens[i + 1]).isdigit():
                raise InputError(f"'group' must be a chip number or 'sci,N'; got {group!r}.")
            i += 1
            tok = tokens[i]
        n = int(tok)
        if n < 1:
            raise InputError(f"'group' chip numbers start at 1; got {group!r}.")
        if n not in chips:
            chips.append(n)
        i += 1
    return chips


def header_value(key, *headers):
    """First value of ``key`` in the headers (SCI before primary, as INHERIT does)."""
    for h in headers:
        if key in h:
            return h[key]
    return None


def keyword_number(key, path, headers, *, positive=False, nonnegative=False, why="") -> float:
    """The number in keyword ``key`` of the first of ``headers`` holding it, or raise naming ``path``.

    ``why`` ends the message of a missing keyword (what it is for, what to pass instead).
    """
    value = header_value(key, *headers)
    if value is None:
        raise InputError(f"'{path}' has no {key} keyword{why}.")
    if finite_real(value) is None:
        raise InputError(f"keyword {key} of '{path}' is {value!r}; expected a number.")
    v = float(value)
    if positive and not v > 0.0:
        raise InputError(f"keyword {key} of '{path}' is {v}; expected a positive number.")
    if nonnegative and not v >= 0.0:
        raise InputError(f"keyword {key} of '{path}' is {v}; expected a non-negative number.")
    return v


def finite_or_none(value) -> float | None:
    """A header value as a float when it is a finite number, else None."""
    return finite_real(value)


def keyword_text(header, key) -> str:
    """A text keyword, stripped and upper case (\"\" when absent)."""
    value = header.get(key, "")
    return str(value).strip().upper() if value is not None else ""


def chip_units(ctx, default) -> tuple[str, str]:
    """``(units, BUNIT as written)`` of a chip; ``default`` (or counts, with a warning) for an unknown BUNIT."""
    bunit = header_value("BUNIT", ctx.sci, ctx.primary)
    bunit = "" if bunit is None else str(bunit).strip()
    key = bunit.upper().replace(" ", "")
    if key in BUNITS:
        return BUNITS[key], bunit
    fallback = default or "counts"
    log.warning("%s[SCI,%d]: BUNIT %r is not one of electrons, counts, electrons/s, counts/s; taking the data "
                "as %s", ctx.path.name, ctx.extver, bunit, fallback)  # fmt: skip
    return fallback, bunit
