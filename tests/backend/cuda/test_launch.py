"""How the CUDA drivers launch a kernel (:mod:`gpudriz.backend.cuda.launch`)."""

import numpy as np
import pytest

from gpudriz.backend import DeviceMemoryError
from gpudriz.backend.cuda.launch import I32, Launcher, as_i32


class _Recorder:
    """A module loader whose kernels record their launches."""

    def __init__(self):
        self.calls = []

    def __call__(self, source, index64):
        recorder = self

        class _Module:
            def get_function(self, entry):
                def fn(grid, block, args):
                    recorder.calls.append((source, index64, entry, grid, block, args))

                return fn

        return _Module()


def test_as_i32():
    v = as_i32(7, "width")
    assert type(v) is I32 and v == 7
    assert as_i32(-(2**31), "x") == -(2**31)
    with pytest.raises(ValueError, match=r"width = 2147483648 does not fit the kernels' 32-bit"):
        as_i32(2**31, "width")


@pytest.mark.parametrize(("n", "grid"), [(1, 1), (256, 1), (257, 2), (10**6, 5)])
def test_grid_covers_the_work_up_to_max_grid(n, grid):
    rec = _Recorder()
    Launcher(rec, np, block=256, max_grid=5).launch("blot", "blot_kernel", n, [1, 2], False)
    assert rec.calls == [("blot", False, "blot_kernel", (grid,), (256,), (1, 2))]


def test_no_work_no_launch():
    rec = _Recorder()
    Launcher(rec, np).launch("drizzle", "drizzle_merge", 0, (), True)
    assert rec.calls == []


def test_check_memory_raises_device_memory_error():
    unlimited = Launcher(None, np)
    assert unlimited.free_bytes() is None
    unlimited.check_memory(10**15, "anything")
    small = Launcher(None, np, free_memory=lambda: 1024)
    assert small.free_bytes() == 1024
    small.check_memory(1024, "exactly what is free")
    with pytest.raises(DeviceMemoryError, match="the buffer needs 2.00 KiB of device memory"):
        small.check_memory(2048, "the buffer")
