"""Tests of gpudriz.pipeline.io.inputs: every form of MultiDrizzle's ``input`` (manual 1.4) and its errors."""

import gzip

import numpy as np
import pytest
from astropy.io import fits

import gpudriz
from gpudriz.demo.tiny_inputs import write_tiny_exposures
from gpudriz.pipeline.io.inputs import (
    DEFAULT_OUTPUT,
    InputError,
    file_rootname,
    resolve_inputs,
)


def _image(path, value=0.0):
    """A minimal FITS exposure: empty primary and one SCI extension."""
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.full((4, 5), value, np.float32), name="SCI")]).writeto(path)
    return path


def _asn(path, rows):
    """An association table with (MEMNAME, MEMTYPE, MEMPRSNT) rows."""
    names, types, present = zip(*rows)
    present_format = "L" if isinstance(present[0], bool) else "3A"
    cols = [
        fits.Column(name="MEMNAME", format="14A", array=np.array(names)),
        fits.Column(name="MEMTYPE", format="14A", array=np.array(types)),
        fits.Column(name="MEMPRSNT", format=present_format, array=np.array(present)),
    ]
    table = fits.BinTableHDU.from_columns(cols, name="ASN")
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    return path


def _error(excinfo, *needles):
    """The message is one sentence that names every needle."""
    msg = str(excinfo.value)
    assert "\n" not in msg and msg.endswith("."), msg
    for needle in needles:
        assert str(needle) in msg, (needle, msg)


@pytest.fixture
def field(tmp_path):
    """The manual's session folder (section 1.2): an ASN table, its four flt members, two crj products."""
    for root in ("j8cw03a1q", "j8cw03a2q", "j8cw03ffq", "j8cw03fjq"):
        _image(tmp_path / f"{root}_flt.fits")
    for root in ("j8cw03021", "j8cw03031"):
        _image(tmp_path / f"{root}_crj.fits")
    _asn(tmp_path / "j8cw030x0_asn.fits", [
        ("J8CW03A1Q", "EXP-CR1", True),
        ("J8CW03A2Q", "EXP-CR1", True),
        ("J8CW03FFQ", "EXP-CR2", True),
        ("J8CW03FJQ", "EXP-CR2", True),
        ("J8CW030X0", "PROD-DTH", False),
        ("J8CW03021", "PROD-CR1", True),
        ("J8CW03031", "PROD-CR2", True),
    ])  # fmt: skip
    return tmp_path


FLTS = ["j8cw03a1q_flt.fits", "j8cw03a2q_flt.fits", "j8cw03ffq_flt.fits", "j8cw03fjq_flt.fits"]


# --------------------------------------------------------------------------
# the forms of ``input``
# --------------------------------------------------------------------------


def test_single_file_output_is_its_rootname(field):
    s = resolve_inputs("j8cw03a1q_flt.fits", cwd=field)
    assert s.exposures == [field / "j8cw03a1q_flt.fits"]
    assert s.ivm == [None]
    assert s.output == "j8cw03a1q"
    assert s.asn is None
    assert resolve_inputs(field / "j8cw03a1q_flt.fits", output="mine").output == "mine"


@pytest.mark.parametrize("given, root", [("mine", "mine"), ("mine.fits", "mine"), ("mine_drz.fits", "mine"),
                                         ("out/mine", "out/mine")])  # fmt: skip
def test_output_override(field, given, root):
    assert resolve_inputs("j8cw030x0_asn.fits", output=given, cwd=field).output == root


@pytest.mark.parametrize("bad", ["", "  ", ".fits", 3])
def test_bad_output(field, bad):
    with pytest.raises(InputError) as e:
        resolve_inputs("j8cw03a1q_flt.fits", output=bad, cwd=field)
    _error(e, "'output'")


def test_asn_members_and_dither_product(field):
    s = resolve_inputs("j8cw030x0_asn.fits", cwd=field)
    assert s.exposures == [field / n for n in FLTS]
    assert s.ivm == [None] * 4
    assert s.output == "j8cw030x0"  # the PROD-DTH row, lower case
    assert s.asn == field / "j8cw030x0_asn.fits"


def test_asn_skips_absent_members_and_non_exposures(tmp_path):
    _image(tmp_path / "aaa_flt.fits")
    _image(tmp_path / "ccc_flt.fits")
    _asn(tmp_path / "x_asn.fits", [("AAA", "EXP-DTH", True), ("BBB", "EXP-DTH", False),
                                   ("CCC", "EXP-DTH", True), ("CCC", "PROD-CR1", True)])  # fmt: skip
    s = resolve_inputs(tmp_path / "x_asn.fits")
    assert s.exposures == [tmp_path / "aaa_flt.fits", tmp_path / "ccc_flt.fits"]
    assert s.output == "ccc"  # no PROD-DTH: the first PROD row


def test_asn_without_product_uses_table_rootname(tmp_path):
    _image(tmp_path / "aaa_flt.fits")
    _asn(tmp_path / "myset_asn.fits", [("AAA", "EXP-DTH", True)])
    assert resolve_inputs(tmp_path / "myset_asn.fits").output == "myset"


def test_asn_text_memprsnt(tmp_path):
    _image(tmp_path / "aaa_flt.fits")
    _image(tmp_path / "bbb_flt.fits")
    _asn(tmp_path / "x_asn.fits", [("AAA", "EXP-DTH", "yes"), ("BBB", "EXP-DTH", "no"), ("X", "PROD-DTH", "no")])
    s = resolve_inputs(tmp_path / "x_asn.fits")
    assert s.exposures == [tmp_path / "aaa_flt.fits"]
    assert s.output == "x"


def test_asn_member_suffix_preference(tmp_path):
    _image(tmp_path / "aaa_flt.fits")
    _image(tmp_path / "aaa_flc.fits")  # _flt wins over _flc
    _image(tmp_path / "bbb_flc.fits")  # _flc where no _flt
    _image(tmp_path / "ccc_crj.fits")  # _crj last
    _asn(tmp_path / "x_asn.fits", [("AAA", "EXP-DTH", True), ("BBB", "EXP-DTH", True), ("CCC", "EXP-DTH", True)])
    s = resolve_inputs(tmp_path / "x_asn.fits")
    assert [p.name for p in s.exposures] == ["aaa_flt.fits", "bbb_flc.fits", "ccc_crj.fits"]


def test_asn_detected_by_extension(tmp_path):
    _image(tmp_path / "aaa_flt.fits")
    _asn(tmp_path / "association.fits", [("AAA", "EXP-DTH", True), ("OUT", "PROD-DTH", False)])
    s = resolve_inputs(tmp_path / "association.fits")
    assert s.exposures == [tmp_path / "aaa_flt.fits"] and s.output == "out"


def test_wildcard(field):
    s = resolve_inputs("*flt.fits", cwd=field)
    assert s.exposures == [field / n for n in FLTS]  # sorted by name
    assert s.output == DEFAULT_OUTPUT and s.asn is None


def test_wildcard_leaves_out_asn_tables(field):
    s = resolve_inputs(str(field / "*.fits"))
    assert [p.name for p in s.exposures] == sorted(FLTS + ["j8cw03021_crj.fits", "j8cw03031_crj.fits"])


def test_manual_suffix_form(field, monkeypatch):
    # the manual's default input 'flt.fits': every file of the folder ending with it
    monkeypatch.chdir(field)
    s = resolve_inputs("flt.fits")
    assert s.exposures == [field / n for n in FLTS]
    assert s.output == DEFAULT_OUTPUT
    assert resolve_inputs("crj.fits").exposures == [field / "j8cw03021_crj.fits", field / "j8cw03031_crj.fits"]


def test_existing_file_beats_suffix_form(tmp_path):
    _image(tmp_path / "flt.fits")
    _image(tmp_path / "a_flt.fits")
    assert resolve_inputs("flt.fits", cwd=tmp_path).exposures == [tmp_path / "flt.fits"]


def test_comma_list_keeps_order(field):
    s = resolve_inputs("j8cw03fjq_flt.fits, j8cw03a1q_flt.fits", cwd=field)
    assert s.exposures == [field / "j8cw03fjq_flt.fits", field / "j8cw03a1q_flt.fits"]
    assert s.output == DEFAULT_OUTPUT
    assert resolve_inputs([field / "j8cw03fjq_flt.fits", "j8cw03a1q_flt.fits"], cwd=field).exposures == s.exposures


def test_comma_list_of_patterns_and_asn(field):
    s = resolve_inputs("j8cw03f*_flt.fits,j8cw03a1q_flt.fits", cwd=field)
    assert [p.name for p in s.exposures] == FLTS[2:] + FLTS[:1]
    s = resolve_inputs("j8cw030x0_asn.fits,j8cw03021_crj.fits", cwd=field)
    assert [p.name for p in s.exposures] == FLTS + ["j8cw03021_crj.fits"]
    assert s.output == DEFAULT_OUTPUT and s.asn is None


def test_at_file_with_ivm_comments_and_blanks(field):
    sub = field / "ivm"
    sub.mkdir()
    _image(sub / "a_ivm.fits")
    _image(sub / "b_ivm.fits")
    listfile = field / "list.txt"
    listfile.write_text(
        "# exposures and their inverse-variance maps\n"
        "\n"
        "j8cw03a1q_flt.fits   ivm/a_ivm.fits\n"
        "   j8cw03a2q_flt.fits  # no IVM for this one\n"
        f"{field / 'j8cw03ffq_flt.fits'}\tivm/b_ivm.fits\n"
    )
    s = resolve_inputs("@list.txt", cwd=field)
    assert s.exposures == [field / n for n in FLTS[:3]]
    assert s.ivm == [sub / "a_ivm.fits", None, sub / "b_ivm.fits"]
    assert s.output == DEFAULT_OUTPUT and s.asn is None


def test_at_file_names_relative_to_list_then_cwd(field, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("lists")
    (elsewhere / "beside.txt").write_text("x_flt.fits\n")
    _image(elsewhere / "x_flt.fits")
    assert resolve_inputs(f"@{elsewhere / 'beside.txt'}", cwd=field).exposures == [elsewhere / "x_flt.fits"]
    (elsewhere / "fromcwd.txt").write_text("j8cw03a1q_flt.fits\n")
    assert resolve_inputs(f"@{elsewhere / 'fromcwd.txt'}", cwd=field).exposures == [field / FLTS[0]]


def test_default_cwd_is_current_folder(field, monkeypatch):
    monkeypatch.chdir(field)
    assert resolve_inputs("j8cw03a1q_flt.fits").exposures == [field / "j8cw03a1q_flt.fits"]


def test_file_rootname():
    assert file_rootname("j8cw03a1q_flt.fits") == "j8cw03a1q"
    assert file_rootname("/a/b/J8CW03A1Q_FLC.FITS") == "J8CW03A1Q"
    assert file_rootname("image_1.fits") == "image_1"
    assert file_rootname("image.fit") == "image"
    assert file_rootname("_flt.fits") == "_flt"


# --------------------------------------------------------------------------
# errors: one sentence naming the path
# --------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as e:
        resolve_inputs("nothere_flt.fits", cwd=tmp_path)
    _error(e, "nothere_flt.fits", tmp_path)


def test_pattern_matching_nothing(tmp_path):
    with pytest.raises(InputError) as e:
        resolve_inputs("*_flt.fits", cwd=tmp_path)
    _error(e, "*_flt.fits", "matches no file")


def test_pattern_matching_only_asn(tmp_path):
    _asn(tmp_path / "x_asn.fits", [("AAA", "EXP-DTH", True)])
    with pytest.raises(InputError) as e:
        resolve_inputs("*.fits", cwd=tmp_path)
    _error(e, "*.fits")


def test_asn_with_no_present_member(tmp_path):
    _image(tmp_path / "aaa_flt.fits")
    _asn(tmp_path / "x_asn.fits", [("AAA", "EXP-DTH", False), ("X", "PROD-DTH", False)])
    with pytest.raises(InputError) as e:
        resolve_inputs(tmp_path / "x_asn.fits")
    _error(e, tmp_path / "x_asn.fits", "no present exposure")


def test_asn_member_file_missing(tmp_path):
    _asn(tmp_path / "x_asn.fits", [("AAA", "EXP-DTH", True)])
    with pytest.raises(InputError) as e:
        resolve_inputs(tmp_path / "x_asn.fits")
    _error(e, "AAA", "aaa_flt.fits", "aaa_flc.fits", "aaa_crj.fits")


def test_asn_without_table(tmp_path):
    _image(tmp_path / "x_asn.fits")
    with pytest.raises(InputError) as e:
        resolve_inputs(tmp_path / "x_asn.fits")
    _error(e, tmp_path / "x_asn.fits", "'ASN'")


def test_asn_without_column(tmp_path):
    table = fits.BinTableHDU.from_columns([fits.Column(name="MEMNAME", format="8A", array=np.array(["AAA"]))],
                                          name="ASN")  # fmt: skip
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(tmp_path / "x_asn.fits")
    with pytest.raises(InputError) as e:
        resolve_inputs(tmp_path / "x_asn.fits")
    _error(e, "MEMTYPE", tmp_path / "x_asn.fits")


@pytest.mark.parametrize("content", [b"this is not FITS at all\n", b""])
def test_corrupt_fits(field, content):
    (field / "bad_flt.fits").write_bytes(content)
    for spec in ("bad_flt.fits", "*_flt.fits", "bad_flt.fits,j8cw03a1q_flt.fits"):
        with pytest.raises(InputError) as e:
            resolve_inputs(spec, cwd=field)
        _error(e, field / "bad_flt.fits", "not a readable FITS file")


@pytest.mark.parametrize("cut", [100, 2880, 4000])
def test_truncated_fits(field, cut):
    """Astropy drops a truncated last HDU with only a warning: this must be an error."""
    path = field / "j8cw03a1q_flt.fits"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - cut])
    with pytest.raises(InputError) as e:
        resolve_inputs(path)
    _error(e, path, "truncated or corrupt")


def test_gzipped_fits(tmp_path):
    raw = _image(tmp_path / "a_flt.fits").read_bytes()
    (tmp_path / "b_flt.fits.gz").write_bytes(gzip.compress(raw))
    s = resolve_inputs("b_flt.fits.gz", cwd=tmp_path)
    assert s.exposures == [tmp_path / "b_flt.fits.gz"] and s.output == "b"


def test_at_file_too_many_columns(field):
    (field / "list.txt").write_text("j8cw03a1q_flt.fits\nj8cw03a2q_flt.fits a_ivm.fits extra\n")
    with pytest.raises(InputError) as e:
        resolve_inputs("@list.txt", cwd=field)
    _error(e, field / "list.txt", "line 2", "3 columns")


def test_at_file_missing_ivm(field):
    (field / "list.txt").write_text("j8cw03a1q_flt.fits nothere_ivm.fits\n")
    with pytest.raises(InputError) as e:
        resolve_inputs("@list.txt", cwd=field)
    _error(e, "nothere_ivm.fits", "IVM", "line 1")


def test_at_file_missing_exposure(field):
    (field / "list.txt").write_text("j8cw03a1q_flt.fits\nnothere_flt.fits\n")
    with pytest.raises(InputError) as e:
        resolve_inputs("@list.txt", cwd=field)
    _error(e, "nothere_flt.fits", "line 2")


def test_at_file_corrupt_exposure(field):
    """Checked here by default; with check_listed=False left to the reader (the pipeline's initialization)."""
    (field / "bad_flt.fits").write_text("not fits")
    (field / "list.txt").write_text("j8cw03a1q_flt.fits\nbad_flt.fits\n")
    with pytest.raises(InputError) as e:
        resolve_inputs("@list.txt", cwd=field)
    _error(e, field / "bad_flt.fits", "exposure", "not a readable FITS file")
    s = resolve_inputs("@list.txt", cwd=field, check_listed=False)
    assert s.exposures == [field / "j8cw03a1q_flt.fits", field / "bad_flt.fits"]


def test_the_pipeline_reports_a_corrupt_listed_exposure(tmp_path):
    """Opened once, by the build's reader: the same sentence as the list's own check."""
    names = [p.name for p in write_tiny_exposures(tmp_path, 2, shape=(24, 40), seed=1)]
    (tmp_path / "bad_flt.fits").write_bytes((tmp_path / names[1]).read_bytes()[:5000])
    (tmp_path / "list.txt").write_text(f"{names[0]}\nbad_flt.fits\n")
    with pytest.raises(InputError) as e:
        gpudriz.Multidrizzle(input="@list.txt", workdir=tmp_path, backend="cpu").build()
    _error(e, tmp_path / "bad_flt.fits", "exposure", "truncated or corrupt")


def test_at_file_corrupt_ivm(field):
    (field / "bad_ivm.fits").write_text("not fits")
    (field / "list.txt").write_text("j8cw03a1q_flt.fits bad_ivm.fits\n")
    with pytest.raises(InputError) as e:
        resolve_inputs("@list.txt", cwd=field)
    _error(e, field / "bad_ivm.fits", "IVM file")


@pytest.mark.parametrize("text", ["", "# only a comment\n\n"])
def test_at_file_empty(field, text):
    (field / "list.txt").write_text(text)
    with pytest.raises(InputError) as e:
        resolve_inputs("@list.txt", cwd=field)
    _error(e, field / "list.txt", "names no exposure")


def test_at_file_missing(field):
    with pytest.raises(InputError) as e:
        resolve_inputs("@nothere.txt", cwd=field)
    _error(e, field / "nothere.txt")


def test_at_file_listing_asn(field):
    (field / "list.txt").write_text("j8cw030x0_asn.fits\n")
    with pytest.raises(InputError) as e:
        resolve_inputs("@list.txt", cwd=field)
    _error(e, "j8cw030x0_asn.fits", "association")


@pytest.mark.parametrize("spec", [
    "j8cw03a1q_flt.fits,j8cw03a1q_flt.fits",
    "j8cw03a1q_flt.fits,*_flt.fits",
    "j8cw030x0_asn.fits,j8cw03a2q_flt.fits",
])  # fmt: skip
def test_duplicate_exposures(field, spec):
    with pytest.raises(InputError) as e:
        resolve_inputs(spec, cwd=field)
    _error(e, "more than once", "_flt.fits")


def test_duplicate_through_another_path(field):
    (field / "sub").mkdir()
    spec = "j8cw03a1q_flt.fits,sub/../j8cw03a1q_flt.fits"
    with pytest.raises(InputError) as e:
        resolve_inputs(spec, cwd=field)
    _error(e, "more than once")


def test_duplicate_ivm(field):
    _image(field / "a_ivm.fits")
    (field / "list.txt").write_text("j8cw03a1q_flt.fits a_ivm.fits\nj8cw03a2q_flt.fits a_ivm.fits\n")
    with pytest.raises(InputError) as e:
        resolve_inputs("@list.txt", cwd=field)
    _error(e, "a_ivm.fits", "more than once")


@pytest.mark.parametrize("bad", [3, None, "", " , ", [], ["a.fits", 4]])
def test_bad_input_values(field, bad):
    with pytest.raises(InputError) as e:
        resolve_inputs(bad, cwd=field)
    _error(e, "'input'")


def test_folder_as_input(field):
    (field / "sub").mkdir()
    with pytest.raises(InputError) as e:
        resolve_inputs("sub", cwd=field)
    _error(e, "sub", "folder")


def test_at_file_inside_list_is_refused(field):
    (field / "list.txt").write_text("j8cw03a1q_flt.fits\n")
    with pytest.raises(InputError) as e:
        resolve_inputs("j8cw03a2q_flt.fits,@list.txt", cwd=field)
    _error(e, "@list.txt")


def test_bad_cwd(tmp_path):
    with pytest.raises(InputError) as e:
        resolve_inputs("a.fits", cwd=tmp_path / "nothere")
    _error(e, "'cwd'")


def test_inputs_never_modified(field):
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in field.iterdir()}
    resolve_inputs("j8cw030x0_asn.fits", cwd=field)
    resolve_inputs("flt.fits", cwd=field)
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in field.iterdir()} == before
