"""The MultiDrizzle parameters: one definition read by the API, CLI, config files and docs.

This module is the public face of the parameters; the work is done in

- :mod:`~gpudriz.pipeline.config.definitions`: the parameters of Table 2 of
  the MultiDrizzle manual with gpudriz's departures (:data:`PARAMETERS`,
  :data:`STEPS`, :class:`Parameter`);
- :mod:`~gpudriz.pipeline.config.values`: conversion of values, text
  included, to one canonical value per kind (:func:`format_value`, the
  errors);
- :mod:`~gpudriz.pipeline.config.mapping`: names (:func:`canonical_name`),
  :func:`validate` and the validated :class:`Parameters` mapping;
- :mod:`~gpudriz.pipeline.config.configfile`: :func:`write_config`,
  :func:`read_config`;
- :mod:`~gpudriz.pipeline.config.command_line`: :func:`parse_cli`;
- :mod:`~gpudriz.pipeline.config.reference`: :func:`help_text`,
  :func:`reference_markdown`.

Values arrive as Python values or as text (command line, configuration file);
:func:`validate` turns either into one canonical Python value and raises a
one-sentence :class:`ParameterError` naming the parameter otherwise.
"""

from __future__ import annotations

from gpudriz.pipeline.config.command_line import parse_cli
from gpudriz.pipeline.config.configfile import read_config, write_config
from gpudriz.pipeline.config.definitions import ALIASES, PARAMETERS, STEPS, Parameter
from gpudriz.pipeline.config.mapping import Parameters, canonical_name, validate
from gpudriz.pipeline.config.reference import help_text, reference_markdown
from gpudriz.pipeline.config.values import (
    KIND_LABELS,
    ParameterError,
    UnknownParameterError,
    format_value,
)

__all__ = [
    "Parameter",
    "ParameterError",
    "UnknownParameterError",
    "PARAMETERS",
    "STEPS",
    "ALIASES",
    "KIND_LABELS",
    "canonical_name",
    "validate",
    "format_value",
    "Parameters",
    "write_config",
    "read_config",
    "parse_cli",
    "help_text",
    "reference_markdown",
]
