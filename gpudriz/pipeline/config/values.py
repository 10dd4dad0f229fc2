"""Conversion of parameter values: Python values or text to one canonical value per kind.

Values arrive as Python values or as text (command line, configuration file);
each kind of :data:`KIND_LABELS` has a converter in :data:`CONVERTERS` that
returns the canonical value or None when the value is not acceptable (the
caller, :meth:`gpudriz.pipeline.config.definitions.Parameter.validate`, words
the error).  :func:`format_value` writes a canonical value back as text that
converts to the same value.
"""

from __future__ import annotations

import numbers
import os
import re
from collections.abc import Iterable

from gpudriz.backend.validate import finite_real, is_bool

__all__ = [
    "ParameterError",
    "UnknownParameterError",
    "KIND_LABELS",
    "NULL_TEXT",
    "CONVERTERS",
    "format_number",
    "format_value",
]

#: Human names of the value kinds, as shown in help and configuration files.
KIND_LABELS = {
    "bool": "yes/no",
    "int": "integer",
    "float": "number",
    "str": "text",
    "choice": "choice",
    "pair": "pair of numbers",
    "file": "file name",
    "files": "file list",
    "keyword": "header keyword",
}

# Text read as yes and as no.
_TRUE = frozenset({"yes", "y", "true"})
_FALSE = frozenset({"no", "n", "false"})
#: Text that means "unset" (IRAF's INDEF, a blank, Python's None spelt out).
NULL_TEXT = frozenset({"", "indef", "none"})
_KEYWORD_RE = re.compile(r"[A-Z0-9_-]{1,8}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class ParameterError(ValueError):
    """A parameter name or value is not acceptable; the message is one sentence."""


class UnknownParameterError(ParameterError, KeyError):
    """No parameter has this name (also a `KeyError`, so mapping look-ups behave)."""

    def __str__(self):
        # KeyError would quote the whole message; keep it a plain sentence.
        return str(self.args[0]) if self.args else ""


# Each converter takes the Parameter (for its bounds, ``in_bounds``) and the value,
# and returns the canonical value or None when the value is not acceptable.


def _to_bool(p, value):
    if is_bool(value):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


def _to_int(p, value):
    if isinstance(value, numbers.Integral) and not is_bool(value):
        n = int(value)
    else:
        if isinstance(value, str):
            try:
                return _to_int(p, int(value.strip()))
            except ValueError:
                pass  # "1e3" or "4.0": take the float route below
        x = finite_real(value, text=True)
        if x is None or not x.is_integer():
            return None
        n = int(x)
    return n if p.in_bounds(n) else None


def _to_float(p, value):
    x = finite_real(value, text=True)
    return x if x is not None and p.in_bounds(x) else None


def _to_pair(p, value):
    if isinstance(value, str):
        items = re.split(r"[,\s]+", value.strip())
    elif isinstance(value, Iterable):
        items = list(value)
    else:
        items = [value]
    if not 1 <= len(items) <= 2:
        return None
    numbers_ = [_to_float(p, item) for item in items]
    if any(x is None for x in numbers_):
        return None
    # The manual: "If only one value is specified, then it is used in both steps."
    return (numbers_[0], numbers_[-1])


def _to_choice(p, value):
    return None  # matching strings were returned by Parameter.validate already


def _clean_text(value) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    # Control characters (newlines above all) would break configuration files.
    if not text or _CONTROL_RE.search(text):
        return None
    return text


def _to_text(p, value):
    if isinstance(value, numbers.Integral) and not is_bool(value):
        value = str(int(value))  # group=1 means extension "1"
    return _clean_text(value)


def _to_file(p, value):
    return _clean_text(value)


def _to_files(p, value):
    if isinstance(value, (str, os.PathLike)):
        return _clean_text(os.fspath(value))
    if not isinstance(value, Iterable):
        return None
    names = [_clean_text(os.fspath(v)) if isinstance(v, (str, os.PathLike)) else None
             for v in value]  # fmt: skip
    # A comma inside one name could not be told apart from the list separator.
    if not names or any(n is None or "," in n for n in names):
        return None
    return ",".join(names)


def _to_keyword(p, value):
    text = _clean_text(value)
    if text is None or not _KEYWORD_RE.fullmatch(text.upper()):
        return None
    return text.upper()


#: Converter of each kind of `KIND_LABELS`.
CONVERTERS = {
    "bool": _to_bool,
    "int": _to_int,
    "float": _to_float,
    "pair": _to_pair,
    "choice": _to_choice,
    "str": _to_text,
    "file": _to_file,
    "files": _to_files,
    "keyword": _to_keyword,
}


def format_number(x) -> str:
    """The shortest exact text of a number: integral values without a decimal point."""
    if isinstance(x, numbers.Integral):
        return str(int(x))
    # Integral floats print as integers ("6 3"); repr keeps every other float exact.
    if float(x).is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(float(x))


def format_value(value) -> str:
    """Return the text form of a canonical value (INDEF, yes/no, ``6 3``...).

    :func:`gpudriz.pipeline.config.mapping.validate` reads the text back to the
    same value.
    """
    if value is None:
        return "INDEF"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return " ".join(format_number(x) for x in value)
    if isinstance(value, numbers.Real):
        return format_number(value)
    return str(value)


