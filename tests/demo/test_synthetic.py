"""The synthetic ACS/WFC association: file layout, and agreement of the exposures with their truth."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from gpudriz.demo import synthetic
from gpudriz.demo.synthetic import CHIPS, IDCSCALE, make_association


def _defects(truth, chip):
    """Boolean image of the hot pixels and bad-column pixels of a chip."""
    bad = np.zeros(truth.chip_shape, bool)
    hot = truth.hot_pixels[truth.hot_pixels["chip"] == chip]
    bad[np.asarray(hot["y"]), np.asarray(hot["x"])] = True
    for b in truth.bad_columns[truth.bad_columns["chip"] == chip]:
        bad[b["y_min"] : b["y_max"] + 1, b["x"]] = True
    return bad


def _positions(w, table):
    """0-based pixel positions of a truth table's sources through a chip's full WCS."""
    return w.all_world2pix(np.asarray(table["ra"]), np.asarray(table["dec"]), 0, tolerance=1e-8)


def _galaxy_reach(truth):
    """Cut-off radius of each galaxy in pixels, generously (local scale >= 0.8 IDCSCALE)."""
    return np.asarray(truth.galaxies["r_trunc"]) / (0.8 * IDCSCALE)


# ------------------------------------------------------------------ files


def test_exposure_files_have_the_acs_flt_layout(assoc):
    folder, truth = assoc
    assert truth.exposures == [f"j8demo01{s}_flt.fits" for s in "qrst"]
    for e, name in enumerate(truth.exposures):
        with fits.open(folder / name) as hdul:
            assert [(h.name, h.ver) for h in hdul] == [
                ("PRIMARY", 1), ("SCI", 1), ("ERR", 1), ("DQ", 1), ("SCI", 2), ("ERR", 2), ("DQ", 2),
            ]  # fmt: skip
            assert hdul[0].data is None
            p = hdul[0].header
            expected = {
                "TELESCOP": "HST", "INSTRUME": "ACS", "DETECTOR": "WFC", "ROOTNAME": name[:9],
                "ASN_ID": "J8DEMO01", "FILTER1": "F606W", "FILTER2": "CLEAR2L", "EXPTIME": 400.0,
                "CCDAMP": "ABCD", "CCDGAIN": 1.0, "CRSPLIT": 2, "PA_V3": 40.0,
                "ATODGNA": 1.02, "ATODGNB": 0.99, "ATODGNC": 1.01, "ATODGND": 0.98,
                "READNSEA": 4.97, "READNSEB": 4.23, "READNSEC": 4.52, "READNSED": 4.76,
            }  # fmt: skip
            assert {k: p[k] for k in expected} == expected
            assert "EXPSTART" in p
            for c in CHIPS:
                sci, err, dq = hdul["SCI", c], hdul["ERR", c], hdul["DQ", c]
                assert sci.data.dtype.kind == "f" and sci.data.dtype.itemsize == 4
                assert err.data.dtype.kind == "f" and err.data.dtype.itemsize == 4
                assert dq.data.dtype.kind == "i" and dq.data.dtype.itemsize == 2
                assert sci.data.shape == err.data.shape == dq.data.shape == truth.chip_shape
                h = sci.header
                assert (h["BUNIT"], h["CCDCHIP"], h["IDCSCALE"]) == ("ELECTRONS", 3 - c, 0.05)
                assert (h["CTYPE1"], h["CTYPE2"], h["A_ORDER"], h["B_ORDER"]) == ("RA---TAN-SIP", "DEC--TAN-SIP", 4, 4)
                assert "MDRIZSKY" not in h
                orientat = np.degrees(np.arctan2(h["CD1_2"], h["CD2_2"]))
                assert h["ORIENTAT"] == pytest.approx(orientat, abs=1e-5)
    # Exposure start times increase through the association.
    starts = [fits.getval(folder / n, "EXPSTART") for n in truth.exposures]
    assert np.all(np.diff(starts) > 400.0 / 86400.0)


def test_association_table_lists_members_and_product(assoc):
    folder, truth = assoc
    with fits.open(folder / truth.asn_file) as hdul:
        table = Table(hdul["ASN"].data)
    assert table.colnames == ["MEMNAME", "MEMTYPE", "MEMPRSNT"]
    rows = [(str(r["MEMNAME"]).strip(), str(r["MEMTYPE"]).strip(), bool(r["MEMPRSNT"])) for r in table]
    members = [r for r in rows if r[1].startswith("EXP")]
    assert members == [("J8DEMO01Q", "EXP-CR1", True), ("J8DEMO01R", "EXP-CR1", True),
                       ("J8DEMO01S", "EXP-CR2", True), ("J8DEMO01T", "EXP-CR2", True)]  # fmt: skip
    assert [r for r in rows if r[1] == "PROD-DTH"] == [("J8DEMO01", "PROD-DTH", False)]
    assert truth.rootname == "j8demo01"


def test_second_pointing_is_shifted_by_the_dither(exposures, assoc):
    _, truth = assoc
    assert np.array_equal(truth.pointing, [0, 0, 1, 1])
    x0, y0 = _positions(exposures[0, 1]["wcs"], truth.stars)
    x1, y1 = _positions(exposures[2, 1]["wcs"], truth.stars)
    ny, nx = truth.chip_shape
    on = (x0 > 0) & (x0 < nx - 1) & (y0 > 0) & (y0 < ny - 1)
    assert on.sum() >= 10
    # Non-integer and not uniform: the distortion changes the shift across the chip.
    assert np.allclose(x1[on] - x0[on], truth.dither[2, 0], atol=0.3)
    assert np.allclose(y1[on] - y0[on], truth.dither[2, 1], atol=0.3)
    assert np.ptp(x1[on] - x0[on]) > 0.01


# ------------------------------------------------------------------ scene and detector


def test_stars_peak_where_the_wcs_puts_them(exposures, assoc):
    _, truth = assoc
    ny, nx = truth.chip_shape
    iso = truth.stars[truth.stars["isolated"]]
    checked = 0
    for e in range(len(truth.exposures)):
        for c in CHIPS:
            ex = exposures[e, c]
            sci = np.where(truth.cr_mask(e, c) | _defects(truth, c), -np.inf, ex["sci"])
            x, y = _positions(ex["wcs"], iso)
            for xs, ys in zip(x, y):
                ix, iy = int(round(xs)), int(round(ys))
                if not (4 <= ix < nx - 4 and 4 <= iy < ny - 4):
                    continue
                box = sci[iy - 3 : iy + 4, ix - 3 : ix + 4]
                py, px = np.unravel_index(np.argmax(box), box.shape)
                assert abs(ix - 3 + px - xs) <= 1.0 and abs(iy - 3 + py - ys) <= 1.0
                checked += 1
    assert checked >= 60


def test_star_counts_match_flux_times_exptime(exposures, assoc):
    """Counts x pixel area (the geometric flat field) give flux x exptime."""
    _, truth = assoc
    ny, nx = truth.chip_shape
    r = synthetic.PSF_HALF + 1
    checked, centroids, measured, expected, variance = 0, 0, 0.0, 0.0, 0.0
    for e in range(len(truth.exposures)):
        for c in CHIPS:
            ex = exposures[e, c]
            sx, sy = _positions(ex["wcs"], truth.stars)
            gx, gy = _positions(ex["wcs"], truth.galaxies)
            defects = _defects(truth, c)
            signal = ex["sci"] - truth.sky[e] - truth.cr_energy(e, c) / ex["area"]
            for i in np.nonzero(truth.stars["isolated"])[0]:
                ix, iy = int(round(sx[i])), int(round(sy[i]))
                if not (r <= ix < nx - r and r <= iy < ny - r):
                    continue
                # Nothing else may drop light into the box.
                others = np.hypot(sx - sx[i], sy - sy[i]) < 2 * r
                near_galaxy = np.hypot(gx - sx[i], gy - sy[i]) < 2 * r + _galaxy_reach(truth)
                box = np.s_[iy - r : iy + r + 1, ix - r : ix + r + 1]
                if others.sum() > 1 or near_galaxy.any() or defects[box].any():
                    continue
                total = signal[box].sum() * ex["area"][iy, ix]
                sigma = np.sqrt(np.sum((ex["err"][box] * ex["area"][iy, ix]) ** 2))
                true = truth.stars["flux"][i] * truth.exptime
                assert abs(total - true) < 5.0 * sigma
                if true > 40000.0:  # bright enough for a centroid to 0.1 px
                    yy, xx = np.mgrid[box]
                    assert (signal[box] * xx).sum() / signal[box].sum() == pytest.approx(sx[i], abs=0.1)
                    assert (signal[box] * yy).sum() / signal[box].sum() == pytest.approx(sy[i], abs=0.1)
                    centroids += 1
                checked += 1
                measured, expected, variance = measured + total, expected + true, variance + sigma**2
    assert checked >= 30 and centroids >= 10
    assert abs(measured - expected) < 4.0 * np.sqrt(variance)


def test_sky_of_empty_regions_matches_the_truth(exposures, assoc):
    _, truth = assoc
    assert np.all((truth.sky >= 20.0) & (truth.sky <= 60.0)) and len(set(truth.sky)) == 4
    ny, nx = truth.chip_shape
    yy, xx = np.indices(truth.chip_shape)
    for e in range(len(truth.exposures)):
        for c in CHIPS:
            ex = exposures[e, c]
            empty = ~(truth.cr_mask(e, c) | _defects(truth, c))
            for table, radius in ((truth.stars, 12.0), (truth.galaxies, _galaxy_reach(truth) + 5.0)):
                x, y = _positions(ex["wcs"], table)
                for xs, ys, rad in zip(x, y, np.broadcast_to(radius, x.shape)):
                    if -rad < xs < nx + rad and -rad < ys < ny + rad:
                        empty &= (xx - xs) ** 2 + (yy - ys) ** 2 > rad**2
            assert empty.mean() > 0.5
            assert ex["sci"][empty].mean() == pytest.approx(truth.sky[e], abs=0.2)


def test_cosmic_rays_differ_between_exposures_of_one_pointing(exposures, assoc):
    _, truth = assoc
    npix = np.prod(truth.chip_shape)
    for c in CHIPS:
        masks = [truth.cr_mask(e, c) for e in range(4)]
        for m in masks:
            assert 0.004 < m.sum() / npix < 0.012
        for a in range(4):
            for b in range(a + 1, 4):
                assert (masks[a] & masks[b]).sum() < 0.05 * masks[a].sum()
        # Same pointing, so the difference of the two images is the cosmic rays.
        energy = truth.cr_energy(0, c)
        only_first = (energy > 1000.0) & ~masks[1] & ~_defects(truth, c)
        diff = exposures[0, c]["sci"] - exposures[1, c]["sci"]
        assert only_first.sum() > 50
        assert np.median(diff[only_first]) > 800.0
    energies = truth.cosmic_rays["energy"]
    assert energies.min() >= 150.0 and np.percentile(energies, 99) > 2000.0


def test_dq_flags_hot_pixels_and_bad_columns_only(exposures, assoc):
    _, truth = assoc
    for c in CHIPS:
        expected = np.zeros(truth.chip_shape, np.int64)
        hot = truth.hot_pixels[truth.hot_pixels["chip"] == c]
        flagged = hot[hot["flagged"]]
        expected[np.asarray(flagged["y"]), np.asarray(flagged["x"])] |= 16
        for b in truth.bad_columns[truth.bad_columns["chip"] == c]:
            expected[b["y_min"] : b["y_max"] + 1, b["x"]] |= 4
        assert 0 < len(flagged) < len(hot)
        for e in range(4):
            assert np.array_equal(exposures[e, c]["dq"], expected)


def test_hot_pixels_and_bad_columns_show_in_every_exposure(exposures, assoc):
    _, truth = assoc
    for e in range(4):
        for c in CHIPS:
            sci = exposures[e, c]["sci"]
            hot = truth.hot_pixels[(truth.hot_pixels["chip"] == c) & (truth.hot_pixels["rate"] > 2.0)]
            assert np.median(sci[np.asarray(hot["y"]), np.asarray(hot["x"])] - truth.sky[e]) > 500.0
            b = truth.bad_columns[truth.bad_columns["chip"] == c][0]
            assert np.median(sci[b["y_min"] : b["y_max"] + 1, b["x"]]) < 0.5 * truth.sky[e]


def test_err_and_gain_follow_each_amplifier(exposures, assoc):
    """ERR = sqrt(counts + rn^2); data are whole ADU of the amplifier's gain."""
    _, truth = assoc
    amps = {1: ("C", "D"), 2: ("A", "B")}
    nx = truth.chip_shape[1]
    for c in CHIPS:
        ex = exposures[0, c]
        raw = ex["sci"] * ex["area"]
        for half, amp in zip((np.s_[:, : nx // 2], np.s_[:, nx // 2 :]), amps[c]):
            rn, gain = truth.readnoise[amp], truth.gain[amp]
            err2 = np.maximum(raw[half], 0.0) + rn**2
            assert np.allclose((ex["err"][half] * ex["area"][half]) ** 2, err2, rtol=1e-5)
            adu = raw[half] / gain
            small = np.abs(adu) < 2000
            assert np.allclose(adu[small], np.rint(adu[small]), atol=1e-3)


# ------------------------------------------------------------------ determinism and arguments


def test_same_seed_writes_identical_files(tmp_path):
    kwargs = {"chip_shape": (64, 128), "rootname": "j9test01"}
    make_association(tmp_path / "a", seed=3, **kwargs)
    make_association(tmp_path / "b", seed=3, **kwargs)
    make_association(tmp_path / "c", seed=4, **kwargs)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["j9test01_asn.fits", "j9test01_truth.fits"] + [f"j9test01{s}_flt.fits" for s in "qrst"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "j9test01q_flt.fits").read_bytes() != (tmp_path / "c" / "j9test01q_flt.fits").read_bytes()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"chip_shape": (32, 512)}, "chip_shape"),
        ({"chip_shape": (256.5, 512)}, "chip_shape"),
        ({"seed": -1}, "seed"),
        ({"rootname": "j8/demo"}, "rootname"),
        ({"exptime": 0.0}, "exptime"),
        ({"dither": (1.0,)}, "dither"),
        ({"gap": -3}, "gap"),
        ({"n_stars": 2.5}, "n_stars"),
        ({"cr_fraction": 0.5}, "cr_fraction"),
    ],
)
def test_bad_arguments_are_named(tmp_path, kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_association(tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())
