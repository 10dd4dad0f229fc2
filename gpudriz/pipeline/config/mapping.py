"""Parameters by name: name resolution, validation of one value, and the validated mapping.

:func:`canonical_name` resolves the spellings users write (case, dashes,
section 1.4's aliases) to a name of
:data:`~gpudriz.pipeline.config.definitions.PARAMETERS`; :func:`validate`
checks one value; :class:`Parameters` holds all of them, validated on every
assignment.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, MutableMapping

from gpudriz.pipeline.config.definitions import ALIASES, PARAMETERS, STEPS
from gpudriz.pipeline.config.values import ParameterError, UnknownParameterError

__all__ = ["canonical_name", "validate", "Parameters", "as_parameters"]


def canonical_name(name) -> str:
    """Return the parameter name that ``name`` refers to.

    Case, surrounding blanks and dashes for underscores (``final-pixfrac``) do
    not matter; the aliases of `ALIASES` are resolved.

    Raises
    ------
    UnknownParameterError
        If no parameter has this name; the message suggests the closest name.
    """
    if not isinstance(name, str):
        raise UnknownParameterError(f"parameter names are text, got {name!r}.")
    name = name.strip()
    key = name.lower().replace("-", "_")
    if key in PARAMETERS:
        return key
    if key in ALIASES:
        return ALIASES[key]
    close = difflib.get_close_matches(key, list(PARAMETERS) + list(ALIASES), n=1)
    if close:
        suggestion = ALIASES.get(close[0], close[0])
        raise UnknownParameterError(f"unknown parameter {name!r} (did you mean {suggestion!r}?).")
    raise UnknownParameterError(f"unknown parameter {name!r}.")


def validate(name, value):
    """Return the canonical value of parameter ``name`` for ``value``.

    Parameters
    ----------
    name : str
        Parameter name (see :func:`canonical_name` for accepted spellings).
    value : object
        A Python value or text.  Booleans accept yes/no/true/false/y/n in any
        case; ``None``, ``"INDEF"``, ``"None"`` and blank text mean INDEF where
        the parameter allows it; pairs accept ``"6 3"``, ``"6,3"``, a
        2-sequence, or one number used for both values; integers accept floats
        of integral value; choices are matched case-insensitively.

    Returns
    -------
    object
        The canonical value (see :meth:`Parameter.validate`).

    Raises
    ------
    ParameterError
        One sentence naming the parameter, e.g. ``final_pixfrac = -1 is not
        valid: expected a number > 0.``; an :class:`UnknownParameterError`
        (with a suggestion) for an unknown name.
    """
    return PARAMETERS[canonical_name(name)].validate(value)


class Parameters(MutableMapping):
    """All MultiDrizzle parameters, validated on every assignment.

    Starts from the defaults; ``values`` and keywords are applied on top.  Keys
    are always the canonical names, in the manual's order; parameters cannot be
    removed (use :meth:`reset`).

    Parameters
    ----------
    values : mapping or iterable of (name, value), optional
        Values to set.
    **kw
        More values to set.

    Raises
    ------
    ParameterError
        If a name or value is not acceptable; nothing is set then.

    Examples
    --------
    >>> p = Parameters(final_pixfrac="0.8", combine_nsigma="4 3")
    >>> p.final_pixfrac, p["combine_nsigma"]
    (0.8, (4.0, 3.0))
    >>> p.changed()
    {'combine_nsigma': (4.0, 3.0), 'final_pixfrac': 0.8}
    """

    __slots__ = ("_values",)

    def __init__(self, values=None, /, **kw):
        object.__setattr__(self, "_values", {name: p.default for name, p in PARAMETERS.items()})
        self.update(values, **kw)

    def __getitem__(self, name):
        return self._values[canonical_name(name)]

    def __setitem__(self, name, value):
        key = canonical_name(name)
        self._values[key] = PARAMETERS[key].validate(value)

    def __delitem__(self, name):
        raise TypeError(
            f"parameters cannot be removed; use reset({name!r}) to restore the default."
        )

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __contains__(self, name):
        try:
            canonical_name(name)
        except UnknownParameterError:
            return False
        return True

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except UnknownParameterError as exc:
            raise AttributeError(str(exc)) from None

    def __setattr__(self, name, value):
        if name.startswith("_"):
            object.__setattr__(self, name, value)  # the slot (set by copy and pickle)
        else:
            # Validated like p[name]; a misspelt name is an error, not a new attribute.
            self[name] = value

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._values))

    def __repr__(self):
        changed = ", ".join(f"{k}={v!r}" for k, v in self.changed().items())
        return f"Parameters({changed})"

    def update(self, values=None, /, **kw):
        """Set several values at once; if any is not acceptable, none is set.

        Raises
        ------
        ParameterError
            For the first unacceptable name or value.
        """
        items = []
        if values is not None:
            items.extend(values.items() if isinstance(values, Mapping) else values)
        items.extend(kw.items())
        staged = {}
        for name, value in items:
            key = canonical_name(name)
            staged[key] = PARAMETERS[key].validate(value)
        self._values.update(staged)

    def reset(self, *names):
        """Restore the defaults of ``names`` (of every parameter when none is given)."""
        keys = [canonical_name(n) for n in names] or list(PARAMETERS)
        for key in keys:
            self._values[key] = PARAMETERS[key].default

    def copy(self) -> Parameters:
        """Return an independent copy."""
        new = Parameters()
        new._values.update(self._values)
        return new

    def changed(self) -> dict:
        """Return ``{name: value}`` of the parameters that differ from their default."""
        return {k: v for k, v in self._values.items() if v != PARAMETERS[k].default}

    def as_dict(self) -> dict:
        """Return every value as a plain ``{name: value}`` dict, in the manual's order."""
        return dict(self._values)

    def step_values(self, step) -> dict:
        """Return ``{name: value}`` of the parameters of one group of `STEPS`.

        Raises
        ------
        ParameterError
            If ``step`` is not a group name.
        """
        if step not in STEPS:
            raise ParameterError(f"step {step!r} is not one of {', '.join(STEPS)}.")
        return {k: v for k, v in self._values.items() if PARAMETERS[k].step == step}


def as_parameters(params) -> Parameters:
    """``params`` as a :class:`Parameters`: defaults for None, validated for a mapping."""
    if params is None:
        return Parameters()
    return params if isinstance(params, Parameters) else Parameters(params)


