"""Shift files: the parser, and recovering a known misregistration through the pipeline.

The recovery tests perturb one exposure of a synthetic association (its
chips' WCS moved, rotated or scaled in the final frame, as a bad guide-star
solution would), give the measured misregistration in a shift file, and
check that every chip's pixmap into the unperturbed run's final frame is
back to within 0.01 px of the unperturbed one.
"""

import logging
import math
import shutil

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

import gpudriz
from gpudriz.demo.synthetic import make_association
from gpudriz.pipeline.geometry.shiftfile import (
    ShiftLine,
    corrected_wcs,
    correction_matrix,
    read_shiftfile,
)
from gpudriz.pipeline.io.inputs import InputError
from gpudriz.pixmap import calc_pixmap

CHIP = (64, 128)
MOVED = 1  # the perturbed exposure (j8demo01r)
TOL = 0.01  # px


# -- parser ----------------------------------------------------------------------


def _write(tmp_path, text, name="shifts.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_parser_reads_every_header_line_and_optional_column(tmp_path):
    path = _write(tmp_path, "\n".join([
        "# A shift file written by hand",
        "#frame: input",
        "# UNITS = arcseconds",
        "# form: Delta",
        "# refimage: ref_drz.fits[sci,1]",
        "",
        "j8demo01q  0.5  -1.25",
        "j8demo01r_flt.fits  1e-1  2   0.3   # rot only",
        "j8demo01s  0  0  -0.2  1.0005",
        "j8demo01t  1  2  0  1  0.01  0.02",
    ]))  # fmt: skip
    s = read_shiftfile(path)
    assert (s.frame, s.units, s.form, s.reference) == ("input", "arcseconds", "delta", "ref_drz.fits[sci,1]")
    assert s.shifts == (
        ShiftLine("j8demo01q", 0.5, -1.25, 0.0, 1.0, 7),
        ShiftLine("j8demo01r_flt.fits", 0.1, 2.0, 0.3, 1.0, 8),
        ShiftLine("j8demo01s", 0.0, 0.0, -0.2, 1.0005, 9),
        ShiftLine("j8demo01t", 1.0, 2.0, 0.0, 1.0, 10),
    )


def test_parser_reads_old_header_lines_without_colon(tmp_path):
    s = read_shiftfile(_write(tmp_path, "# frame input\n# units arcsec\n# frame 3 was bad\na 1 2\n"))
    assert (s.frame, s.units) == ("input", "arcseconds")


def test_parser_defaults_and_pydrizzle_reference_spelling(tmp_path):
    s = read_shiftfile(_write(tmp_path, "# reference: wcs.fits\na 1 2\n"))
    assert (s.frame, s.units, s.form, s.reference) == ("output", "pixels", "delta", "wcs.fits")
    s = read_shiftfile(_write(tmp_path, "a 1 2\n"))
    assert s.reference is None and s.shifts[0].xsh == 1.0


@pytest.mark.parametrize(
    "text, match",
    [
        ("a 1\n", r"line 1 has 2 column\(s\); expected 'name xsh ysh \[rot \[scale\]\]'"),
        ("a 1 2 3 4 5\n", r"line 1 has 6 column"),
        ("# units: pixels\na 1 x\n", r"line 2: 'x' is not a number"),
        ("a 1 nan\n", r"line 1: 'nan' is not a finite number"),
        ("a 1 2 0 0\n", r"line 1: scale 0 must be positive"),
        ("# frame: sky\na 1 2\n", r"line 1: frame 'sky' is not valid; expected input or output"),
        ("# units: furlongs\na 1 2\n", r"line 1: units 'furlongs' is not valid"),
        ("# form: absolute\na 1 2\n", r"line 1: form 'absolute' is not supported"),
        ("# frame: output\n# frame: input\na 1 2\n", r"line 2: frame 'input' contradicts line 1"),
        ("# refimage:\na 1 2\n", r"line 1: '# refimage:' has no value"),
        ("a 1 2\nA_flt.fits 3 4\n", r"line 2: 'A_flt.fits' names the same exposure as line 1"),
        ("# frame: output\n# only comments\n", r"has no exposure line"),
    ],
)
def test_parser_errors_name_the_file_and_line(tmp_path, text, match):
    path = _write(tmp_path, text)
    with pytest.raises(InputError, match=match) as err:
        read_shiftfile(path)
    assert str(path) in str(err.value)


def test_missing_shift_file(tmp_path):
    with pytest.raises(InputError, match=r"shift file '.*nothere\.txt' does not exist"):
        read_shiftfile(tmp_path / "nothere.txt")


# -- the correction formula ----------------------------------------------------


def test_corrected_wcs_follows_the_documented_formula(association):
    """X' = c + R(rot) (X - c - shift) / scale in the reference pixels, to << 0.01 px over the chip."""
    src, truth = association
    md = gpudriz.Multidrizzle(input=str(src / truth.asn_file), workdir=src, backend="cpu").build()
    ref = md.final_frame.wcs
    c = np.asarray(ref.wcs.crpix) - 1.0
    rot, scale, shift = 0.7, 1.002, np.array([3.0, -2.0])
    t = math.radians(rot)
    rmat = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    matrix = correction_matrix(rot, scale)
    np.testing.assert_allclose(matrix, rmat / scale, rtol=0, atol=1e-15)
    for w in md.chips:
        new = corrected_wcs(w.chip.wcs, ref, matrix, c - matrix @ (c + shift))
        before = calc_pixmap(w.chip.wcs, ref, shape=CHIP, method="exact").reshape(-1, 2).T
        after = calc_pixmap(new, ref, shape=CHIP, method="exact").reshape(-1, 2).T
        expected = c[:, None] + rmat @ (before - c[:, None] - shift[:, None]) / scale
        assert np.max(np.abs(after - expected)) < 1e-5
        assert new.sip is not None  # the distortion is kept


# -- recovering a misregistration ----------------------------------------------


@pytest.fixture(scope="module")
def association(tmp_path_factory):
    folder = tmp_path_factory.mktemp("asn")
    truth = make_association(folder, chip_shape=CHIP, seed=7)
    return folder, truth


@pytest.fixture(scope="module")
def unperturbed(association, tmp_path_factory):
    """The run without misregistration: its final frame (also written as ref.fits) and chip pixmaps."""
    src, truth = association
    md = gpudriz.Multidrizzle(input=str(src / truth.asn_file), workdir=src, backend="cpu").build()
    frame = md.final_frame
    ref = tmp_path_factory.mktemp("ref") / "ref.fits"
    fits.PrimaryHDU(np.zeros(frame.shape, np.float32), header=frame.header()).writeto(ref)
    maps = {(w.exposure.rootname, w.chip.extver): calc_pixmap(w.chip.wcs, frame.wcs, shape=CHIP)
            for w in md.chips}  # fmt: skip
    return frame, ref, maps


def _sky(w, x, y):
    return np.asarray(w.pixel_to_world_values(x, y), dtype=np.float64)


def _refit(w, transform):
    """``w`` with CRVAL and CD refitted so that its linear part maps through ``transform`` (test-side)."""
    lin = w.deepcopy()
    lin.sip = None
    lin.wcs.ctype = [c.replace("-SIP", "") for c in lin.wcs.ctype]
    lin.wcs.set()
    cx, cy = (float(v) - 1.0 for v in lin.wcs.crpix)
    gx, gy = np.meshgrid(np.linspace(-20, CHIP[1] + 20, 7), np.linspace(-20, CHIP[0] + 20, 7))
    gx, gy = gx.ravel(), gy.ravel()
    lon, lat = transform(*_sky(lin, gx, gy))
    lon0, lat0 = transform(*_sky(lin, np.array([cx]), np.array([cy])))
    plane = WCS(naxis=2)
    plane.wcs.ctype = list(lin.wcs.ctype)
    plane.wcs.crval = [lon0[0], lat0[0]]
    plane.wcs.crpix = [0.0, 0.0]
    plane.wcs.set()
    xi, eta = plane.wcs_world2pix(lon, lat, 1)  # intermediate world coordinates, deg
    cd = np.linalg.lstsq(np.column_stack([gx - cx, gy - cy]), np.column_stack([xi, eta]), rcond=None)[0].T
    out = w.deepcopy()
    out.wcs.crval = [lon0[0], lat0[0]]
    out.wcs.cd = cd
    out.wcs.set()
    return out


def _misregister(frame, matrix, offset):
    """Sky -> sky: the header-based positions X in ``frame`` moved to matrix @ X + offset."""

    def transform(lon, lat):
        x, y = frame.wcs.world_to_pixel_values(lon, lat)
        xy = np.asarray(matrix) @ np.vstack([x, y]) + np.asarray(offset)[:, None]
        return _sky(frame.wcs, xy[0], xy[1])

    return transform


def _perturbed_copy(association, folder, transform):
    """The association in ``folder`` with exposure MOVED's chips refitted through ``transform``."""
    src, truth = association
    folder.mkdir(parents=True, exist_ok=True)
    for p in src.iterdir():
        shutil.copy(p, folder / p.name)
    with fits.open(folder / truth.exposures[MOVED], mode="update") as h:
        for hdu in h:
            if hdu.name == "SCI":
                w = _refit(WCS(hdu.header), transform)
                hdu.header["CRVAL1"], hdu.header["CRVAL2"] = (float(v) for v in w.wcs.crval)
                for i in (1, 2):
                    for j in (1, 2):
                        hdu.header[f"CD{i}_{j}"] = float(w.wcs.cd[i - 1, j - 1])
    return folder


def _offsets(md, frame, maps):
    """Largest pixmap difference from the unperturbed run, for the moved exposure and for the others."""
    moved, others = 0.0, 0.0
    root = md.exposures[MOVED].rootname
    for w in md.chips:
        d = np.nanmax(np.abs(calc_pixmap(w.chip.wcs, frame.wcs, shape=CHIP) - maps[w.exposure.rootname, w.chip.extver]))
        if w.exposure.rootname == root:
            moved = max(moved, d)
        else:
            others = max(others, d)
    return moved, others


def _build(folder, truth, **pars):
    return gpudriz.Multidrizzle(input=str(folder / truth.asn_file), workdir=folder, backend="cpu", **pars).build()


DELTA = np.array([2.7, -1.9])  # output pixels


@pytest.fixture(scope="module")
def shifted(association, unperturbed, tmp_path_factory):
    """Exposure MOVED's chips have CRVAL moved by DELTA final-frame pixels (CD unchanged)."""
    src, truth = association
    frame = unperturbed[0]
    folder = tmp_path_factory.mktemp("shifted")
    for p in src.iterdir():
        shutil.copy(p, folder / p.name)
    with fits.open(folder / truth.exposures[MOVED], mode="update") as h:
        for hdu in h:
            if hdu.name == "SCI":
                x, y = frame.wcs.world_to_pixel_values(hdu.header["CRVAL1"], hdu.header["CRVAL2"])
                lon, lat = frame.wcs.pixel_to_world_values(x + DELTA[0], y + DELTA[1])
                hdu.header["CRVAL1"], hdu.header["CRVAL2"] = float(lon), float(lat)
    return folder


def test_without_the_shift_file_the_exposure_is_off_by_the_perturbation(association, unperturbed, shifted):
    _, truth = association
    frame, _, maps = unperturbed
    md = _build(shifted, truth)
    moved, others = _offsets(md, frame, maps)
    assert abs(moved - np.max(np.abs(DELTA))) < 0.05 and others == 0.0


@pytest.mark.parametrize("reference", [True, False], ids=["reference-file", "default-reference"])
def test_output_pixel_shift_recovers_the_registration(association, unperturbed, shifted, reference):
    _, truth = association
    frame, ref, maps = unperturbed
    head = "# frame: output\n# units: pixels\n# form: delta\n" + (f"# reference: {ref}\n" if reference else "")
    (shifted / "shifts.txt").write_text(head + f"j8demo01r {DELTA[0]} {DELTA[1]}\n")
    md = _build(shifted, truth, shiftfile="shifts.txt")
    moved, others = _offsets(md, frame, maps)
    assert moved < TOL and others == 0.0


def test_arcsecond_shift_in_the_output_frame(association, unperturbed, shifted):
    _, truth = association
    frame, ref, maps = unperturbed
    xs, ys = DELTA * frame.pixel_scale
    (shifted / "arcsec.txt").write_text(f"# frame: output\n# units: arcseconds\n# refimage: {ref}\n"
                                        f"j8demo01r_flt.fits {xs} {ys}\n")  # fmt: skip
    md = _build(shifted, truth, shiftfile="arcsec.txt")
    assert _offsets(md, frame, maps)[0] < TOL


@pytest.mark.parametrize("units", ["pixels", "arcseconds"])
def test_input_frame_shift_is_carried_into_the_reference_frame(association, unperturbed, tmp_path, units):
    """Exposure MOVED displaced on the sky by S pixels of its first chip; the line gives S in that chip."""
    src, truth = association
    frame, ref, maps = unperturbed
    s_in = np.array([-1.6, 2.2])
    with fits.open(src / truth.exposures[MOVED]) as h:
        chip1 = WCS(h["SCI", 1].header)
    cx, cy = (float(v) - 1.0 for v in chip1.wcs.crpix)
    # Where chip 1's reference pixel moves in the frame when the image moves by S chip pixels.
    a = np.array(frame.wcs.world_to_pixel_values(*chip1.wcs_pix2world([[cx, cy]], 0)[0]))
    b = np.array(frame.wcs.world_to_pixel_values(*chip1.wcs_pix2world([[cx + s_in[0], cy + s_in[1]]], 0)[0]))
    folder = _perturbed_copy(association, tmp_path / "in", _misregister(frame, np.eye(2), b - a))
    values = s_in * (0.05 if units == "arcseconds" else 1.0)  # IDCSCALE of the synthetic chips
    (folder / "in.txt").write_text(f"# frame: input\n# units: {units}\n# reference: {ref}\n"
                                   f"j8demo01r {values[0]} {values[1]}\n")  # fmt: skip
    assert _offsets(_build(folder, truth), frame, maps)[0] > 1.0
    moved, others = _offsets(_build(folder, truth, shiftfile="in.txt"), frame, maps)
    assert moved < TOL and others == 0.0


@pytest.mark.parametrize("rot, scale", [(0.4, 1.0), (0.0, 1.003), (-0.3, 0.998)])
def test_rotation_and_scale_are_recovered(association, unperturbed, tmp_path, rot, scale):
    """Header positions X = c + scale R(-rot) (X_true - c) + shift: the inverse of the documented correction."""
    _, truth = association
    frame, ref, maps = unperturbed
    shift = np.array([0.8, -0.5])
    c = np.asarray(frame.wcs.wcs.crpix) - 1.0
    t = math.radians(-rot)
    forward = scale * np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    folder = _perturbed_copy(association, tmp_path / "rot", _misregister(frame, forward, c - forward @ c + shift))
    assert _offsets(_build(folder, truth), frame, maps)[0] > 0.05
    (folder / "rot.txt").write_text(f"# frame: output\n# units: pixels\n# form: delta\n# reference: {ref}\n"
                                    f"j8demo01r {shift[0]} {shift[1]} {rot} {scale}\n")  # fmt: skip
    moved, others = _offsets(_build(folder, truth, shiftfile="rot.txt"), frame, maps)
    assert moved < TOL and others == 0.0


def test_final_drizzle_uses_the_corrected_wcs(association, unperturbed, shifted):
    """The drizzled product of the perturbed run with its shift file matches the unperturbed one."""
    src, truth = association
    _, ref, _ = unperturbed
    only_final = dict(static=False, skysub=False, driz_separate=False, median=False, blot=False, driz_cr=False)
    (shifted / "final.txt").write_text(f"# reference: {ref}\nj8demo01r {DELTA[0]} {DELTA[1]}\n")
    images = {}
    for name, folder, pars in (("good", src, {}), ("bad", shifted, {}),
                               ("fixed", shifted, {"shiftfile": "final.txt"})):  # fmt: skip
        md = gpudriz.Multidrizzle(input=str(folder / truth.asn_file), workdir=folder, backend="cpu",
                                  output=f"h2_{name}", refimage=str(ref), **pars)  # fmt: skip
        md.run(**only_final)
        images[name] = fits.getdata(folder / f"h2_{name}_drz.fits", "SCI")
    peak = np.nanmax(images["good"])
    assert np.nanmax(np.abs(images["fixed"] - images["good"])) < 1e-3 * peak
    assert np.nanmax(np.abs(images["bad"] - images["good"])) > 0.05 * peak


# -- matching names ------------------------------------------------------------


def test_exposures_without_a_line_are_logged(association, shifted, caplog):
    _, truth = association
    (shifted / "one.txt").write_text(f"j8demo01r {DELTA[0]} {DELTA[1]}\n")
    with caplog.at_level(logging.INFO, logger="gpudriz"):
        _build(shifted, truth, shiftfile="one.txt")
    for root in ("j8demo01q", "j8demo01s", "j8demo01t"):
        assert f"no line for {root}" in caplog.text


def test_a_name_matching_no_input_is_an_error(association, shifted):
    _, truth = association
    (shifted / "typo.txt").write_text("j8demo01r 1 1\nj8demo0lq 1 1\n")
    with pytest.raises(InputError, match=r"typo\.txt' line 2: 'j8demo0lq' matches no input exposure"):
        _build(shifted, truth, shiftfile="typo.txt")


def test_a_missing_reference_file_is_an_error(association, shifted):
    _, truth = association
    (shifted / "noref.txt").write_text("# refimage: nowhere_drz.fits[sci,1]\nj8demo01r 1 1\n")
    with pytest.raises(InputError, match=r"reference 'nowhere_drz\.fits\[sci,1\]' does not exist"):
        _build(shifted, truth, shiftfile="noref.txt")


def test_a_reference_without_celestial_wcs_is_an_error(association, shifted):
    _, truth = association
    fits.PrimaryHDU(np.zeros((4, 4), np.float32)).writeto(shifted / "plain.fits", overwrite=True)
    (shifted / "plain.txt").write_text("# reference: plain.fits\nj8demo01r 1 1\n")
    with pytest.raises(InputError, match=r"reference 'plain\.fits' has no celestial WCS"):
        _build(shifted, truth, shiftfile="plain.txt")
