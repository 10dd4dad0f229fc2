"""mdriztab=yes: parameters from an MDRIZTAB reference table (manual section 1.3 and Table 2).

Small tables in STScI's format (a FITS binary table with ``filter``,
``numimages`` and one column per parameter) are written with astropy's Table;
the synthetic association's primary headers (copies) get an MDRIZTAB keyword.
"""

import logging
import shutil

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

import gpudriz
from gpudriz.demo.synthetic import make_association
from gpudriz.pipeline.config import mdriztab as M
from gpudriz.pipeline.config.parameters import ParameterError
from gpudriz.pipeline.io.inputs import InputError

CHIP = (64, 128)
NATIVE_SCALE = 0.05  # the synthetic ACS/WFC IDCSCALE


@pytest.fixture(scope="module")
def association(tmp_path_factory):
    folder = tmp_path_factory.mktemp("asn")
    truth = make_association(folder, chip_shape=CHIP, seed=11)
    return folder, truth


def _run_folder(tmp_path, association, keyword):
    """A copy of the association whose exposures' primary headers say MDRIZTAB = keyword."""
    src, truth = association
    folder = tmp_path / "run"
    folder.mkdir()
    for name in [*truth.exposures, truth.asn_file]:
        shutil.copy(src / name, folder / name)
    if keyword is not None:
        for name in truth.exposures:
            fits.setval(folder / name, "MDRIZTAB", value=keyword, ext=0)
    return folder, folder / truth.asn_file


def _table(rows, **columns):
    """An MDRIZTAB: rows of (filter, numimages), plus parameter columns (one value per row)."""
    t = Table()
    t["filter"] = np.array([r[0] for r in rows], dtype="U18")
    t["numimages"] = np.array([r[1] for r in rows], dtype=np.int16)
    for name, values in columns.items():
        t[name] = values
    return t


def _write(table, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    table.write(path, format="fits", overwrite=True)
    return path


# The selection table: row numbers (from 1) in the comments.
ROWS = [
    ("ANY", 1),            # 1
    ("ANY", 4),            # 2
    ("F606W", 1),          # 3
    ("F606W", 3),          # 4
    ("F606W", 4),          # 5
    ("F606W", 8),          # 6
    ("F814W", 1),          # 7
    ("F606W,CLEAR2L", 6),  # 8: needs more images than the association has
]  # fmt: skip
SCALES = np.array([0.11, 0.12, 0.13, 0.14, 0.1, 0.16, 0.17, 0.18], dtype=np.float32)


def _selection_table():
    n = len(ROWS)
    return _table(
        ROWS,
        final_scale=SCALES,
        final_pixfrac=np.full(n, 0.7, dtype=np.float32),
        combine_type=np.array(["minmed"] * n),
        subsky=np.zeros(n, dtype=bool),  # MultiDrizzle's name for skysub
        crbitval=np.full(n, M.INDEF_INT, dtype=np.int32),  # INDEF
        driz_sep_bits=np.array(["96"] * n),  # AstroDrizzle's: no gpudriz parameter
    )


@pytest.fixture
def jref(tmp_path, monkeypatch):
    """An IRAF-style jref folder (trailing '/') holding the selection table."""
    folder = tmp_path / "cdbs" / "jref"
    _write(_selection_table(), folder / "test_mdz.fits")
    monkeypatch.setenv("jref", str(folder) + "/")
    return folder


def _md(asn, folder, **pars):
    return gpudriz.Multidrizzle(input=str(asn), workdir=folder, backend="cpu", mdriztab=True, **pars)


# --- filter names and row selection -----------------------------------------------------------


@pytest.mark.parametrize("header, names", [
    ({"INSTRUME": "ACS", "FILTER1": "F606W", "FILTER2": "CLEAR2L"}, ["F606W,CLEAR2L", "F606W", "ANY"]),
    ({"INSTRUME": "ACS", "FILTER1": "CLEAR1L", "FILTER2": "f814w"}, ["CLEAR1L,F814W", "F814W", "ANY"]),
    ({"INSTRUME": "ACS", "FILTER1": "CLEAR1L", "FILTER2": "CLEAR2L"}, ["CLEAR1L,CLEAR2L", "ANY"]),
    ({"INSTRUME": "WFC3", "FILTER": "F160W"}, ["F160W", "ANY"]),
    ({"INSTRUME": "WFPC2", "FILTNAM1": "F555W", "FILTNAM2": ""}, ["F555W", "ANY"]),
    ({"INSTRUME": "OTHER", "FILTER1": "R"}, ["R", "ANY"]),
    ({"INSTRUME": "ACS"}, ["ANY"]),
])  # fmt: skip
def test_filter_names(header, names):
    assert M.filter_names(header) == names


@pytest.mark.parametrize("names, nimages, row", [
    (["F606W,CLEAR2L", "F606W", "ANY"], 4, 5),  # the last F606W row with numimages <= 4
    (["F606W,CLEAR2L", "F606W", "ANY"], 3, 4),
    (["F606W,CLEAR2L", "F606W", "ANY"], 2, 3),
    (["F606W,CLEAR2L", "F606W", "ANY"], 9, 8),  # the exact name wins once it has enough images
    (["F435W", "ANY"], 4, 2),  # no row for the filter: ANY
    (["F435W", "ANY"], 2, 1),
    (["F435W"], 4, None),
    (["F606W"], 0, None),
])  # fmt: skip
def test_select_row(names, nimages, row):
    index = M.select_row(_selection_table(), names, nimages)
    assert (None if index is None else index + 1) == row


def test_select_row_ignores_case_and_blanks_in_the_filter_column():
    t = _table([("any", 1), (" f606w , clear2l ", 2)], final_pixfrac=[0.5, 0.6])
    assert M.select_row(t, ["F606W,CLEAR2L", "F606W", "ANY"], 4) == 1


# --- reading a table into the parameters ----------------------------------------------------------


def test_table_values_override_the_defaults_at_init(tmp_path, association, jref, caplog):
    folder, asn = _run_folder(tmp_path, association, "jref$test_mdz.fits")
    with caplog.at_level(logging.INFO, logger="gpudriz"):
        md = _md(asn, folder)
    sel = md.mdriztab
    assert sel.path == jref / "test_mdz.fits" and sel.name == "jref$test_mdz.fits"
    assert (sel.row, sel.filter, sel.numimages, sel.nimages) == (5, "F606W", 4, 4)
    assert md.pars["final_scale"] == pytest.approx(0.1)
    assert md.pars["final_pixfrac"] == pytest.approx(0.7)
    assert md.pars["combine_type"] == "minmed"
    assert md.pars["skysub"] is False  # column 'subsky'
    assert md.pars["crbit"] is None
    assert sel.unused == ["driz_sep_bits"]
    assert "row 5" in caplog.text and "test_mdz.fits" in caplog.text


def test_table_values_reach_build_and_the_product(tmp_path, association, jref):
    folder, asn = _run_folder(tmp_path, association, "jref$test_mdz.fits")
    md = _md(asn, folder)
    md.build()
    # 0.1"/pixel from the table, twice the native 0.05: half the size of the default frame.
    assert md.final_frame.pixel_scale == pytest.approx(0.1, rel=1e-6)
    default = gpudriz.Multidrizzle(input=str(asn), workdir=folder, backend="cpu").build()
    assert default.final_frame.pixel_scale == pytest.approx(NATIVE_SCALE, rel=1e-3)
    ratio = np.array(default.final_frame.shape) / np.array(md.final_frame.shape)
    assert ratio == pytest.approx([2, 2], abs=0.1)
    md.run(static=False, skysub=False, driz_separate=False, median=False, blot=False, driz_cr=False)
    with fits.open(md.products["drz"]) as h:
        assert h[0].header["MDRIZTAB"] == "jref$test_mdz.fits"
        assert h[0].header["MDZTABRW"] == 5
        assert h["SCI"].data.shape == md.final_frame.shape
        history = "\n".join(str(c) for c in h[0].header["HISTORY"])
    assert "final_pixfrac = 0.7" in history


def test_user_edits_after_init_win(tmp_path, association, jref):
    folder, asn = _run_folder(tmp_path, association, "jref$test_mdz.fits")
    md = _md(asn, folder)
    md.pars["final_scale"] = 0.08
    md.pars["combine_type"] = "median"
    md.build()
    assert md.pars["combine_type"] == "median"
    assert md.final_frame.pixel_scale == pytest.approx(0.08, rel=1e-6)


def test_keywords_given_at_init_are_overridden_with_a_warning(tmp_path, association, jref, caplog):
    folder, asn = _run_folder(tmp_path, association, "jref$test_mdz.fits")
    with caplog.at_level(logging.WARNING, logger="gpudriz"):
        md = _md(asn, folder, final_pixfrac=0.9, final_kernel="point")
    assert md.pars["final_pixfrac"] == pytest.approx(0.7)
    assert md.pars["final_kernel"] == "point"  # no column for it
    assert "final_pixfrac = 0.7 replaces the 0.9 given" in caplog.text


def test_switched_on_after_init_applies_at_build(tmp_path, association, jref):
    folder, asn = _run_folder(tmp_path, association, "jref$test_mdz.fits")
    md = gpudriz.Multidrizzle(input=str(asn), workdir=folder, backend="cpu")
    assert md.mdriztab is None and md.pars["final_scale"] is None
    md.pars["mdriztab"] = True
    md.build()
    assert md.mdriztab.row == 5
    assert md.final_frame.pixel_scale == pytest.approx(0.1, rel=1e-6)


def test_row_follows_the_number_of_input_exposures(tmp_path, association, jref):
    folder, _ = _run_folder(tmp_path, association, "jref$test_mdz.fits")
    _, truth = association
    md = _md(",".join(truth.exposures[:3]), folder)
    assert (md.mdriztab.row, md.mdriztab.nimages) == (4, 3)
    assert md.pars["final_scale"] == pytest.approx(0.14)


def test_table_never_sets_input_output_mdriztab_backend(tmp_path, association, monkeypatch):
    folder, asn = _run_folder(tmp_path, association, "tables/own_mdz.fits")
    _write(_table([("ANY", 1)], input=["other_flt.fits"], output=["elsewhere"], mdriztab=[False],
                  backend=["cuda"], final_rot=[30.0]), folder / "tables" / "own_mdz.fits")  # fmt: skip
    md = _md(asn, folder, output="mine")
    assert md.pars["input"] == str(asn) and md.pars["output"] == "mine"
    assert md.pars["mdriztab"] is True and md.pars["backend"] == "cpu"
    assert md.pars["final_rot"] == 30.0


def test_cell_conventions(tmp_path, association):
    folder, asn = _run_folder(tmp_path, association, "own_mdz.fits")
    _write(_table([("ANY", 1)],
                  driz_sep_scale=np.array([np.nan], dtype=np.float32),  # NaN: INDEF
                  final_rot=np.array([np.nan]),
                  skyuser=np.array([" "]),  # blank: INDEF
                  driz_cr=np.array([0], dtype=np.int16),  # 0/1: no/yes
                  median_newmasks=np.array([1], dtype=np.int16),
                  coeffs=np.array([True]),  # AstroDrizzle's logical coeffs
                  combine_nsigma=np.array(["5 2"]),
                  readnoise=np.array([4.5], dtype=np.float32),  # MultiDrizzle's name for rdnoise
                  GAIN=np.array([2.0], dtype=np.float32)),  # column names in any case
           folder / "own_mdz.fits")  # fmt: skip
    md = _md(asn, folder, driz_sep_scale=0.07, skyuser="SKYVAL")
    p = md.pars
    assert p["driz_sep_scale"] is None and p["final_rot"] is None and p["skyuser"] is None
    assert p["driz_cr"] is False and p["median_newmasks"] is True
    assert p["coeffs"] == "header"
    assert p["combine_nsigma"] == (5.0, 2.0)
    assert p["rdnoise"] == pytest.approx(4.5) and p["gain"] == pytest.approx(2.0)


# --- where the table is -----------------------------------------------------------------------


@pytest.mark.parametrize("keyword", ["jref$test_mdz.fits", "jref$/test_mdz.fits", "$jref/test_mdz.fits",
                                     "${jref}/test_mdz.fits", "JREF$test_mdz.fits"])  # fmt: skip
def test_environment_variable_prefixes(tmp_path, association, jref, keyword):
    folder, asn = _run_folder(tmp_path, association, keyword)
    assert _md(asn, folder).mdriztab.path == jref / "test_mdz.fits"


def test_environment_variable_without_trailing_slash(tmp_path, association, jref, monkeypatch):
    monkeypatch.setenv("jref", str(jref))
    folder, asn = _run_folder(tmp_path, association, "jref$test_mdz.fits")
    assert _md(asn, folder).mdriztab.path == jref / "test_mdz.fits"


def test_plain_path_is_relative_to_the_workdir(tmp_path, association, monkeypatch):
    folder, asn = _run_folder(tmp_path, association, "tables/own_mdz.fits")
    _write(_table([("ANY", 1)], final_pixfrac=[0.4]), folder / "tables" / "own_mdz.fits")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    md = _md(asn, folder)
    assert md.mdriztab.path == folder / "tables" / "own_mdz.fits"
    assert md.pars["final_pixfrac"] == pytest.approx(0.4)


# --- errors ------------------------------------------------------------------------------------------


def _one_sentence(message):
    assert "\n" not in message and message.endswith(".")


def test_error_no_mdriztab_keyword(tmp_path, association):
    folder, asn = _run_folder(tmp_path, association, None)
    with pytest.raises(InputError, match="has no MDRIZTAB keyword") as err:
        _md(asn, folder)
    assert "j8demo01q_flt.fits" in str(err.value)
    _one_sentence(str(err.value))


def test_error_blank_mdriztab_keyword(tmp_path, association):
    folder, asn = _run_folder(tmp_path, association, " ")
    with pytest.raises(InputError, match="MDRIZTAB keyword in the primary header of .* is blank") as err:
        _md(asn, folder)
    _one_sentence(str(err.value))


def test_error_environment_variable_not_set(tmp_path, association, monkeypatch):
    for var in ("jref", "JREF"):
        monkeypatch.delenv(var, raising=False)
    folder, asn = _run_folder(tmp_path, association, "jref$wfc_smov_mdz.fits")
    with pytest.raises(InputError, match="environment variable 'jref'.*not set") as err:
        _md(asn, folder)
    assert "jref$wfc_smov_mdz.fits" in str(err.value)
    _one_sentence(str(err.value))


def test_error_table_missing(tmp_path, association, jref):
    folder, asn = _run_folder(tmp_path, association, "jref$absent_mdz.fits")
    with pytest.raises(InputError, match="absent_mdz.fits' does not exist") as err:
        _md(asn, folder)
    assert "MDRIZTAB = 'jref$absent_mdz.fits'" in str(err.value)
    _one_sentence(str(err.value))


def test_error_table_not_fits(tmp_path, association):
    folder, asn = _run_folder(tmp_path, association, "bad_mdz.fits")
    (folder / "bad_mdz.fits").write_text("filter numimages final_scale\nANY 1 0.1\n")
    with pytest.raises(InputError, match="bad_mdz.fits' is not a readable FITS file") as err:
        _md(asn, folder)
    _one_sentence(str(err.value))


def test_error_table_is_an_image(tmp_path, association):
    folder, asn = _run_folder(tmp_path, association, "image_mdz.fits")
    fits.PrimaryHDU(np.zeros((4, 4), dtype=np.float32)).writeto(folder / "image_mdz.fits")
    with pytest.raises(InputError, match="holds no table extension") as err:
        _md(asn, folder)
    _one_sentence(str(err.value))


def test_error_table_without_selection_columns(tmp_path, association):
    folder, asn = _run_folder(tmp_path, association, "other.fits")
    _write(Table({"filter": ["ANY"], "final_scale": [0.1]}), folder / "other.fits")
    with pytest.raises(InputError, match="has no 'numimages' column, so it is not an MDRIZTAB") as err:
        _md(asn, folder)
    _one_sentence(str(err.value))


def test_error_no_row_matches(tmp_path, association):
    folder, asn = _run_folder(tmp_path, association, "own_mdz.fits")
    _write(_table([("F814W", 1), ("F606W", 8)], final_scale=[0.1, 0.2]), folder / "own_mdz.fits")
    with pytest.raises(InputError) as err:
        _md(asn, folder)
    message = str(err.value)
    assert "no row for filter 'F606W,CLEAR2L' or 'F606W' or 'ANY'" in message
    assert "numimages at most 4 (the number of input exposures)" in message
    _one_sentence(message)


def test_error_bad_cell_names_table_row_and_column(tmp_path, association):
    folder, asn = _run_folder(tmp_path, association, "own_mdz.fits")
    _write(_table([("ANY", 1), ("ANY", 2)], final_pixfrac=np.array([0.5, -1.0], dtype=np.float32)),
           folder / "own_mdz.fits")  # fmt: skip
    with pytest.raises(ParameterError) as err:
        _md(asn, folder)
    message = str(err.value)
    assert "own_mdz.fits', row 2, column 'final_pixfrac': final_pixfrac = -1.0 is not valid" in message
    _one_sentence(message)


def test_error_blank_cell_of_a_parameter_without_indef(tmp_path, association):
    folder, asn = _run_folder(tmp_path, association, "own_mdz.fits")
    _write(_table([("ANY", 1)], final_kernel=np.array([" "])), folder / "own_mdz.fits")
    with pytest.raises(ParameterError, match="row 1, column 'final_kernel': final_kernel = 'INDEF' is not valid"):
        _md(asn, folder)
