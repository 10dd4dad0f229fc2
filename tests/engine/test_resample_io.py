"""Host and device outputs of Drizzle (:mod:`gpudriz.resample_io`); the CuPy cases of Drizzle
itself are in ``tests/backend/cuda/test_ops.py``."""

import numpy as np
import pytest

from gpudriz.resample_io import OutputKinds


def test_on_the_cpu_outputs_are_used_in_place_when_they_can_be():
    io = OutputKinds(np)
    a = np.zeros((2, 3), np.float32)
    assert io.own(a, "out_img", np.float32, 2) is a and io.device_io is False
    b = io.own(np.zeros((2, 3), np.float64), "out_wht", np.float32, 2)
    assert b.dtype == np.float32
    assert io.give("out_img", a) is a and io.host_outputs == {}
    with pytest.raises(ValueError, match="'out_ctx' must be a 2-D or 3-D array"):
        io.own(np.zeros(3, np.int32), "out_ctx", np.int32, (2, 3))


class _FakeDeviceModule:
    """An array module standing in for CuPy: its arrays are NumPy copies."""

    float32 = np.float32

    @staticmethod
    def ascontiguousarray(a, dtype=None):
        return np.array(a, dtype=dtype, copy=True)

    @staticmethod
    def asarray(a):
        return np.array(a, copy=True)


def test_a_device_backend_mirrors_the_callers_numpy_outputs():
    io = OutputKinds(_FakeDeviceModule)
    host = np.zeros((2, 3), np.float32)
    dev = io.own(host, "out_img", np.float32, 2)
    assert dev is not host and io.host_outputs == {"out_img": host} and io.device_io is False
    dev[...] = 7.0
    io.sync({"out_img": dev}.get)
    assert (host == 7.0).all()
    assert io.give("out_img", dev) is not dev and io.give("out_img", dev).base is host
