"""Host and device arrays (:mod:`gpudriz.backend.arrays`); CuPy cases run where a device answers."""

import numpy as np

from gpudriz.backend.arrays import copy_into, is_device_array, to_host, to_xp


def test_host_arrays_and_lists():
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    assert not is_device_array(a) and not is_device_array([1, 2])
    assert to_host(a) is a
    assert isinstance(to_host([1, 2]), np.ndarray)


def test_to_xp_copies_only_when_needed(xp):
    a = xp.arange(6, dtype=xp.float64).reshape(2, 3)
    if xp is np:
        assert to_xp(a, xp) is a  # already contiguous: no copy
    f = to_xp(a.T, xp, np.float32)
    assert f.dtype == np.float32 and f.flags.c_contiguous
    assert np.array_equal(to_host(f), to_host(a).T.astype(np.float32))
    assert isinstance(to_xp(a, np), np.ndarray)


def test_copy_into_across_kinds(xp):
    dst = xp.zeros(3, dtype=xp.float32)
    copy_into(dst, np.array([1.0, 2.0, 3.0]))
    assert to_host(dst).tolist() == [1.0, 2.0, 3.0]
    host = np.zeros(3, dtype=np.float32)
    copy_into(host, dst)
    assert host.tolist() == [1.0, 2.0, 3.0]
