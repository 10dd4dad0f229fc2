"""Parameter settings from command-line arguments (``name=value``, ``--name value``)."""

from __future__ import annotations

from gpudriz.pipeline.config.definitions import PARAMETERS
from gpudriz.pipeline.config.mapping import canonical_name
from gpudriz.pipeline.config.values import ParameterError

__all__ = ["parse_cli"]


def parse_cli(args) -> dict:
    """Parse parameter settings from command-line arguments.

    Accepted forms: ``name=value``, ``--name value`` and ``--name=value``, with
    underscores or dashes in names (``--final-pixfrac 0.8``).  A later setting
    of the same parameter wins.

    Parameters
    ----------
    args : list of str
        The arguments after the input specification.

    Returns
    -------
    dict
        ``{name: canonical value}`` in the order given.

    Raises
    ------
    ParameterError
        For an argument of no accepted form, a ``--name`` without a value, an
        unknown name (with a suggestion) or an unacceptable value.
    """
    settings = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--") and "=" not in arg:
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                raise ParameterError(
                    f"option {arg!r} needs a value (--name value or --name=value)."
                )
            name, value = arg[2:], args[i + 1]
            i += 2
        elif "=" in arg and not arg.startswith("="):
            name, _, value = arg.removeprefix("--").partition("=")
            i += 1
        else:
            raise ParameterError(
                f"{arg!r} is not a parameter setting: expected name=value, --name value "
                "or --name=value."
            )
        key = canonical_name(name)
        settings.pop(key, None)  # keep the order of the last setting
        settings[key] = PARAMETERS[key].validate(value)
    return settings


