"""Shared inputs of the step tests: one synthetic association, its whole run, its initialization.

Each step test runs one step's task on inputs it builds itself (chips read
by :func:`gpudriz.pipeline.initialization.initialize`, what earlier steps
found taken from the whole run), never through a ``Multidrizzle`` run, and
compares the task's output with the whole run's.
"""

import dataclasses
import shutil

import pytest

import gpudriz
from gpudriz.demo.synthetic import make_association
from gpudriz.pipeline.config.parameters import Parameters
from gpudriz.pipeline.initialization import initialize
from gpudriz.pipeline.io.provenance import Provenance

CHIP = (64, 128)
#: The parameters of the whole run (and of the tasks' parameters).
PARS = {"clean": False, "driz_cr_corr": True}


@pytest.fixture(scope="session")
def association(tmp_path_factory):
    folder = tmp_path_factory.mktemp("steps_asn")
    truth = make_association(folder, chip_shape=CHIP, seed=5)
    return folder, truth


@pytest.fixture(scope="session")
def whole_run(association, tmp_path_factory):
    """The whole pipeline (cpu), in a copy of the association: the reference of every step."""
    src, truth = association
    folder = tmp_path_factory.mktemp("steps_run")
    for p in src.iterdir():
        shutil.copy(p, folder / p.name)
    md = gpudriz.Multidrizzle(input=str(folder / truth.asn_file), workdir=folder, backend="cpu", **PARS)
    md.run()
    return md


@pytest.fixture(scope="session")
def pars(association):
    folder, truth = association
    return Parameters(input=str(folder / truth.asn_file), **PARS)


@pytest.fixture(scope="session")
def init(association, pars):
    """The association's chips and frames, as initialization gives them (no Multidrizzle)."""
    return initialize(pars, association[0])


@pytest.fixture(scope="session")
def chip_input(init, whole_run):
    """``chip_input(k, *names)``: chip ``k`` as a task sees it (built from ``init``, not the run).

    ``names``: what the whole run's earlier steps found that the task needs
    (``"static_ok"``, ``"sky"``, ``"crmask"``); ``"sky"`` brings whether the
    data still hold it.
    """

    def make(k, *names):
        ref = whole_run.chips[k]
        found = {name: getattr(ref, name) for name in names}
        if "sky" in names:
            found["sky_in_data"] = ref.sky_in_data
        return dataclasses.replace(init.chips[k].task_input(), **found)

    return make


@pytest.fixture(scope="session")
def prov(whole_run):
    """A provenance record for the files the tasks write."""
    return Provenance(backend="cpu", nchips=len(whole_run.chips))
