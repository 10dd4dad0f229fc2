"""``Multidrizzle.editpars()`` (manual section 1.3): the $EDITOR path, the CLI flag, the form.

The terminal path is driven by a scripted EDITOR: a small Python program that
follows a plan (one step per call: text it must see, values to set, exit
status), counts its calls and keeps a copy of every file it was shown.
"""

import html
import io
import json
import os
import re
import shlex
import sys
import types

import pytest
from astropy.io import fits

import gpudriz
import gpudriz.pipeline.multidrizzle as md_module
from gpudriz.cli import main
from gpudriz.demo.synthetic import make_association
from gpudriz.pipeline.config import editpars as E
from gpudriz.pipeline.config import parameters as P
from gpudriz.pipeline.config.parameters import ParameterError

_EDITOR_SCRIPT = r'''
import json, re, sys
from pathlib import Path

plan_path, target = Path(sys.argv[1]), Path(sys.argv[2])
plan = json.loads(plan_path.read_text())
calls = Path(f"{plan_path}.calls")
n = int(calls.read_text()) if calls.exists() else 0
calls.write_text(str(n + 1))
Path(f"{plan_path}.path").write_text(str(target))
step = plan[n] if n < len(plan) else {"exit": 9, "write": False}  # called too often
text = target.read_text(encoding="utf-8")
Path(f"{plan_path}.seen{n}").write_text(text, encoding="utf-8")
for needle in step.get("expect", []):
    if needle not in text:
        sys.stderr.write(f"scripted editor: {needle!r} is not in the file\n")
        sys.exit(3)
for name, value in step.get("set", {}).items():
    text, found = re.subn(rf"^{name} = .*$", f"{name} = {value}", text, flags=re.M)
    if not found:
        text += f"{name} = {value}\n"
if step.get("write", True):
    target.write_text(text, encoding="utf-8")
sys.exit(step.get("exit", 0))
'''


class ScriptedEditor:
    """The scripted EDITOR of one test: ``plan(steps)`` arms it, then inspect what it saw."""

    def __init__(self, folder):
        # A space in the folder's name checks that $EDITOR is split like a shell would.
        folder = folder / "my editor"
        folder.mkdir()
        self.script = folder / "editor.py"
        self.script.write_text(_EDITOR_SCRIPT)
        self.plan_path = folder / "plan.json"

    @property
    def command(self):
        return shlex.join([sys.executable, str(self.script), str(self.plan_path)])

    def plan(self, steps):
        self.plan_path.write_text(json.dumps(steps))
        for stale in self.plan_path.parent.glob("plan.json.*"):
            stale.unlink()
        return self

    @property
    def calls(self):
        path = self.plan_path.parent / "plan.json.calls"
        return int(path.read_text()) if path.exists() else 0

    def seen(self, n):
        return (self.plan_path.parent / f"plan.json.seen{n}").read_text(encoding="utf-8")

    @property
    def edited_path(self):
        return (self.plan_path.parent / "plan.json.path").read_text()


@pytest.fixture
def editor(tmp_path, monkeypatch):
    ed = ScriptedEditor(tmp_path)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", ed.command)
    return ed


@pytest.fixture(scope="module")
def association(tmp_path_factory):
    folder = tmp_path_factory.mktemp("asn")
    truth = make_association(folder, chip_shape=(64, 128), seed=5)
    return folder, truth


_FINAL_ONLY = dict(static=False, skysub=False, driz_separate=False, median=False, blot=False,
                   driz_cr=False)  # fmt: skip


def _error_lines(text):
    return [ln for ln in text.splitlines() if ln.startswith(E.ERROR_MARK)]


# --- the editor path --------------------------------------------------------------------------


def test_edited_values_are_validated_and_set(editor):
    pars = P.Parameters(final_pixfrac=0.9)
    editor.plan([{"expect": ["final_pixfrac = 0.9"],
                  "set": {"final_pixfrac": "0.5", "combine_nsigma": "5,2", "skysub": "no",
                          "final_outnx": "INDEF", "final_kernel": "GAUSSIAN",
                          "input": "other_asn.fits"}}])  # fmt: skip
    changed = E.edit_in_editor(pars)
    assert changed == {"input": "other_asn.fits", "skysub": False, "combine_nsigma": (5.0, 2.0),
                       "final_kernel": "gaussian", "final_pixfrac": 0.5}  # fmt: skip
    assert pars.final_pixfrac == 0.5 and pars.combine_nsigma == (5.0, 2.0)
    assert pars.skysub is False and pars.final_kernel == "gaussian" and pars.input == "other_asn.fits"
    assert editor.calls == 1
    assert not os.path.exists(editor.edited_path)  # the temporary file is removed


def test_every_parameter_is_listed_by_step_with_default_and_allowed_values(editor):
    pars = P.Parameters(final_pixfrac=0.9, output="mine")
    editor.plan([{"write": False}])
    assert E.edit_in_editor(pars) == {}
    lines = editor.seen(0).splitlines()
    headers = [lines.index(f"# {title} [{step}]") for step, title in P.STEPS.items()]
    assert headers == sorted(headers)
    bounds = dict(zip(P.STEPS, [*headers[1:], len(lines)]))
    for name, p in P.PARAMETERS.items():
        k = lines.index(f"{name} = {P.format_value(pars[name])}")
        start = headers[list(P.STEPS).index(p.step)]
        assert start < k < bounds[p.step], f"{name} is not under its step {p.step}"
        comment = lines[k - 1]
        assert comment.startswith("# ") and p.description in comment
        assert f"{p.kind_label}; default {P.format_value(p.default)}; {p.allowed}" in comment
    assert "final_pixfrac = 0.9" in lines and "output = mine" in lines
    assert "final_outnx = INDEF" in lines


def test_invalid_file_is_reopened_with_the_error_and_the_edits_kept(editor):
    pars = P.Parameters()
    editor.plan([
        {"set": {"final_pixfrac": "abc", "driz_cr_snr": "4"}},
        # The script exits with an error (cancelling) unless it sees the error and the edit.
        {"expect": ["final_pixfrac = 'abc' is not valid", "driz_cr_snr = 4"],
         "set": {"final_pixfrac": "0.7", "bits": "-1"}},
        {"expect": ["bits = '-1' is not valid"], "set": {"bits": "2"}},
    ])  # fmt: skip
    assert E.edit_in_editor(pars) == {"bits": 2, "driz_cr_snr": (4.0, 4.0), "final_pixfrac": 0.7}
    assert pars.bits == 2 and pars.final_pixfrac == 0.7 and pars.driz_cr_snr == (4.0, 4.0)
    assert editor.calls == 3
    second, third = editor.seen(1), editor.seen(2)
    # The error block is on top and names the line of the re-opened file.
    assert second.startswith(E.ERROR_MARK)
    line = int(re.search(r"line (\d+): final_pixfrac", second).group(1))
    assert second.splitlines()[line - 1] == "final_pixfrac = abc"
    # A new error replaces the old block: one block, about bits only.
    block = _error_lines(third)
    assert len(block) == len(_error_lines(second)) and third.startswith(E.ERROR_MARK)
    assert "bits" in "".join(block) and "final_pixfrac" not in "".join(block)
    line = int(re.search(r"line (\d+): bits", third).group(1))
    assert third.splitlines()[line - 1] == "bits = -1"


def test_fixed_file_is_applied(editor):
    pars = P.Parameters()
    editor.plan([{"set": {"final_pixfrac": "abc", "skysub": "no"}},
                 {"expect": ["is not valid"], "set": {"final_pixfrac": "0.7"}}])  # fmt: skip
    assert E.edit_in_editor(pars) == {"skysub": False, "final_pixfrac": 0.7}
    assert pars.final_pixfrac == 0.7 and pars.skysub is False


def test_saving_unchanged_after_an_error_cancels_and_changes_nothing(editor):
    pars = P.Parameters(final_pixfrac=0.9)
    before = pars.as_dict()
    editor.plan([{"set": {"final_pixfrac": "abc", "skysub": "no"}},
                 {"expect": ["is not valid"], "write": False}])  # fmt: skip
    with pytest.raises(ParameterError, match=r"parameters unchanged.*final_pixfrac = 'abc'"):
        E.edit_in_editor(pars)
    assert pars.as_dict() == before
    assert editor.calls == 2
    assert not os.path.exists(editor.edited_path)


def test_editor_error_status_cancels_and_changes_nothing(editor):
    pars = P.Parameters()
    before = pars.as_dict()
    editor.plan([{"set": {"final_pixfrac": "0.5"}, "exit": 1}])
    with pytest.raises(ParameterError, match="parameters unchanged.*exited with status 1"):
        E.edit_in_editor(pars)
    assert pars.as_dict() == before


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _editor_on_path(editor, tmp_path, monkeypatch):
    """Only the scripted editor, as 'nano', on the PATH; EDITOR and VISUAL unset."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    nano = bin_dir / "nano"
    nano.write_text(f'#!/bin/sh\nexec {editor.command} "$@"\n')
    nano.chmod(0o755)
    monkeypatch.delenv("EDITOR")
    monkeypatch.setenv("PATH", str(bin_dir))
    return nano


@pytest.mark.skipif(os.name == "nt", reason="a shell-script editor on the PATH")
def test_no_editor_and_no_terminal_is_one_clear_error(editor, tmp_path, monkeypatch):
    _editor_on_path(editor, tmp_path, monkeypatch)  # there, but unusable without a terminal
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    editor.plan([{"write": False}])
    with pytest.raises(ParameterError, match="set the EDITOR environment variable"):
        gpudriz.Multidrizzle(input="x.fits", editpars=True)
    assert editor.calls == 0


@pytest.mark.skipif(os.name == "nt", reason="a shell-script editor on the PATH")
def test_at_a_terminal_an_editor_on_the_path_is_used(editor, tmp_path, monkeypatch):
    nano = _editor_on_path(editor, tmp_path, monkeypatch)
    monkeypatch.setattr(sys, "stdin", _Terminal())
    assert E.editor_command() == [str(nano)]
    editor.plan([{"set": {"final_rot": "12"}}])
    assert E.edit_in_editor(P.Parameters()) == {"final_rot": 12.0}


def test_visual_wins_and_a_missing_editor_is_named(editor, monkeypatch):
    monkeypatch.setenv("EDITOR", "gpudriz-no-such-editor --wait")
    with pytest.raises(ParameterError, match="'gpudriz-no-such-editor --wait' cannot be started"):
        E.edit_in_editor(P.Parameters())
    monkeypatch.setenv("VISUAL", editor.command)
    editor.plan([{"set": {"final_rot": "5"}}])
    assert E.edit_in_editor(P.Parameters()) == {"final_rot": 5.0}


# --- Multidrizzle and the command line -----------------------------------------------------


class _Built(Exception):
    """Raised by a stand-in get_backend: build() got as far as choosing the engine."""


def test_multidrizzle_editpars_true_edits_before_build(editor, monkeypatch):
    editor.plan([{"expect": ["final_pixfrac = 0.9", "backend = auto"],
                  "set": {"final_pixfrac": "0.6", "backend": "cpu"}}])  # fmt: skip
    md = gpudriz.Multidrizzle(input="x_asn.fits", editpars=True, final_pixfrac=0.9, backend="auto")
    assert editor.calls == 1
    assert md.pars.final_pixfrac == 0.6
    chosen = []

    def fake_backend(choice):
        chosen.append(choice)
        raise _Built

    monkeypatch.setattr(md_module, "get_backend", fake_backend)
    with pytest.raises(_Built):
        md.build()
    assert chosen == ["cpu"]  # the edited backend wins over the argument
    with pytest.raises(ParameterError, match="editpars mode = 'gui' is not valid"):
        md.editpars(mode="gui")


def test_manual_session_edit_then_build_and_run(editor, association, tmp_path):
    folder, truth = association
    md = gpudriz.Multidrizzle(input=str(folder / truth.asn_file), workdir=tmp_path, backend="cpu")
    md.build()
    editor.plan([{"set": {"final_outnx": "40", "final_outny": "30", "output": "edited"}}])
    md.editpars()
    products = md.run(**_FINAL_ONLY)  # the edited frame is used: run() builds again
    assert products["drz"] == tmp_path / "edited_drz.fits"
    with fits.open(products["drz"]) as h:
        assert h["SCI"].data.shape == (30, 40)


def test_cli_editpars_flag_edits_before_the_run(editor, association, tmp_path, monkeypatch,
                                                capsys):  # fmt: skip
    folder, truth = association
    monkeypatch.chdir(tmp_path)
    editor.plan([{"expect": ["static = no", "driz_cr = no"],
                  "set": {"final_outnx": "40", "final_outny": "30", "output": "cliedit"}}])  # fmt: skip
    switches = [f"{k}=no" for k in _FINAL_ONLY]
    assert main([str(folder / truth.asn_file), "--editpars", *switches, "backend=cpu"]) == 0
    assert f"drz: {tmp_path / 'cliedit_drz.fits'}" in capsys.readouterr().out
    with fits.open(tmp_path / "cliedit_drz.fits") as h:
        assert h["SCI"].data.shape == (30, 40)


def test_cli_editpars_cancel_is_one_error_line(editor, association, tmp_path, monkeypatch,
                                               capsys):  # fmt: skip
    folder, truth = association
    monkeypatch.chdir(tmp_path)
    editor.plan([{"set": {"output": "cancelled"}, "exit": 1}])
    # The flag may also come first.
    assert main(["--editpars", str(folder / truth.asn_file), "backend=cpu"]) == 1
    errors = [ln for ln in capsys.readouterr().err.splitlines() if "error" in ln]
    assert len(errors) == 1
    assert errors[0].startswith("gpudriz: error: editpars cancelled, parameters unchanged")
    assert editor.calls == 1 and not list(tmp_path.glob("*.fits"))


# --- the notebook form ----------------------------------------------------------------------


class ZMQInteractiveShell:
    """Stands for IPython's notebook kernel shell (found by its class name)."""


class TerminalInteractiveShell:
    """Stands for IPython in a terminal."""


def _fake_ipython(monkeypatch, shell_class):
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: shell_class()
    monkeypatch.setitem(sys.modules, "IPython", fake)


def test_notebook_detection(monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert not E.in_notebook()
    _fake_ipython(monkeypatch, TerminalInteractiveShell)
    assert not E.in_notebook()
    _fake_ipython(monkeypatch, ZMQInteractiveShell)
    assert E.in_notebook()


def test_notebook_without_ipywidgets_names_the_package_and_extra(monkeypatch):
    _fake_ipython(monkeypatch, ZMQInteractiveShell)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails
    md = gpudriz.Multidrizzle(input="x.fits")
    with pytest.raises(ImportError, match=r"ipywidgets.*pip install 'gpudriz\[notebook\]'"):
        md.editpars()


def test_form_shows_every_parameter_by_step():
    widgets = pytest.importorskip("ipywidgets")
    form = E.ParameterForm(P.Parameters(final_pixfrac=0.9))
    assert form.sections.titles == tuple(f"{t} [{s}]" for s, t in P.STEPS.items())
    for step, section in zip(P.STEPS, form.sections.children):
        names = [row.children[0].value for row in section.children]
        assert names == [n for n, p in P.PARAMETERS.items() if p.step == step]
        for row in section.children:
            name, field, info = row.children
            p = P.PARAMETERS[name.value]
            assert field is form.fields[p.name]
            assert f"default {P.format_value(p.default)}" in field.tooltip
            assert p.allowed in field.tooltip
            assert html.escape(p.description) in info.value
    f = form.fields
    assert isinstance(f["skysub"], widgets.Checkbox) and f["skysub"].value is True
    assert isinstance(f["final_kernel"], widgets.Dropdown)
    assert f["final_kernel"].options == P.PARAMETERS["final_kernel"].choices
    assert isinstance(f["coeffs"], widgets.Combobox) and f["coeffs"].value == "header"
    assert isinstance(f["final_pixfrac"], widgets.Text) and f["final_pixfrac"].value == "0.9"
    assert f["final_outnx"].value == "" and f["final_outnx"].placeholder == "INDEF"
    assert f["combine_nsigma"].value == "4 3"


def test_form_apply_sets_the_values():
    pytest.importorskip("ipywidgets")
    pars = P.Parameters(final_outnx=100)
    applied = []
    form = E.ParameterForm(pars, on_apply=applied.append)
    f = form.fields
    f["skysub"].value = False
    f["final_kernel"].value = "gaussian"
    f["final_pixfrac"].value = " 0.50 "
    f["final_outnx"].value = ""  # blank: INDEF
    f["combine_nsigma"].value = "5,2"
    form.apply_button.click()
    expected = {"skysub": False, "combine_nsigma": (5.0, 2.0), "final_outnx": None,
                "final_kernel": "gaussian", "final_pixfrac": 0.5}  # fmt: skip
    assert applied == [expected]
    assert {k: pars[k] for k in expected} == expected
    assert "Applied: 5 parameter(s) changed" in form.message.value and form.error is None
    assert f["final_pixfrac"].value == "0.5" and f["combine_nsigma"].value == "5 2"


def test_form_invalid_value_shows_the_error_and_changes_nothing():
    pytest.importorskip("ipywidgets")
    pars = P.Parameters()
    before = pars.as_dict()
    applied = []
    form = E.ParameterForm(pars, on_apply=applied.append)
    form.fields["skysub"].value = False
    form.fields["final_pixfrac"].value = "abc"
    form.apply_button.click()
    assert pars.as_dict() == before and applied == []
    assert form.error == "final_pixfrac = 'abc' is not valid: expected a number > 0."
    assert "Not applied: final_pixfrac = &#x27;abc&#x27; is not valid" in form.message.value
    form.fields["final_pixfrac"].value = "0.8"
    form.apply_button.click()
    assert pars.final_pixfrac == 0.8 and pars.skysub is False and form.error is None


def test_in_a_notebook_editpars_shows_the_form(monkeypatch):
    pytest.importorskip("ipywidgets")
    _fake_ipython(monkeypatch, ZMQInteractiveShell)
    monkeypatch.setenv("EDITOR", "gpudriz-no-such-editor")  # the editor must not be used
    shown, forms = [], []

    class RecordingForm(E.ParameterForm):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            forms.append(self)

    monkeypatch.setattr(E, "ParameterForm", RecordingForm)
    monkeypatch.setattr(E, "_display", shown.append)
    md = gpudriz.Multidrizzle(input="x_asn.fits", editpars=True, backend="auto")
    (form,) = forms
    assert shown == [form.widget]
    form.fields["final_pixfrac"].value = "0.4"
    form.fields["backend"].value = "cpu"
    form.apply_button.click()
    assert md.pars.final_pixfrac == 0.4
    chosen = []

    def fake_backend(choice):
        chosen.append(choice)
        raise _Built

    monkeypatch.setattr(md_module, "get_backend", fake_backend)
    with pytest.raises(_Built):
        md.build()
    assert chosen == ["cpu"]
