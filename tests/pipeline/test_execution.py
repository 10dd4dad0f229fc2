"""Execution: in-process and Dask stages give the same results; errors, closing, progress."""

import io
import logging
import os
import pickle
import sys
import time

import distributed
import pytest
from helpers import execution_tasks as t

from gpudriz.pipeline import execution
from gpudriz.pipeline.execution import (
    BATCHES_PER_SLOT,
    MAX_BATCH,
    Execution,
    batch_bounds,
    cluster_help,
    cores_per_worker,
    release_freed_memory,
    run_batch,
    task_threads,
    worker_specs,
)
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


@pytest.mark.parametrize("n, slots", [(1, 2), (12, 2), (36, 2), (512, 2), (2048, 2), (2048, 100), (7, 64)])
def test_batches_cover_every_task_once_in_order(n, slots):
    b = batch_bounds(n, slots)
    assert b[0] == 0 and b[-1] == n and all(x < y for x, y in zip(b, b[1:]))
    sizes = [y - x for x, y in zip(b, b[1:])]
    assert max(sizes) <= MAX_BATCH or len(sizes) >= BATCHES_PER_SLOT * slots
    assert len(sizes) >= min(n, BATCHES_PER_SLOT * slots)  # a few heavy tasks keep one per batch


def test_a_stage_of_many_tasks_goes_in_batches(local):
    # 100 tasks on 2 workers: batches of ~3, results still in the items' order.
    assert local.map("b", t.work, range(100), 0.5) == [t.work(i, 0.5) for i in range(100)]


def test_a_batch_result_is_released_on_the_worker_once_gathered(local):
    """Not at the stage's end: a build's headers read on the workers held their memory until then."""
    n = 64
    held = local.map("held", t.results_held, range(n), n - 1, "held")
    assert held[-1] == 0


def test_a_result_waits_on_its_worker_as_bytes(local):
    """Until the client gathers it (late when its process is busy), a worker holds a batch's pickled result."""
    held = []

    def wait_for_every_batch():  # ``meanwhile``: runs before the client gathers anything
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            held[:] = [k for types in local.client.run(t.held_result_types, "wait").values() for k in types]
            if len(held) >= 4:
                return
            time.sleep(0.05)

    items = [{"payload": list(range(i))} for i in range(40)]
    assert local.map("wait", t.echo, items, meanwhile=wait_for_every_batch) == items
    assert len(held) >= 4 and set(held) == {"bytes"}


def test_workers_share_the_cores(local):
    # Each task limits its kernels to its worker's share, whatever Numba read at import.
    assert set(local.map("n", t.numba_threads, range(4))) == {cores_per_worker(2)}
    assert task_threads({}) is None  # outside a worker: this process's own setting


def test_local_workers_keep_glibc_s_own_mmap_threshold(local):
    # Dask's MALLOC_TRIM_THRESHOLD_ made every array above 128 KiB a fresh mmap (tasks 1.45x slower).
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:  # an earlier Dask cluster of this process would pass it on
        assert local.map("e", t.environment, range(2), "MALLOC_TRIM_THRESHOLD_") == [None, None]


def test_a_batch_gives_the_memory_it_freed_back_once(monkeypatch):
    calls = []
    monkeypatch.setattr(execution, "_MALLOC_TRIM", lambda pad: calls.append(pad))
    batch = [pickle.dumps(i) for i in range(3)]
    assert pickle.loads(run_batch(batch, t.work, {}, 2.0)) == [t.work(i, 2.0) for i in range(3)]
    assert calls == [0]


def test_without_malloc_trim_nothing_is_released(monkeypatch):
    monkeypatch.setattr(execution, "_MALLOC_TRIM", None)
    release_freed_memory()  # macOS, musl: no such call, and no error
