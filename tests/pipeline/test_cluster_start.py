"""A local cluster starts while build() reads the inputs; run() uses it, or closes it when it is not used.

The cluster is replaced by an in-process execution that records how it was
opened and closed, so that these tests run the mosaic mode's steps without
starting Dask workers (``tests/pipeline/test_graph.py`` runs real ones).
"""

import os
import threading

import pytest
from helpers import execution_tasks as t
from helpers.tiny_runs import tiny_folder, tiny_multidrizzle

import gpudriz
from gpudriz.pipeline import execution
from gpudriz.pipeline.execution import Execution, ExecutionStart
from gpudriz.pipeline.state import PipelineError
from gpudriz.pipeline.workfolder import FolderLock

PARS = dict(backend="cpu", rdnoise=5.0, tile_size=16)


class _Recorded(Execution):
    """An in-process execution that remembers its options, its thread and whether it was closed."""

    opened: list = []

    def __init__(self, options):
        super().__init__(None, [], "this process (recorded)", False)
        self.options, self.closed = options, 0
        self.thread = threading.current_thread().name
        _Recorded.opened.append(self)

    def close(self):
        self.closed += 1


@pytest.fixture
def recorded(monkeypatch):
    _Recorded.opened = []
    monkeypatch.setattr(execution.Execution, "open", classmethod(lambda cls, **options: _Recorded(options)))
    return _Recorded.opened


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return tiny_folder(tmp_path_factory, "start_in", 2, seed=5)


def _md(inputs, folder, **pars):
    return tiny_multidrizzle(inputs, folder, {**PARS, **pars})


def test_take_hands_over_what_was_opened_with_the_same_options(recorded):
    start = ExecutionStart(workers=2, backend="cpu")
    ex = start.take(workers=2, backend="cpu")
    assert ex is recorded[0] and ex.thread.startswith("gpudriz-cluster-start")
    start.discard()  # handed over: not closed here
    assert ex.closed == 0


def test_take_with_other_options_closes_it(recorded):
    start = ExecutionStart(workers=2, backend="cpu")
    assert start.take(workers=3, backend="cpu") is None
    assert recorded[0].closed == 1
    start.discard()
    assert recorded[0].closed == 1  # once


def test_a_failed_start_raises_on_take_and_is_dropped_on_discard(monkeypatch):
    def fail(cls, **options):
        raise PipelineError("Give one of workers=N, scheduler= and client=, not several.")

    monkeypatch.setattr(execution.Execution, "open", classmethod(fail))
    with pytest.raises(PipelineError, match="not several"):
        ExecutionStart(workers=2, scheduler="tcp://x:1").take(workers=2, scheduler="tcp://x:1")
    ExecutionStart(workers=2, scheduler="tcp://x:1").discard()  # nothing to close, nothing raised


def test_build_starts_the_cluster_and_run_uses_it(inputs, tmp_path, recorded):
    md = _md(inputs, tmp_path / "out", workers=2)
    md.build()
    md.run()
    assert len(recorded) == 1 and recorded[0].options["workers"] == 2
    assert recorded[0].thread.startswith("gpudriz-cluster-start")  # opened beside the build
    assert recorded[0].closed == 1
    assert md.products["tiles"].exists()


def test_without_workers_nothing_starts_at_build(inputs, tmp_path, recorded):
    _md(inputs, tmp_path / "out").build()
    assert recorded == []


def test_a_failed_build_closes_the_cluster_it_started(tmp_path, recorded):
    md = gpudriz.Multidrizzle(input=str(tmp_path / "nothing_flt.fits"), workdir=tmp_path, workers=2, **PARS)
    with pytest.raises(Exception, match="nothing_flt"):
        md.build()
    assert len(recorded) == 1 and recorded[0].closed == 1


def test_parameters_changed_after_build_get_their_own_cluster(inputs, tmp_path, recorded):
    md = _md(inputs, tmp_path / "out", workers=2)
    md.build()
    md.pars["workers"] = 1
    md.run()
    assert [r.options["workers"] for r in recorded] == [2, 1]
    assert [r.closed for r in recorded] == [1, 1]


def test_a_busy_folder_closes_the_cluster_it_started(inputs, tmp_path, recorded):
    md = _md(inputs, tmp_path / "out", workers=2)
    md.build()
    with FolderLock(tmp_path / "out"), pytest.raises(PipelineError):
        md.run()
    assert len(recorded) == 1 and recorded[0].closed == 1


def test_a_started_cluster_shares_the_items_left_and_its_workers_are_prepared():
    """A real cluster (this module's only one): its workers have imported gpudriz and started Numba when it opens;
    items mapped once it is open are shared between this process (from the front) and its worker."""
    options = dict(workers=1, memory_budget=2**30, progress=False, backend="cpu")
    start = ExecutionStart(**options)
    start._future.result()  # open: the items are shared from the first
    pids = start.map("read", t.pid, range(30))
    with pytest.raises(ValueError, match="task 2 failed"):  # item 2 falls in the worker's share
        start.map("read", t.fail, range(29, -1, -1))
    with start.take(**options) as ex:
        (worker,) = ex.client.run(os.getpid).values()
        assert list(ex.client.run(t.imported, "gpudriz").values()) == [True]
        assert list(ex.client.run(t.numba_started).values()) == [True]
    assert pids == [os.getpid()] * 15 + [worker] * 15


def test_items_are_mapped_here_while_the_cluster_starts_and_when_it_is_no_cluster(recorded):
    start = ExecutionStart(workers=2, backend="cpu")
    assert start.map("read", t.pid, range(5)) == [os.getpid()] * 5
    with pytest.raises(ValueError, match="task 2 failed"):
        start.map("read", t.fail, range(5))
    start.discard()
