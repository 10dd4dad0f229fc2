"""The parameter editor behind ``Multidrizzle.editpars()`` (manual section 1.3).

MultiDrizzle opened a GUI that showed every parameter with its type and
checked what the user typed.  gpudriz offers the same in two places:

- in a terminal (or any process): :func:`edit_in_editor` writes the current
  values as a commented configuration file (grouped by step, with each
  parameter's kind, default and allowed values, see
  :func:`gpudriz.pipeline.config.parameters.write_config`), opens it in ``$VISUAL`` or
  ``$EDITOR``, and reads it back with :func:`gpudriz.pipeline.config.parameters.read_config`.
  An invalid file is re-opened with the error as a marked comment block at
  the top, the user's edits kept.  Exiting the editor with an error status, or
  saving the file unchanged after an error, cancels;
- in a Jupyter notebook: :class:`ParameterForm`, an ipywidgets form (the
  optional ``notebook`` extra) with one section per step and an Apply button.

Either way the parameters change only when every value is valid, all at once.
"""

from __future__ import annotations

import html
import io
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from gpudriz.pipeline.config import parameters as P

__all__ = [
    "ParameterForm",
    "edit_in_editor",
    "editor_command",
    "in_notebook",
    "show_form",
]

#: Editors tried, in order, when neither VISUAL nor EDITOR is set and a person
#: is at the terminal (Debian's sensible-editor / editor honour the system's choice).
FALLBACK_EDITORS = ("sensible-editor", "editor", "nano", "vim", "vi")
if os.name == "nt":  # pragma: no cover - Windows
    FALLBACK_EDITORS = ("notepad",)

#: Prefix of the error block's lines; such lines are dropped when the file is read.
ERROR_MARK = "#!"

#: How the edited file is named in error messages.
_SOURCE = "the edited file"

_INTRO = """\
# gpudriz editpars: change the values below, then save and quit the editor to apply them.
# Every value is checked when the editor closes; an invalid file is re-opened with the error
# at the top.  To cancel, quit the editor with an error status (in vim ':cq').

"""


# --- terminal: the configuration file in $EDITOR -------------------------------------------


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):  # replaced or closed stdin
        return False


def editor_command() -> list[str]:
    """Return the command that opens the editor (the file name is appended).

    ``$VISUAL`` wins over ``$EDITOR``; each is split as a shell would split it,
    so ``EDITOR="code --wait"`` works.  When neither is set, an editor found on
    the PATH (:data:`FALLBACK_EDITORS`) is used, but only when standard input
    is a terminal: a terminal editor could not work otherwise.

    Returns
    -------
    list of str

    Raises
    ------
    ParameterError
        If no editor is set and none can be used.
    """
    for variable in ("VISUAL", "EDITOR"):
        value = os.environ.get(variable, "").strip()
        if value:
            try:
                command = shlex.split(value, posix=os.name != "nt")
            except ValueError as exc:
                raise P.ParameterError(
                    f"editpars: ${variable} = {value!r} cannot be split into a command ({exc})."
                ) from None
            if command:
                return command
    if _stdin_is_terminal():
        for name in FALLBACK_EDITORS:
            path = shutil.which(name)
            if path:
                return [path]
    raise P.ParameterError(
        "editpars needs an editor: set the EDITOR environment variable (e.g. EDITOR=nano, or "
        "EDITOR='code --wait'), or set parameters as keywords or in a configuration file."
    )


def _error_block(message: str) -> str:
    # A fixed number of lines (the message kept on one line), so that the line
    # numbers of the re-opened file can be known before it is written.
    message = " ".join(message.split())
    return (
        f"{ERROR_MARK} ERROR: this file was not accepted, so no parameter has been changed yet:\n"
        f"{ERROR_MARK}   {message}\n"
        f"{ERROR_MARK} Correct it, then save and quit to apply the values; save it unchanged or\n"
        f"{ERROR_MARK} quit with an error status to cancel.  Lines starting with '{ERROR_MARK}' "
        "are ignored.\n"
    )


_ERROR_LINES = _error_block("x").count("\n")


def _without_error_blocks(text: str) -> str:
    lines = text.splitlines(keepends=True)
    kept = "".join(ln for ln in lines if not ln.lstrip().startswith(ERROR_MARK))
    return kept if kept.endswith("\n") or not kept else kept + "\n"


def _check(text: str) -> P.Parameters:
    """Validate the user's text as the file it will be re-opened as (error block on top).

    Raises
    ------
    ParameterError
        With the line number of that re-opened file.
    """
    source = io.StringIO("\n" * _ERROR_LINES + text)
    source.name = _SOURCE
    return P.read_config(source)


def _same_text(a: str, b: str) -> bool:
    # Editors differ in line endings and in the newline at the end of the file.
    return a.replace("\r\n", "\n").rstrip("\n") == b.replace("\r\n", "\n").rstrip("\n")


def _run_editor(command: list[str], path: Path) -> None:
    shown = shlex.join(command)
    try:
        status = subprocess.run([*command, os.fspath(path)], check=False).returncode
    except OSError as exc:
        raise P.ParameterError(
            f"editpars: the editor {shown!r} cannot be started ({exc.strerror or exc}); set the "
            "EDITOR environment variable to an editor command."
        ) from None
    if status != 0:
        raise P.ParameterError(
            f"editpars cancelled, parameters unchanged: the editor {shown!r} exited with status "
            f"{status}."
        )


def _read_back(path: Path) -> tuple[str, str | None]:
    """Return the saved text and, if it is not UTF-8, the error to show."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), f"{_SOURCE} is not UTF-8 text."


def edit_in_editor(params: P.Parameters, command: list[str] | None = None) -> dict:
    """Let the user edit ``params`` in a text editor, until the file is valid.

    Parameters
    ----------
    params : gpudriz.pipeline.config.parameters.Parameters
        Changed in place, all values at once, and only when the whole edited
        file is valid.  Parameters removed from the file take their defaults,
        as the file's header says.
    command : list of str, optional
        The editor command; default :func:`editor_command`.

    Returns
    -------
    dict
        ``{name: new value}`` of the parameters that changed.

    Raises
    ------
    ParameterError
        If no editor can be used, the editor exits with a non-zero status, or
        the file is saved unchanged after an error ("parameters unchanged");
        ``params`` is unchanged then.
    """
    command = editor_command() if command is None else list(command)
    buffer = io.StringIO()
    P.write_config(buffer, params)
    text = _INTRO + buffer.getvalue()
    fd, name = tempfile.mkstemp(prefix="gpudriz-pars-", suffix=".cfg", text=True)
    os.close(fd)  # the editor opens the file itself (Windows cannot share an open file)
    path = Path(name)
    error = None
    try:
        while True:
            path.write_text(text, encoding="utf-8")
            _run_editor(command, path)
            saved, decode_error = _read_back(path)
            if error is not None and _same_text(saved, text):
                raise P.ParameterError(f"editpars cancelled, parameters unchanged: {error}")
            text = _without_error_blocks(saved)
            try:
                if decode_error:
                    raise P.ParameterError(decode_error)
                edited = _check(text)
            except P.ParameterError as exc:
                error = str(exc)
                text = _error_block(error) + text
                continue
            break
    finally:
        path.unlink(missing_ok=True)
    changed = {k: v for k, v in edited.items() if params[k] != v}
    params.update(changed)
    return changed


# --- notebook: an ipywidgets form -------------------------------------------------------------


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (IPython's ZMQInteractiveShell).

    IPython is looked at only if it is already imported: a kernel always has it.
    """
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if get is not None else None
    return shell is not None and any(
        cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__
    )


def _ipywidgets():
    try:
        import ipywidgets
    except ImportError:
        raise ImportError(
            "editpars in a notebook needs the ipywidgets package: pip install 'gpudriz[notebook]' "
            "(or call editpars(mode='editor') to use a text editor).",
            name="ipywidgets",
        ) from None
    return ipywidgets


def _help_text(p: P.Parameter) -> str:
    text = f"{p.kind_label}; default {P.format_value(p.default)}; accepts {p.allowed}"
    if p.nullable:
        text += f"; blank or INDEF: {p.none_means}"
    return text


def _as_text(value) -> str:
    # INDEF is shown as a blank field: clearing a field is the natural "unset".
    return "" if value is None else P.format_value(value)


class ParameterForm:
    """An ipywidgets form for every parameter, grouped by step, with an Apply button.

    Parameters
    ----------
    params : gpudriz.pipeline.config.parameters.Parameters
        Shown, and changed by :meth:`apply`.
    on_apply : callable, optional
        Called with ``{name: new value}`` after each successful apply.

    Attributes
    ----------
    widget : ipywidgets.VBox
        The whole form, to display.
    fields : dict
        The input widget of each parameter: a Checkbox (yes/no), a Dropdown
        (choices), a Combobox (file names with named values) or a Text (INDEF
        shown blank).
    sections : ipywidgets.Accordion
        One section per step.
    apply_button : ipywidgets.Button
    message : ipywidgets.HTML
        What the last apply did, or its error.
    error : str or None
        The last apply's error.

    Raises
    ------
    ImportError
        If ipywidgets is not installed (naming the ``notebook`` extra).
    """

    def __init__(self, params: P.Parameters, on_apply=None):
        self._w = _ipywidgets()
        self.params = params
        self.on_apply = on_apply
        self.error = None
        self.fields = {name: self._field(p, params[name]) for name, p in P.PARAMETERS.items()}
        sections, titles = [], []
        for step, title in P.STEPS.items():
            names = [n for n, p in P.PARAMETERS.items() if p.step == step]
            sections.append(self._w.VBox([self._row(n) for n in names]))
            titles.append(f"{title} [{step}]")
        self.sections = self._w.Accordion(children=sections, titles=tuple(titles))
        self.apply_button = self._w.Button(
            description="Apply", button_style="primary",
            tooltip="Check every value and set them all, or none if one is invalid",
        )  # fmt: skip
        self.apply_button.on_click(lambda _button: self.apply())
        self.message = self._w.HTML()
        self.widget = self._w.VBox([
            self._w.HTML("<b>gpudriz (MultiDrizzle) parameters</b>: edit, then press Apply."),
            self.sections,
            self._w.HBox([self.apply_button, self.message]),
        ])  # fmt: skip

    def _field(self, p: P.Parameter, value):
        w = self._w
        tooltip = f"{p.description}: {_help_text(p)}"
        if p.kind == "bool" and not p.nullable:
            return w.Checkbox(value=value, indent=False, tooltip=tooltip)
        if p.kind in ("bool", "choice"):
            options = p.choices or ("yes", "no")
            options = (*options, "INDEF") if p.nullable else options
            return w.Dropdown(options=options, value=P.format_value(value), tooltip=tooltip)
        if p.kind == "file" and p.choices:
            # Named values (coeffs = header ...) offered, a file name still accepted.
            return w.Combobox(options=p.choices, value=_as_text(value), ensure_option=False,
                              tooltip=tooltip)  # fmt: skip
        return w.Text(value=_as_text(value), placeholder="INDEF" if p.nullable else "",
                      tooltip=tooltip)  # fmt: skip

    def _row(self, name: str):
        p = P.PARAMETERS[name]
        label = self._w.Label(name, layout=self._w.Layout(width="12em"))
        info = self._w.HTML(
            f"{html.escape(p.description)} <span style='color:gray'>"
            f"({html.escape(_help_text(p))})</span>"
        )
        return self._w.HBox([label, self.fields[name], info])

    def values(self) -> dict:
        """Return the fields' contents, ``{name: value as typed}`` (not yet validated)."""
        return {name: field.value for name, field in self.fields.items()}

    def apply(self) -> dict | None:
        """Validate every field and set them all in ``params``, or none.

        Returns
        -------
        dict or None
            ``{name: new value}`` of the parameters that changed; None when a
            value is invalid (the error is shown in :attr:`message`).
        """
        staged = self.params.copy()
        try:
            staged.update(self.values())
        except P.ParameterError as exc:
            self.error = str(exc)
            self.message.value = (
                f"<span style='color:#b00020'>Not applied: {html.escape(self.error)}</span>"
            )
            return None
        self.error = None
        changed = {k: v for k, v in staged.items() if self.params[k] != v}
        self.params.update(changed)
        self.refresh()
        names = ", ".join(changed)
        self.message.value = (
            f"Applied: {len(changed)} parameter(s) changed ({html.escape(names)})."
            if changed else "Applied: no parameter changed."
        )  # fmt: skip
        if self.on_apply is not None:
            self.on_apply(changed)
        return changed

    def refresh(self):
        """Show the current values of ``params`` (in their canonical spelling)."""
        for name, field in self.fields.items():
            value = self.params[name]
            if isinstance(field, self._w.Checkbox):
                field.value = value
            elif isinstance(field, self._w.Dropdown):
                field.value = P.format_value(value)  # an option, INDEF included
            else:
                field.value = _as_text(value)


def _display(widget):
    from IPython.display import display

    display(widget)


def show_form(params: P.Parameters, on_apply=None) -> ParameterForm:
    """Display a :class:`ParameterForm` for ``params`` in the notebook and return it."""
    form = ParameterForm(params, on_apply=on_apply)
    _display(form.widget)
    return form
