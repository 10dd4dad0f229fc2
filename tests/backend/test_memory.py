"""The memory checks both backends share (:mod:`gpudriz.backend.memory`).

:func:`~gpudriz.backend.memory.available_memory` (cgroups, ``RLIMIT_AS``) is tested where the
pipeline uses it, in ``tests/pipeline/test_reliability.py``.
"""

import math

import pytest

from gpudriz.backend import cpu, memory


def test_format_bytes():
    assert memory.format_bytes(0) == "0 bytes"
    assert memory.format_bytes(1023) == "1023 bytes"
    assert memory.format_bytes(1536) == "1.50 KiB"
    assert memory.format_bytes(3 * 2**30) == "3.00 GiB"
    assert memory.format_bytes(64 * 2**20, decimals=1) == "64.0 MiB"
    assert memory.format_bytes(math.inf) == "unlimited"


def test_require_memory_names_what_and_where():
    memory.require_memory(10, None, "x", "memory", MemoryError)  # unknown: never refused
    memory.require_memory(10, 10, "x", "memory", MemoryError)
    with pytest.raises(OSError, match=r"^the stack needs 2.00 KiB of disk but only 1.00 KiB are free\.$"):
        memory.require_memory(2048, 1024, "the stack", "disk", OSError)


def test_host_free_bytes_reads_meminfo(tmp_path, monkeypatch):
    (tmp_path / "meminfo").write_text("MemTotal: 100 kB\nMemAvailable:   2048 kB\n")
    monkeypatch.setattr(memory, "PROC_SELF", tmp_path / "self")
    assert memory.host_free_bytes() == 2 * 2**20
    assert cpu.free_bytes() == 2 * 2**20
    with pytest.raises(MemoryError, match="the image needs 4.00 MiB of memory but only 2.00 MiB"):
        cpu.check_memory(4 * 2**20, "the image")
    (tmp_path / "meminfo").unlink()
    assert memory.host_free_bytes() is None
    cpu.check_memory(2**40, "anything")  # unknown: not refused
