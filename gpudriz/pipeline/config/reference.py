"""The reference text of the parameters: the ``--help`` text and the Markdown reference.

``docs/parameters.md`` is :func:`reference_markdown`'s output (a test checks it).
"""

from __future__ import annotations

import textwrap

from gpudriz.pipeline.config.definitions import PARAMETERS, STEPS
from gpudriz.pipeline.config.mapping import as_parameters
from gpudriz.pipeline.config.values import format_value

__all__ = ["help_text", "reference_markdown"]


_HELP_WIDTH = 79
_HELP_INDENT = " " * 6


def help_text(params=None) -> str:
    """Return the description of every parameter, grouped by step.

    Each parameter shows its kind, default and accepted values, what INDEF
    means and any note.

    Parameters
    ----------
    params : Parameters or mapping, optional
        Current values; those that differ from the default are shown too.

    Returns
    -------
    str
    """
    current = as_parameters(params)
    out = [
        "gpudriz (MultiDrizzle) parameters",
        "Set them as Multidrizzle(input, name=value), 'gpudriz INPUT name=value' or in a "
        "configuration file.",
    ]
    for step, title in STEPS.items():
        out += ["", f"{title} [{step}]"]
        for name, p in PARAMETERS.items():
            if p.step != step:
                continue
            head = f"  {name} ({p.kind_label}, default {format_value(p.default)})"
            if current[name] != p.default:
                head += f" = {format_value(current[name])}"
            out.append(head)
            body = [p.description, f"Accepts {p.allowed}."]
            if p.nullable:
                body.append(f"INDEF: {p.none_means}.")
            if p.note:
                body.append(p.note)
            out += [textwrap.fill(t, _HELP_WIDTH, initial_indent=_HELP_INDENT,
                                  subsequent_indent=_HELP_INDENT + "  ") for t in body]  # fmt: skip
    return "\n".join(out) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def reference_markdown() -> str:
    """Return a Markdown reference of every parameter: one table per step.

    ``docs/parameters.md`` is generated from it.

    Returns
    -------
    str
    """
    out = [
        "# Parameters",
        "",
        "Generated from `gpudriz.pipeline.config.parameters` (`reference_markdown()`); do not edit by hand.",
        "Defaults are those of Table 2 of the MultiDrizzle manual; section 1.4 describes each "
        "parameter.  INDEF (or a blank) leaves a parameter unset where it is allowed.",
    ]
    for step, title in STEPS.items():
        out += ["", f"## {title} (`{step}`)", "",
                "| Parameter | Kind | Default | Accepted values | Description |",
                "|---|---|---|---|---|"]  # fmt: skip
        for name, p in PARAMETERS.items():
            if p.step != step:
                continue
            accepted = p.allowed + (f"; INDEF: {p.none_means}" if p.nullable else "")
            description = p.description
            if p.note:
                # Table 2's descriptions have no full stop; separate the note with one.
                description += ("" if description[-1] in ".?)" else ".") + " " + p.note
            default = f"`{format_value(p.default)}`"
            cells = [f"`{name}`", p.kind_label, default, accepted, description]
            out.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    return "\n".join(out) + "\n"
