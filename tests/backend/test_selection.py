"""Backend selection: the CPU backend, and what happens without a usable GPU.

Names and the environment variable are tested with the other argument checks, in
``tests/engine/test_validation.py``.
"""

import sys

import pytest

import gpudriz
from gpudriz.backend import cpu, selection


def test_cpu_backend_is_the_numba_drivers():
    be = gpudriz.get_backend("cpu")
    assert be.name == "cpu" and be.ops is cpu and be.xp.__name__ == "numpy"
    assert gpudriz.get_backend(be) is be  # a Backend is returned unchanged


def test_cuda_status_without_cupy(monkeypatch):
    selection.cuda_status.cache_clear()
    monkeypatch.setitem(sys.modules, "cupy", None)  # "import cupy" raises ImportError
    try:
        ok, why = selection.cuda_status()
        assert not ok and "CuPy is not installed" in why
        with pytest.raises(gpudriz.BackendUnavailableError, match="CuPy is not installed"):
            gpudriz.get_backend("cuda")
    finally:
        selection.cuda_status.cache_clear()


def test_auto_says_once_why_it_chose_the_cpu(monkeypatch, caplog):
    monkeypatch.setattr(selection, "cuda_status", lambda: (False, "no driver here"))
    monkeypatch.setattr(selection, "_auto_reported", False)
    with caplog.at_level("INFO", logger="gpudriz"):
        assert gpudriz.get_backend("auto").name == "cpu"
        assert gpudriz.get_backend("auto").name == "cpu"
    msgs = [r.getMessage() for r in caplog.records if "backend 'auto'" in r.getMessage()]
    assert msgs == ["gpudriz backend 'auto' chose the CPU: no driver here."]
