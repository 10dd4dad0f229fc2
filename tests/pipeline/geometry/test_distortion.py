"""The ``coeffs`` parameter: header, none, a coefficients file, and the refused WFPC2 models.

Pixmaps of every chip into one common frame (the header run's final frame)
compare the distortion models each choice gives.
"""

import shutil

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS, DistortionLookupTable

import gpudriz
from gpudriz.demo.synthetic import make_association
from gpudriz.pipeline.config.parameters import ParameterError
from gpudriz.pipeline.geometry.distortion import read_distortion
from gpudriz.pipeline.geometry.wcs import linear_wcs
from gpudriz.pipeline.io.fits import InputError
from gpudriz.pixmap import calc_pixmap

CHIP = (64, 128)
_SIP = ("A_", "B_", "AP_", "BP_")


def _copy(src, dst):
    dst.mkdir(parents=True, exist_ok=True)
    for p in src.iterdir():
        shutil.copy(p, dst / p.name)
    return dst


def _build(folder, truth, **pars):
    md = gpudriz.Multidrizzle(input=str(folder / truth.asn_file), workdir=folder, backend="cpu", **pars)
    return md.build()


def _pixmaps(md, frame):
    return [calc_pixmap(w.chip.wcs, frame.wcs, shape=w.chip.shape) for w in md.chips]


def _is_sip_card(card):
    return card.keyword.startswith(_SIP)


@pytest.fixture(scope="module")
def association(tmp_path_factory):
    folder = tmp_path_factory.mktemp("asn")
    truth = make_association(folder, chip_shape=CHIP, seed=11)
    return folder, truth


@pytest.fixture(scope="module")
def header_run(association):
    folder, truth = association
    md = _build(folder, truth)
    return md, _pixmaps(md, md.final_frame)


@pytest.fixture(scope="module")
def linear_inputs(association, tmp_path_factory):
    """The association with the SIP moved out of the inputs into a coeffs file (SCI,1 and SCI,2)."""
    src, truth = association
    folder = _copy(src, tmp_path_factory.mktemp("linear"))
    models = {}
    for name in truth.exposures:
        with fits.open(folder / name, mode="update") as h:
            for hdu in h:
                if hdu.name != "SCI":
                    continue
                models.setdefault(hdu.ver, fits.Header([c for c in hdu.header.cards if _is_sip_card(c)]))
                for key in [c.keyword for c in hdu.header.cards if _is_sip_card(c)]:
                    del hdu.header[key]
                for axis in (1, 2):
                    hdu.header[f"CTYPE{axis}"] = hdu.header[f"CTYPE{axis}"].replace("-SIP", "")
    hdus = [fits.PrimaryHDU()] + [fits.ImageHDU(header=models[v], name="SCI", ver=v) for v in sorted(models)]
    fits.HDUList(hdus).writeto(folder / "coeffs.fits")
    return folder, truth


def test_the_synthetic_chips_carry_a_visible_distortion(header_run):
    md, _ = header_run
    for w in md.chips:
        assert w.chip.wcs.sip is not None


def test_none_keeps_only_the_linear_wcs(association, header_run):
    folder, truth = association
    md_header, header_maps = header_run
    md = _build(folder, truth, coeffs="none")
    frame = md_header.final_frame
    for w, header_map in zip(md.chips, header_maps):
        assert w.chip.wcs.sip is None and not any(c.endswith("-SIP") for c in w.chip.wcs.wcs.ctype)
        # A linear WCS made by hand from the header keywords.
        h = w.chip.header
        hand = WCS(naxis=2)
        hand.wcs.ctype = [h["CTYPE1"].replace("-SIP", ""), h["CTYPE2"].replace("-SIP", "")]
        hand.wcs.crpix = [h["CRPIX1"], h["CRPIX2"]]
        hand.wcs.crval = [h["CRVAL1"], h["CRVAL2"]]
        hand.wcs.cd = [[h["CD1_1"], h["CD1_2"]], [h["CD2_1"], h["CD2_2"]]]
        hand.wcs.set()
        got = calc_pixmap(w.chip.wcs, frame.wcs, shape=w.chip.shape)
        np.testing.assert_allclose(got, calc_pixmap(hand, frame.wcs, shape=w.chip.shape), rtol=0, atol=1e-9)
        # ... which differs from the header run by the distortion.
        assert np.nanmax(np.abs(got - header_map)) > 0.2


def test_none_is_also_spelt_like_indef(association):
    folder, truth = association
    md = _build(folder, truth, coeffs="None")
    assert all(w.chip.wcs.sip is None for w in md.chips)


def test_a_coeffs_file_reproduces_the_header_run_exactly(linear_inputs, header_run):
    folder, truth = linear_inputs
    md_header, header_maps = header_run
    md = _build(folder, truth, coeffs="coeffs.fits")
    frame = md_header.final_frame
    assert md.final_frame.shape == frame.shape
    np.testing.assert_array_equal(md.final_frame.wcs.wcs.crval, frame.wcs.wcs.crval)
    for w, header_map in zip(md.chips, header_maps):
        assert w.chip.wcs.sip is not None
        np.testing.assert_array_equal(calc_pixmap(w.chip.wcs, frame.wcs, shape=w.chip.shape), header_map)


def test_without_the_file_the_linear_inputs_are_undistorted(linear_inputs, header_run):
    folder, truth = linear_inputs
    md_header, header_maps = header_run
    md = _build(folder, truth)  # coeffs = header: the rewritten headers hold no model
    frame = md_header.final_frame
    worst = max(np.nanmax(np.abs(calc_pixmap(w.chip.wcs, frame.wcs, shape=w.chip.shape) - m))
                for w, m in zip(md.chips, header_maps))  # fmt: skip
    assert worst > 0.2


def test_a_primary_header_model_serves_every_chip(association, tmp_path):
    folder, truth = association
    with fits.open(folder / truth.exposures[0]) as h:
        sci1 = h["SCI", 1].header
        sip = fits.Header([c for c in sci1.cards if _is_sip_card(c)])
        lin2 = linear_wcs(WCS(h["SCI", 2].header))
    fits.PrimaryHDU(header=sip).writeto(tmp_path / "one.fits")
    model = read_distortion(tmp_path / "one.fits", 2, lin2)
    assert model.sip.a[2, 0] == sci1["A_2_0"] and model.sip.b[0, 2] == sci1["B_0_2"]
    np.testing.assert_array_equal(model.sip.crpix, lin2.wcs.crpix)  # about the input's CRPIX
    np.testing.assert_array_equal(model.wcs.cd, lin2.wcs.cd)


def test_lookup_tables_are_read_from_the_file(association, tmp_path):
    folder, truth = association
    with fits.open(folder / truth.exposures[0]) as h:
        lin = linear_wcs(WCS(h["SCI", 1].header))
    table = np.linspace(-0.3, 0.3, 8 * 16, dtype=np.float32).reshape(8, 16)
    donor = lin.deepcopy()
    donor.cpdis1 = DistortionLookupTable(table, (1.0, 1.0), (0.0, 0.0), (9.0, 9.0))
    donor.cpdis2 = DistortionLookupTable(-table, (1.0, 1.0), (0.0, 0.0), (9.0, 9.0))
    donor.to_fits().writeto(tmp_path / "npol.fits")  # CPDISj/DPj.* and two WCSDVARR extensions
    model = read_distortion(tmp_path / "npol.fits", 1, lin)
    assert model.cpdis1 is not None and model.cpdis2 is not None and model.sip is None
    np.testing.assert_array_equal(model.cpdis1.data, table)
    np.testing.assert_array_equal(model.cpdis2.data, -table)
    x, y = np.meshgrid(np.arange(0.0, 128.0, 9.0), np.arange(0.0, 64.0, 9.0))
    np.testing.assert_allclose(model.pixel_to_world_values(x, y), donor.pixel_to_world_values(x, y),
                               rtol=0, atol=1e-12)  # fmt: skip
    assert np.max(np.abs(np.subtract(model.pixel_to_world_values(x, y), lin.pixel_to_world_values(x, y)))) > 0


@pytest.mark.parametrize("model", ["cubic", "trauger", "TRAUGER"])
def test_wfpc2_models_are_refused_in_one_sentence(association, model):
    folder, truth = association
    with pytest.raises(ParameterError, match=r"not provided by gpudriz; use 'header'") as err:
        _build(folder, truth, coeffs=model)
    assert str(err.value).count(". ") == 0


def test_missing_coeffs_file(association):
    folder, truth = association
    with pytest.raises(InputError, match=r"coeffs file '.*nothere\.fits' does not exist"):
        _build(folder, truth, coeffs="nothere.fits")


def test_coeffs_file_without_the_chip(association, tmp_path):
    folder, truth = association
    with fits.open(folder / truth.exposures[0]) as h:
        sip = fits.Header([c for c in h["SCI", 1].header.cards if _is_sip_card(c)])
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(header=sip, name="SCI", ver=1)]).writeto(tmp_path / "c.fits")
    with pytest.raises(InputError, match=r"has no SCI,2 extension for chip 2 \(it has SCI,1\)"):
        _build(folder, truth, coeffs=str(tmp_path / "c.fits"))


def test_coeffs_file_without_a_model(association, tmp_path):
    folder, truth = association
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(name="SCI", ver=1), fits.ImageHDU(name="SCI", ver=2)]
                 ).writeto(tmp_path / "empty.fits")  # fmt: skip
    with pytest.raises(InputError, match=r"\[SCI,1\] holds no distortion model for .*\[SCI,1\]"):
        _build(folder, truth, coeffs=str(tmp_path / "empty.fits"))


def test_coeffs_file_that_is_not_fits(association, tmp_path):
    folder, truth = association
    (tmp_path / "bad.fits").write_text("not a FITS file")
    with pytest.raises(InputError, match=r"is not a readable FITS file"):
        _build(folder, truth, coeffs=str(tmp_path / "bad.fits"))
