"""Task records (gpudriz.pipeline.taskrecords): written after the task, read back only with the same key."""

import os

import numpy as np

from gpudriz.pipeline.io.products import atomic_write_text
from gpudriz.pipeline.taskrecords import TaskRecords, run_recorded


def _count_syncs(monkeypatch):
    synced = []
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd))
    return synced


def test_a_record_is_written_unsynced_and_a_broken_one_reads_as_none(tmp_path, monkeypatch):
    synced = _count_syncs(monkeypatch)
    records = TaskRecords(tmp_path / "tasks")
    product = tmp_path / "mask.npy"
    np.save(product, np.ones(3, bool))
    item = (str(records.path("static", "chip1")), "key-1", (str(product),))
    assert run_recorded(item, lambda p: {"path": p}) == {"path": str(product)}
    assert synced == []  # one record per task: not synced (a lost record only runs its task again)
    assert records.done("static", "chip1", "key-1") == {"path": str(product)}
    assert records.done("static", "chip1", "key-2") is None  # another key: stale
    records.path("static", "chip1").write_text('{"key": "key-1", "res')  # a record the disk did not keep whole
    assert records.done("static", "chip1", "key-1") is None
    run_recorded(item, lambda p: {"path": p})
    product.unlink()
    assert records.done("static", "chip1", "key-1") is None  # its product is gone


def test_other_text_files_are_synced_before_their_rename(tmp_path, monkeypatch):
    synced = _count_syncs(monkeypatch)
    atomic_write_text(tmp_path / "run.txt", "done\n")
    assert len(synced) == 1 and (tmp_path / "run.txt").read_text() == "done\n"
