"""The benchmark scripts run (their figures are not checked: benchmarks print, tests do not time)."""

import importlib.util
from pathlib import Path

import pytest
from cuda_host import gxx_available

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    path = BENCH / f"{name}.py"
    if not path.exists():
        pytest.skip(f"{path} is not in this checkout")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not gxx_available(), reason="g++ is needed for the host-compiled kernels")
def test_bench_cuda_smoke_runs(capsys):
    _load("bench_cuda").main(["--smoke", "--repeat", "1"])
    out = capsys.readouterr().out
    assert "copy bandwidth" in out
    for name in ("square", "lanczos3", "poly5", "sinc", "mosaic"):
        assert name in out
