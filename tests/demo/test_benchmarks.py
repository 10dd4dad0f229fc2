"""The benchmark scripts run (their figures are not checked: benchmarks print, tests do not time)."""

import importlib.util

import pytest
from helpers.cuda_host import gxx_available
from helpers.paths import BENCHMARKS_DIR

BENCH = BENCHMARKS_DIR


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


def test_bench_astrodrizzle_gpudriz_half_runs(tmp_path):
    """The gpudriz side of the AstroDrizzle comparison (AstroDrizzle itself needs drizzlepac)."""
    from gpudriz.demo.synthetic import make_association

    bench = _load("bench_astrodrizzle")
    truth = make_association(tmp_path, chip_shape=(64, 128), seed=2)
    got = bench.run_gpudriz(tmp_path, truth, bench.chip_wcs(tmp_path, truth))
    assert got["seconds"] > 0 and set(got["steps"]) >= {"build", "driz_cr", "driz_combine"}
    assert 0.0 <= got["cr_detected"] <= 1.0 and got["bunit"] == "ELECTRONS/S"
    assert got["sky_error"] < 5.0
