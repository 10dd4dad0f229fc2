"""Initialization parameters seen in the products (manual section 1.4, step 1).

Each test runs the pipeline on a small synthetic association with one
parameter set and checks its effect on what is written: output frames (ra,
dec, outnx/outny, scale, rot, driz_sep_*, refimage), group, bits, context,
build, clean, runfile, final_wht_type IVM/ERR, workinplace with crbit and a
re-run with ``skyuser``.
"""

import math
import shlex
import shutil

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

import gpudriz
from gpudriz.backend.arrays import to_host
from gpudriz.cli import main
from gpudriz.demo.synthetic import make_association

CHIP = (64, 128)
CRBIT = 4096
#: run() switches for the final drizzle alone.
FINAL_ONLY = dict(static=False, skysub=False, driz_separate=False, median=False, blot=False,
                  driz_cr=False)  # fmt: skip


@pytest.fixture(scope="module")
def association(tmp_path_factory):
    folder = tmp_path_factory.mktemp("asn")
    truth = make_association(folder, chip_shape=CHIP, seed=11)
    return folder, truth


def _copy(src, dst):
    dst.mkdir(parents=True, exist_ok=True)
    for p in src.iterdir():
        shutil.copy(p, dst / p.name)
    return dst


def _md(folder, truth, **pars):
    return gpudriz.Multidrizzle(input=str(folder / truth.asn_file), workdir=folder, backend="cpu",
                                **pars)  # fmt: skip


def _run(folder, truth, steps=None, **pars):
    md = _md(folder, truth, **pars)
    md.build()
    md.run(**(steps or {}))
    return md


def _drz(md, ext="SCI"):
    with fits.open(md.products["drz"]) as h:
        return h[ext].data.copy(), h[ext].header.copy()


@pytest.fixture(scope="module")
def reference(association, tmp_path_factory):
    """A full run with the defaults (workinplace=no), in its own copy."""
    src, truth = association
    folder = _copy(src, tmp_path_factory.mktemp("reference"))
    return _run(folder, truth)


# -- output frames -------------------------------------------------------------------


def _position_angle(w, x, y):
    """Position angle (deg East of North) of the +y axis at pixel (x, y), from the sky."""
    (a0, d0), (a1, d1) = w.all_pix2world([[x, y], [x, y + 1.0]], 0)
    east = (a1 - a0) * math.cos(math.radians(d0))
    return math.degrees(math.atan2(east, d1 - d0))


def _scale_arcsec(w, x, y):
    (a0, d0), (a1, d1) = w.all_pix2world([[x, y], [x, y + 1.0]], 0)
    return math.hypot((a1 - a0) * math.cos(math.radians(d0)), d1 - d0) * 3600.0


def _check_frame(header, ra, dec, shape, scale, rot):
    w = WCS(header)
    assert (header["NAXIS2"], header["NAXIS1"]) == shape
    np.testing.assert_allclose(w.wcs.crval, (ra, dec), rtol=0, atol=1e-10)
    # CRVAL sits at the frame centre
    cx, cy = w.all_world2pix([[ra, dec]], 0)[0]
    assert (cx, cy) == pytest.approx(((shape[1] - 1) / 2, (shape[0] - 1) / 2), abs=1e-6)
    assert _scale_arcsec(w, cx, cy) == pytest.approx(scale, rel=1e-6)
    assert _position_angle(w, cx, cy) == pytest.approx(rot, abs=1e-4)


def test_frames_obey_ra_dec_size_scale_and_rot(association, tmp_path):
    src, truth = association
    folder = _copy(src, tmp_path)
    ra, dec = float(truth.stars["ra"][0]), float(truth.stars["dec"][0])
    md = _run(folder, truth, dict(static=False, skysub=False, median=False, blot=False, driz_cr=False),
              ra=ra, dec=dec, final_outnx=101, final_outny=81, final_scale=0.07, final_rot=30.0,
              driz_sep_outnx=91, driz_sep_outny=71, driz_sep_scale=0.06, driz_sep_rot=-15.0)  # fmt: skip
    _, header = _drz(md)
    _check_frame(header, ra, dec, (81, 101), 0.07, 30.0)
    for exp in truth.exposures:
        single = folder / exp.replace("_flt.fits", "_single_sci.fits")
        _check_frame(fits.getheader(single), ra, dec, (71, 91), 0.06, -15.0)


def test_defaults_give_north_up_at_the_native_scale(reference):
    _, header = _drz(reference)
    w = WCS(header)
    x, y = (c - 1 for c in w.wcs.crpix)
    assert _position_angle(w, x, y) == pytest.approx(0.0, abs=1e-6)
    assert _scale_arcsec(w, x, y) == pytest.approx(0.05, rel=1e-6)  # ACS/WFC IDCSCALE


def test_refimage_gives_its_wcs_and_shape_exactly(association, tmp_path):
    src, truth = association
    folder = _copy(src, tmp_path)
    ref = WCS(naxis=2)
    ref.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    ref.wcs.crval = [float(truth.stars["ra"][1]), float(truth.stars["dec"][1])]
    ref.wcs.crpix = [40.5, 33.25]
    th = math.radians(20.0)
    s = 0.045 / 3600.0
    ref.wcs.cd = [[-s * math.cos(th), s * math.sin(th)], [s * math.sin(th), s * math.cos(th)]]
    fits.PrimaryHDU(np.zeros((77, 93), np.float32), header=ref.to_header()).writeto(folder / "ref.fits")
    ref = WCS(fits.getheader(folder / "ref.fits"))  # as written: header precision
    md = _run(folder, truth, FINAL_ONLY, refimage="ref.fits", final_scale=0.1, final_rot=45.0)
    sci, header = _drz(md)
    assert sci.shape == (77, 93)
    got = WCS(header)
    np.testing.assert_array_equal(got.wcs.crval, ref.wcs.crval)
    np.testing.assert_array_equal(got.wcs.crpix, ref.wcs.crpix)
    np.testing.assert_allclose(got.pixel_scale_matrix, ref.pixel_scale_matrix, rtol=1e-15, atol=0)


# -- group and bits ------------------------------------------------------------------


@pytest.mark.parametrize("group, extver", [("1", 1), ("sci,1", 1), ("SCI,2", 2), (2, 2)])
def test_group_processes_one_chip(association, tmp_path, group, extver):
    src, truth = association
    folder = _copy(src, tmp_path)
    md = _run(folder, truth, FINAL_ONLY, group=group)
    assert [w.chip.extver for w in md.chips] == [extver] * len(truth.exposures)
    with fits.open(md.products["drz"]) as h:
        assert h[0].header["NDRIZIM"] == len(truth.exposures)
        assert list(h["INPUTS"].data["EXTVER"]) == [extver] * len(truth.exposures)


def test_bits_counts_flagged_pixels_as_good(association, tmp_path):
    src, truth = association
    folder = _copy(src, tmp_path)
    wht = {}
    for bits in (0, 16):  # 16: the synthetic hot pixels' flag
        md = _run(folder, truth, FINAL_ONLY, bits=bits, context=False)
        dq = md.chips[0].chip.read_dq()
        good = to_host(md.dq_good(md.chips[0]))
        hot_only = dq == 16
        assert hot_only.any()
        assert good[hot_only].all() == (bits == 16)
        assert not good[(dq & ~np.uint32(16)) != 0].any()
        wht[bits] = _drz(md, "WHT")[0]
    assert wht[16].sum() > wht[0].sum()


# -- products: context, build, clean, runfile ---------------------------------------------


@pytest.mark.parametrize("context", [True, False])
def test_context_switch(association, tmp_path, context):
    src, truth = association
    folder = _copy(src, tmp_path)
    md = _run(folder, truth, FINAL_ONLY, context=context)
    with fits.open(md.products["drz"]) as h:
        names = [x.name for x in h[1:]]
    assert ("CTX" in names) == context


def test_build_no_writes_separate_simple_files(association, tmp_path):
    src, truth = association
    folder = _copy(src, tmp_path)
    built = _run(folder, truth, FINAL_ONLY)
    sci = _drz(built)[0]
    md = _run(folder, truth, FINAL_ONLY, build=False, output="split")
    assert not (folder / "split_drz.fits").exists()
    for kind in ("sci", "wht", "ctx"):
        path = folder / f"split_drz_{kind}.fits"
        assert md.products[f"drz_{kind}"] == path
        with fits.open(path) as h:
            assert h[0].data is not None
            # The SCI file also carries the INPUTS table (gpudriz.pipeline.io.provenance).
            assert [x.name for x in h[1:]] == (["INPUTS"] if kind == "sci" else [])
    np.testing.assert_array_equal(fits.getdata(folder / "split_drz_sci.fits"), sci)


def test_clean_removes_the_intermediates_only(association, reference, tmp_path):
    src, truth = association
    kept = list(reference.intermediates)
    assert kept and all(p.exists() for p in kept)  # clean=no keeps them
    folder = _copy(src, tmp_path)
    md = _run(folder, truth, clean=True)
    for p in kept:
        assert not (folder / p.name).exists(), p.name
    assert md.products["drz"].exists()
    assert all(p.exists() for p in md.products.values())


def test_runfile_redoes_the_run(association, tmp_path, monkeypatch):
    src, truth = association
    first = _copy(src, tmp_path / "first")
    md = gpudriz.Multidrizzle(input=truth.asn_file, workdir=first, backend="cpu", static=False,
                              skysub=False, driz_separate=False, median=False, blot=False,
                              driz_cr=False, final_pixfrac=0.7, final_kernel="turbo",
                              runfile="redo.txt")  # fmt: skip
    md.build()
    md.run()
    sci = _drz(md)[0]
    text = (first / "redo.txt").read_text()
    assert not (first / "multidrizzle.run").exists()
    command = [line for line in text.splitlines() if not line.startswith("#")]
    assert len(command) == 1
    args = shlex.split(command[0])
    assert args[0] == "gpudriz" and "final_pixfrac=0.7" in args
    second = _copy(src, tmp_path / "second")
    monkeypatch.chdir(second)
    assert main(args[1:]) == 0
    np.testing.assert_array_equal(fits.getdata(second / f"{truth.rootname}_drz.fits", "SCI"), sci)


# -- final weights: IVM and ERR ---------------------------------------------------------


def _write_ivm(path, values, extvers=(1, 2)):
    hdus = [fits.PrimaryHDU()]
    for v, ver in zip(values, extvers):
        hdus.append(fits.ImageHDU(np.full(CHIP, v, np.float32),
                                  header=fits.Header([("EXTNAME", "IVM"), ("EXTVER", ver)])))  # fmt: skip
    fits.HDUList(hdus).writeto(path)


def _write_list(folder, lines):
    (folder / "inputs.lst").write_text("\n".join(lines) + "\n")
    return "@inputs.lst"


def test_ivm_weights_from_the_list_file(association, tmp_path):
    src, truth = association
    folder = _copy(src, tmp_path)
    t = truth.exptime
    exp = _run(folder, truth, FINAL_ONLY, context=False)
    sci_exp, wht_exp = _drz(exp)[0], _drz(exp, "WHT")[0]
    # An IVM equal to the exposure time everywhere reproduces the EXP weights.
    lines = []
    for k, name in enumerate(truth.exposures):
        _write_ivm(folder / f"ivm{k}.fits", (t, t))
        lines.append(f"{name} ivm{k}.fits")
    listed = _write_list(folder, lines)
    md = gpudriz.Multidrizzle(input=listed, output="ivm", workdir=folder, backend="cpu",
                              final_wht_type="IVM", context=False)  # fmt: skip
    md.build()
    md.run(**FINAL_ONLY)
    np.testing.assert_allclose(_drz(md, "WHT")[0], wht_exp, rtol=1e-5)
    np.testing.assert_allclose(_drz(md)[0], sci_exp, rtol=1e-5, atol=1e-6)
    # An IVM of zero removes its exposure: the same as leaving it out.
    (folder / "ivm0.fits").unlink()
    _write_ivm(folder / "ivm0.fits", (0.0, 0.0))
    md.run(**FINAL_ONLY)
    zeroed = _drz(md, "WHT")[0]
    three = gpudriz.Multidrizzle(input=",".join(truth.exposures[1:]), output="three",
                                 workdir=folder, backend="cpu", context=False)  # fmt: skip
    three.build()
    three.final_frame = md.final_frame  # the same frame, so the pixels compare
    three.run(**FINAL_ONLY)
    np.testing.assert_allclose(zeroed, _drz(three, "WHT")[0], rtol=1e-5)


def test_err_weights_are_inverse_variance(association, tmp_path):
    src, truth = association
    folder = _copy(src, tmp_path)
    t = truth.exptime
    err_value = {}
    for k, name in enumerate(truth.exposures):
        with fits.open(folder / name, mode="update") as h:
            for hdu in h:
                if hdu.name == "ERR":
                    err_value[k] = 5.0 + k  # electrons, one value per exposure
                    hdu.data[:] = err_value[k]
    md = _run(folder, truth, FINAL_ONLY, final_wht_type="ERR", context=False)
    wht = _drz(md, "WHT")[0]
    # Each exposure drizzled alone with EXP weights gives its coverage x exptime.
    expected = np.zeros_like(wht)
    for k, name in enumerate(truth.exposures):
        one = gpudriz.Multidrizzle(input=name, output=f"one{k}", workdir=folder, backend="cpu",
                                   context=False)  # fmt: skip
        one.build()
        one.final_frame = md.final_frame
        one.run(**FINAL_ONLY)
        expected += _drz(one, "WHT")[0] / t * (t / err_value[k]) ** 2
    np.testing.assert_allclose(wht, expected, rtol=2e-5, atol=1e-6 * expected.max())


# -- workinplace ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def in_place(association, tmp_path_factory):
    """A full run with workinplace=yes on a copy, and the originals to compare with."""
    src, truth = association
    folder = _copy(src, tmp_path_factory.mktemp("inplace"))
    md = _run(folder, truth, workinplace=True)
    return md, folder


def test_workinplace_subtracts_the_sky_in_the_inputs(association, reference, in_place):
    src, truth = association
    md, folder = in_place
    for w, r in zip(md.chips, reference.chips):
        assert w.sky == pytest.approx(r.sky, rel=1e-6)
        ext = ("SCI", w.chip.extver)
        with fits.open(folder / w.chip.path.name) as h, fits.open(src / w.chip.path.name) as o:
            sky = np.float32(w.sky / w.to_electrons)
            np.testing.assert_array_equal(h[ext].data, o[ext].data - sky)
            assert h[ext].header["MDRIZSKY"] == pytest.approx(w.sky / w.to_electrons)
            for name in ("ERR",):
                np.testing.assert_array_equal(h[name, w.chip.extver].data, o[name, w.chip.extver].data)
            assert h[0].header == o[0].header


def test_workinplace_sets_crbit_where_driz_cr_found_cosmic_rays(association, in_place):
    src, truth = association
    md, folder = in_place
    for w in md.chips:
        ext = ("DQ", w.chip.extver)
        with fits.open(folder / w.chip.path.name) as h, fits.open(src / w.chip.path.name) as o:
            dq, before = h[ext].data, o[ext].data
        assert w.crmask.sum() > 0
        np.testing.assert_array_equal((dq & CRBIT) != 0, w.crmask | ((before & CRBIT) != 0))
        np.testing.assert_array_equal(dq & ~CRBIT, before & ~CRBIT)


def test_workinplace_gives_the_same_science(reference, in_place):
    md, _ = in_place
    for w, r in zip(md.chips, reference.chips):
        # Sky subtracted in the file or in memory: float32 rounding only.
        assert (w.crmask != r.crmask).sum() <= 2
    sci, ref = _drz(md)[0], _drz(reference)[0]
    np.testing.assert_allclose(sci, ref, rtol=0, atol=1e-4 * np.nanmax(np.abs(ref)))


def test_rerun_with_skyuser_finds_the_same_cosmic_rays(association, reference, in_place, tmp_path):
    """Inputs already sky-subtracted (skyuser=MDRIZSKY): the noise model still counts the sky."""
    _, truth = association
    _, processed = in_place
    folder = _copy(processed, tmp_path)
    for name in truth.exposures:  # undo this run's flags so they do not mask the rerun
        with fits.open(folder / name, mode="update") as h:
            for hdu in h:
                if hdu.name == "DQ":
                    hdu.data &= ~np.int16(CRBIT)
    md = _run(folder, truth, skyuser="MDRIZSKY")
    for w, r in zip(md.chips, reference.chips):
        assert w.sky_by_user and w.sky == pytest.approx(r.sky, rel=1e-5)
        assert (w.crmask != r.crmask).sum() <= 2


def test_bits_with_crbit_resets_earlier_cosmic_ray_flags(association, in_place, tmp_path):
    _, truth = association
    first, processed = in_place
    folder = _copy(processed, tmp_path)
    w0 = first.chips[0]
    flagged = to_host(w0.crmask)
    # default bits: an earlier run's flags stay bad
    kept = _md(folder, truth, skyuser="MDRIZSKY").build()
    assert not to_host(kept.dq_good(kept.chips[0]))[flagged].any()
    # bits with crbit: they count as good again ...
    reset = _md(folder, truth, skyuser="MDRIZSKY", bits=CRBIT).build()
    clean = w0.chip.read_dq() & ~np.uint32(CRBIT) == 0
    assert to_host(reset.dq_good(reset.chips[0]))[flagged & clean].all()
    # ... and a run in place clears them before setting its own.
    stale = (0, 0)
    with fits.open(folder / w0.chip.path.name, mode="update") as h:
        h["DQ", w0.chip.extver].data[stale] |= CRBIT
    again = _run(folder, truth, skyuser="MDRIZSKY", bits=CRBIT, workinplace=True)
    with fits.open(folder / w0.chip.path.name) as h:
        dq = h["DQ", w0.chip.extver].data
    np.testing.assert_array_equal((dq & CRBIT) != 0, again.chips[0].crmask)
    assert not again.chips[0].crmask[stale]
