"""The MultiDrizzle pipeline end to end on the synthetic association (manual sections 1.2-1.4).

One run of the manual's Python session is shared by most tests (module
fixture); science figures are checked against the injected truth.
"""

import hashlib
import shutil

import numpy as np
import pytest
from astropy.io import fits
from helpers.cuda_host import gxx_available, host_backend

import gpudriz
from gpudriz.cli import main
from gpudriz.demo.pipeline_demo import evaluate
from gpudriz.demo.synthetic import make_association

CHIP = (128, 256)


def _checksums(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*_flt.fits"))}


@pytest.fixture(scope="module")
def association(tmp_path_factory):
    folder = tmp_path_factory.mktemp("asn")
    truth = make_association(folder, chip_shape=CHIP, seed=3)
    return folder, truth


@pytest.fixture(scope="module")
def session(association, tmp_path_factory):
    """The manual's session: Multidrizzle(...), build(), run(), in a copy of the association."""
    src, truth = association
    folder = tmp_path_factory.mktemp("run")
    for p in src.iterdir():
        shutil.copy(p, folder / p.name)
    before = _checksums(folder)
    md = gpudriz.Multidrizzle(input=str(folder / truth.asn_file), output=None, editpars=False,
                              workdir=folder, backend="cpu")  # fmt: skip
    md.build()
    products = md.run()
    return md, products, truth, folder, before


def test_build_exposes_the_computed_values(session):
    md, _, truth, _, _ = session
    assert len(md.exposures) == 4 and len(md.chips) == 8
    c = md.chips[0]
    assert c.chip.shape == CHIP
    assert c.chip.exptime == truth.exptime
    assert c.chip.units == "electrons"
    assert c.chip.gain == pytest.approx(np.mean([truth.gain["C"], truth.gain["D"]]), rel=1e-6)
    assert c.chip.rdnoise == pytest.approx(np.mean([truth.readnoise["C"], truth.readnoise["D"]]),
                                           rel=1e-6)  # fmt: skip
    assert md.output == truth.rootname
    ny, nx = md.final_frame.shape
    assert ny > CHIP[0] and nx > CHIP[1] // 2
    assert md.final_frame.pixel_scale == pytest.approx(0.05, rel=1e-3)


def test_products_and_headers(session):
    md, products, truth, folder, _ = session
    drz = folder / f"{truth.rootname}_drz.fits"
    assert products["drz"] == drz
    with fits.open(drz) as h:
        assert [x.name for x in h[1:]] == ["SCI", "WHT", "CTX", "ERR", "INPUTS"]
        assert h["SCI"].header["BUNIT"] == h["ERR"].header["BUNIT"] == "ELECTRONS/S"
        assert h["SCI"].header["CTYPE1"].startswith("RA---TAN")
        assert h[0].header["GPDZBACK"] == "cpu"
        assert h[0].header["NDRIZIM"] == 8
        inputs = h["INPUTS"].data
        assert len(inputs) == 8 and inputs["MDRIZSKY"][0] == pytest.approx(md.chips[0].sky)
        assert inputs["FILENAME"][0] == md.chips[0].chip.path.name  # ASCII names read back as str
        assert not any(k.startswith("D001") for k in h[0].header)
        ctx = h["CTX"].data
        assert ctx.max() > 0 and (ctx != 0).sum() == (h["WHT"].data > 0).sum()
    for exp in truth.exposures:
        root = exp.replace("_flt.fits", "")
        with fits.open(folder / f"{root}_crmask.fits") as h:
            masks = [x for x in h if x.name == "CRMASK"]
            assert [x.header["EXTVER"] for x in masks] == [1, 2]
            assert all(x.data.shape == CHIP for x in masks)
        assert (folder / f"{root}_single_sci.fits").exists()
        assert (folder / f"{root}_sci1_blt.fits").exists()
    assert (folder / f"{truth.rootname}_med.fits").exists()
    assert "gpudriz" in (folder / "multidrizzle.run").read_text()
    # MDRIZSKY near the truth (the sky is the minimum over the exposure's chips).
    for w in md.chips:
        k = truth.exposures.index(w.chip.path.name)
        assert w.sky == pytest.approx(truth.sky[k], abs=1.0)


def test_inputs_are_never_modified(session):
    _, _, _, folder, before = session
    assert _checksums(folder) == before


def test_science_against_truth(session):
    md, _, truth, _, _ = session
    f = evaluate(md, truth)
    assert f.cr_count > 500 and f.cr_detected > 0.95
    assert f.star_peak_count > 50 and f.star_peaks_flagged < 0.02
    assert f.star_count >= 5
    assert f.phot_small == pytest.approx(1.0, abs=0.01)
    assert f.centroid_offset < 0.05


def test_command_line_runs_the_same_pipeline(association, tmp_path, monkeypatch, capsys):
    src, truth = association
    for p in src.iterdir():
        shutil.copy(p, tmp_path / p.name)
    monkeypatch.chdir(tmp_path)
    assert main([truth.asn_file, "final_pixfrac=0.8", "--build", "no", "--backend", "cpu",
                 "clean=yes", "driz_cr_corr=yes"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "drz_sci" in out
    for name in ("sci", "wht", "ctx"):
        assert (tmp_path / f"{truth.rootname}_drz_{name}.fits").exists()
    assert not (tmp_path / f"{truth.rootname}_med.fits").exists()  # clean=yes
    root = truth.exposures[0].replace("_flt.fits", "")
    with fits.open(tmp_path / f"{root}_cor.fits") as cor, fits.open(tmp_path / truth.exposures[0]) as raw:
        cr = fits.getdata(tmp_path / f"{root}_crmask.fits", 1).astype(bool)
        assert cr.any()
        assert np.array_equal(cor[1].data[~cr], raw[1].data[~cr])
        assert not np.array_equal(cor[1].data[cr], raw[1].data[cr])
    assert "final_pixfrac=0.8" in (tmp_path / "multidrizzle.run").read_text()


def test_command_line_errors_are_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["nothing_flt.fits"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing_flt.fits" in err[0]
    assert main(["x.fits", "final_pixfrc=0.8"]) == 1
    assert "did you mean 'final_pixfrac'" in capsys.readouterr().err
    assert main(["x.fits", "final_pixfrac=-1"]) == 1
    assert "final_pixfrac" in capsys.readouterr().err


def _kernel_backend(name):
    if name == "host":
        if not gxx_available():
            pytest.skip("g++ is needed for the host-compiled kernels")
        return host_backend(block=128, max_grid=16)
    ok, why = gpudriz.cuda_status()
    if not ok:
        pytest.skip(f"no CUDA device: {why}")
    return gpudriz.get_backend("cuda")


@pytest.mark.parametrize("kind", ["host", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_pipeline_on_the_cuda_kernels_matches_the_cpu(association, session, tmp_path, kind):
    """The whole pipeline through the CUDA driver: host-compiled .cu sources, or a real GPU."""
    src, truth = association
    for p in src.iterdir():
        shutil.copy(p, tmp_path / p.name)
    md = gpudriz.Multidrizzle(input=str(tmp_path / truth.asn_file), workdir=tmp_path,
                              backend=_kernel_backend(kind))  # fmt: skip
    md.run()
    cpu = session[0]
    for a, b in zip(md.chips, cpu.chips):
        assert a.sky == pytest.approx(b.sky, rel=1e-6)
        # Atomic sums round in another order than the CPU's bands: a pixel at
        # the threshold may flip, nothing more.
        flips = np.count_nonzero(gpudriz.backend.arrays.to_host(a.crmask) != np.asarray(b.crmask))
        assert flips <= 1e-4 * a.crmask.size
    for ext in ("SCI", "ERR"):
        got = fits.getdata(md.products["drz"], ext)
        want = fits.getdata(cpu.products["drz"], ext)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.nanmax(np.abs(want)))
