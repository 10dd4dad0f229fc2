"""``gpudriz demo``'s work: the whole pipeline on the synthetic association, checked against its truth."""

from astropy.io import fits

from gpudriz.demo.pipeline_demo import run_pipeline_demo


def test_pipeline_demo_writes_products_and_checks_truth(tmp_path):
    r = run_pipeline_demo(tmp_path, chip_shape=(128, 256), backend="cpu")
    assert r.directory == tmp_path and r.backend == "cpu" and r.seconds > 0
    assert r.products["drz"] == tmp_path / "j8demo01_drz.fits"
    with fits.open(r.products["drz"]) as hdul:
        assert [h.name for h in hdul[1:]] == ["SCI", "WHT", "CTX", "ERR", "INPUTS"]
    png = r.quicklook.read_bytes()
    assert r.quicklook == tmp_path / "j8demo01_drz.png"
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and b"IEND" in png[-12:]
    # The science figures are measured: most injected cosmic rays found, few clean pixels flagged.
    f = r.figures
    assert f.cr_count > 0 and f.cr_detected > 0.8 and f.false_flag_rate < 1e-3
    summary = r.summary()
    assert "MultiDrizzle pipeline" in summary and "cosmic rays above 5 sigma detected" in summary
