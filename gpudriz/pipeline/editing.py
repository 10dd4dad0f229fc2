"""The parameter editor and help of :class:`gpudriz.Multidrizzle` (manual section 1.3).

A mixin, so that the orchestrator's module holds the run and this one the
interactive editing of its parameters (:mod:`gpudriz.pipeline.config.editpars`).
"""

from __future__ import annotations

import logging

from gpudriz.pipeline.config import editpars as E
from gpudriz.pipeline.config import parameters as P
from gpudriz.pipeline.usage import USAGE

__all__ = ["ParameterEditing"]

log = logging.getLogger("gpudriz")


class ParameterEditing:
    """``help()`` and ``editpars()`` for an object with ``pars``, ``_backend_arg`` and ``_built``."""

    def help(self):
        """Print the available methods and the current parameters."""
        print(USAGE)
        print(P.help_text(self.pars))

    def editpars(self, mode=None):
        """The manual's parameter editor: every parameter, by step, changed and validated.

        Each parameter is shown with its kind, default and allowed values;
        what the user changes is validated, and ``self.pars`` changes only
        when every value is valid (see :mod:`gpudriz.pipeline.config.editpars`).  Call
        :meth:`build` afterwards (:meth:`run` rebuilds if parameters changed).

        Parameters
        ----------
        mode : {None, "editor", "form"}
            "editor": a commented configuration file opened in ``$VISUAL`` or
            ``$EDITOR``, re-opened with the error at the top while a value is
            invalid; returns when the editor closes on a valid file.  "form":
            an ipywidgets form displayed in the notebook; its Apply button sets
            the values.  None: the form in a Jupyter notebook, else the editor.

        Raises
        ------
        ParameterError
            For an unknown ``mode``, when no editor can be used, or when the
            user cancels (the editor exits with an error status, or the file
            is saved unchanged after an error): the parameters are unchanged.
        ImportError
            For the form, when ipywidgets is not installed.
        """
        if mode not in (None, "editor", "form"):
            raise P.ParameterError(
                f"editpars mode = {mode!r} is not valid: expected None, 'editor' or 'form'."
            )
        if mode == "form" or (mode is None and E.in_notebook()):
            E.show_form(self.pars, on_apply=self._parameters_edited)
            return
        self._parameters_edited(E.edit_in_editor(self.pars))

    def _parameters_edited(self, changed: dict):
        """Take in edited parameters: the next run() builds again with them."""
        if not changed:
            log.info("editpars: no parameter changed.")
            return
        if "backend" in changed:
            # The edit is the user's latest word: it wins over the backend argument.
            self._backend_arg = self.pars["backend"]
        self._built = False
        settings = ", ".join(f"{k} = {P.format_value(v)}" for k, v in changed.items())
        log.info("editpars: %s.", settings)
