"""Execution: in-process and Dask stages give the same results; errors, closing, progress."""

import io
import logging
import os
import sys

import distributed
import pytest
from helpers import execution_tasks as t

from gpudriz.pipeline.execution import Execution, cluster_help, worker_specs
from gpudriz.pipeline.state import PipelineError


@pytest.fixture(scope="module")
def local():
    with Execution.open(workers=2, memory_budget=2**30, progress=False) as ex:
        yield ex


def test_in_process_map_in_order_with_common_args():
    ex = Execution.open()
    assert not ex.distributed and ex.description == "this process"
    assert ex.map("s", t.work, range(5), 2.0) == [t.work(i, 2.0) for i in range(5)]
    with pytest.raises(ValueError, match="task 2 failed"):
        ex.map("s", t.fail, range(4))


def test_local_cluster_same_results_in_other_processes(local):
    assert local.distributed and "2 workers" in local.description
    assert local.map("s", t.work, range(6), 2.0) == [t.work(i, 2.0) for i in range(6)]
    pids = local.map("p", t.pid, range(4))
    assert os.getpid() not in pids
    with pytest.raises(ValueError, match="task 2 failed"):
        local.map("f", t.fail, range(4))


def test_a_killed_worker_is_replaced(local, tmp_path):
    assert local.map("d", t.die_once, range(4), str(tmp_path)) == [0, 10, 20, 30]


def test_client_is_not_closed_and_conflicts(local):
    ex = Execution.open(client=local.client)
    ex.close()
    assert local.client.status == "running"
    with pytest.raises(PipelineError, match="not several"):
        Execution.open(workers=2, scheduler="tcp://x:1")


def test_unreachable_scheduler():
    with pytest.raises(PipelineError, match="tcp://127.0.0.1:1"):
        Execution.open(scheduler="tcp://127.0.0.1:1", timeout=1)


def test_progress(caplog, monkeypatch):
    with caplog.at_level(logging.INFO, logger="gpudriz"):
        Execution.open(progress=False).map("stage1", t.work, range(3))
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["stage1"]
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    Execution.open(progress=True).map("stage2", t.work, range(3))
    assert "stage2" in sys.stderr.getvalue()


def test_worker_specs_cuda_round_robin():
    specs = worker_specs(3, "cuda", ["4", "5"], 100)
    assert [s["options"]["env"]["CUDA_VISIBLE_DEVICES"] for s in specs.values()] == ["4", "5", "4"]
    assert all(s["options"]["nthreads"] == 1 and s["cls"] is distributed.Nanny for s in specs.values())
    assert "CUDA_VISIBLE_DEVICES" not in worker_specs(1, "cpu", ["0"], 100)[0]["options"]["env"]
    assert "dask worker" in cluster_help()
