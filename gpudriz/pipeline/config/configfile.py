"""Configuration files: commented, human-editable ``name = value`` files of the parameters.

:func:`write_config` writes every parameter grouped by step with a comment
line each (description, kind, default, accepted values); :func:`read_config`
reads such a file (or one written by hand) back exactly.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from gpudriz.pipeline.config.definitions import PARAMETERS, STEPS
from gpudriz.pipeline.config.mapping import Parameters, as_parameters, canonical_name
from gpudriz.pipeline.config.values import ParameterError, format_value

__all__ = ["write_config", "read_config"]


_CONFIG_HEADER = """\
# gpudriz (MultiDrizzle) parameters.
# Each setting is 'name = value'; a line whose first non-blank character is '#' is a comment.
# Yes/no switches take yes or no; pairs take two numbers such as 6 3.
# INDEF (or nothing after '=') leaves a parameter unset where its comment allows INDEF.
# Parameters missing from the file keep their defaults.
"""


def _config_text(value) -> str:
    text = format_value(value)
    # Outer quotes are removed on reading, so a value that starts or ends with a
    # quote is wrapped in one more pair to come back unchanged.
    if isinstance(value, str) and (text[0] in "'\"" or text[-1] in "'\""):
        text = f'"{text}"'
    return text


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def write_config(path_or_file, params=None):
    """Write a commented, human-editable configuration file.

    Parameters are grouped by step; each is a comment line (description, kind,
    default, accepted values) followed by ``name = value``, with INDEF for
    None and pairs as ``6 3``.  :func:`read_config` reads it back exactly.

    Parameters
    ----------
    path_or_file : str, os.PathLike or text file
        Destination.  A path is written through a temporary file in the same
        folder and renamed, so a failed write leaves no half-written file.
    params : Parameters or mapping, optional
        Values to write; names not given keep their defaults.  Defaults when None.

    Raises
    ------
    ParameterError
        If ``params`` holds an unknown name or an unacceptable value.
    """
    params = as_parameters(params)
    lines = [_CONFIG_HEADER.rstrip("\n")]
    for step, title in STEPS.items():
        lines += ["", "# " + "-" * 76, f"# {title} [{step}]", "# " + "-" * 76]
        for name, p in PARAMETERS.items():
            if p.step != step:
                continue
            lines.append(f"# {p.description}  ({p.kind_label}; default {format_value(p.default)}; "
                         f"{p.allowed})")  # fmt: skip
            lines.append(f"{name} = {_config_text(params[name])}")
    text = "\n".join(lines) + "\n"
    if hasattr(path_or_file, "write"):
        path_or_file.write(text)
        return
    path = Path(path_or_file)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        # mkstemp makes the file private; a configuration file is an ordinary one.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read_config(path) -> Parameters:
    """Read a configuration file written by :func:`write_config` (or by hand).

    Blank lines and lines starting with ``#`` are ignored; every other line is
    ``name = value`` (the value may be wrapped in quotes).  Parameters not in
    the file keep their defaults.

    Parameters
    ----------
    path : str, os.PathLike or text file

    Returns
    -------
    Parameters

    Raises
    ------
    ParameterError
        Naming the file and line number: a line that is not a setting, an
        unknown name, a bad value, or a parameter set twice.
    OSError
        If the file cannot be read.
    """
    if hasattr(path, "read"):
        source = getattr(path, "name", "<configuration>")
        text = path.read()
    else:
        source = os.fspath(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ParameterError(
                f"{source}: not a configuration file (it is not UTF-8 text)."
            ) from None
    params = Parameters()
    seen = {}
    for number, raw in enumerate(io.StringIO(text), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}, line {number}"
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ParameterError(
                f"{where}: expected 'name = value' or a '#' comment, got {line!r}."
            )
        try:
            key = canonical_name(name)
            if key in seen:
                raise ParameterError(f"{key} is set twice (first on line {seen[key]}).")
            params[key] = _unquote(value.strip())
        except ParameterError as exc:
            raise ParameterError(f"{where}: {exc}") from None
        seen[key] = number
    return params


