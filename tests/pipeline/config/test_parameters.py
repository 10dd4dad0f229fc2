"""The parameter definitions: manual defaults, validation, config files, CLI and help."""

import io
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from helpers.paths import DOCS_DIR

from gpudriz.pipeline.config import parameters as P
from gpudriz.pipeline.config.parameters import (
    PARAMETERS,
    STEPS,
    ParameterError,
    Parameters,
    UnknownParameterError,
    canonical_name,
    help_text,
    parse_cli,
    read_config,
    reference_markdown,
    validate,
    write_config,
)

# Table 2 of the MultiDrizzle manual, copied by hand in its order (INDEF and
# blanks as None, "6 3" pairs as tuples).
TABLE2 = {
    "input": "flt.fits",
    "output": None,
    "mdriztab": False,
    "refimage": None,
    "runfile": "multidrizzle.run",
    "workinplace": False,
    "coeffs": "header",
    "context": True,
    "clean": False,
    "group": None,
    "bits": 0,
    "ra": None,
    "dec": None,
    "build": True,
    "shiftfile": None,
    "static": True,
    "staticfile": None,
    "static_sig": 4.0,
    "skysub": True,
    "skywidth": 0.1,
    "skystat": "median",
    "skylower": -50.0,
    "skyupper": 200.0,
    "skyclip": 5,
    "skylsigma": 4.0,
    "skyusigma": 4.0,
    "skyuser": None,
    "driz_separate": True,
    "driz_sep_outnx": None,
    "driz_sep_outny": None,
    "driz_sep_kernel": "turbo",
    "driz_sep_scale": None,
    "driz_sep_pixfrac": 1.0,
    "driz_sep_rot": None,
    "driz_sep_fillval": None,
    "median": True,
    "median_newmasks": True,
    "combine_type": "median",
    "combine_nsigma": (6.0, 3.0),
    "combine_nlow": 0,
    "combine_nhigh": 1,
    "combine_lthresh": None,
    "combine_hthresh": None,
    "combine_grow": 1.0,
    "blot": True,
    "blot_interp": "poly5",
    "blot_sinscl": 1.0,
    "driz_cr": True,
    "driz_cr_corr": False,
    "driz_cr_snr": (3.0, 2.5),
    "driz_cr_scale": (1.2, 0.7),
    "driz_combine": True,
    "final_outnx": None,
    "final_outny": None,
    "final_kernel": "square",
    "final_scale": None,
    "final_pixfrac": 1.0,
    "final_rot": 0.0,
    "final_fillval": None,
    "gain": None,
    "gnkeyword": None,
    "rdnoise": None,
    "rnkeyword": None,
    "exptime": None,
    "expkeyword": None,
    "crbit": None,
}

# The "Parameters:" line of each step of section 1.4 (its typos 'workplace' and
# 'skysigma' corrected); the instrument overrides are Table 2's last group.
SECTION_14 = {
    "init": "input output mdriztab refimage runfile workinplace coeffs context clean group bits "
            "ra dec build shiftfile",
    "static": "static staticfile static_sig",
    "sky": "skysub skywidth skystat skylower skyupper skyclip skylsigma skyusigma skymethod skyuser",
    "driz_separate": "driz_separate driz_sep_outnx driz_sep_outny driz_sep_kernel driz_sep_scale "
                     "driz_sep_pixfrac driz_sep_rot driz_sep_fillval",
    "median": "median median_newmasks combine_type combine_nsigma combine_nlow combine_nhigh "
              "combine_lthresh combine_hthresh combine_grow",
    "blot": "blot blot_interp blot_sinscl",
    "driz_cr": "driz_cr driz_cr_corr driz_cr_snr driz_cr_scale",
    "driz_combine": "driz_combine final_wht_type final_outnx final_outny final_kernel final_scale "
                    "final_pixfrac final_rot final_fillval",
    "instrument": "gain gnkeyword rdnoise rnkeyword exptime expkeyword crbit",
    "gpudriz": "backend",
}  # fmt: skip


# --- definitions ------------------------------------------------------------------------


#: Defaults that depart from Table 2 on measurement (docs/differences.md gives it).
DEPARTURES = {
    "combine_type": "minmed",
    "combine_nsigma": (4.0, 3.0),
    "driz_cr_snr": (5.0, 4.0),
}


def test_every_table2_parameter_has_its_manual_default():
    for name, default in TABLE2.items():
        assert name in PARAMETERS, name
        got = PARAMETERS[name].default
        want = DEPARTURES.get(name, default)
        assert got == want and type(got) is type(want), (name, got)
    assert set(PARAMETERS) - set(TABLE2) == {"final_wht_type", "skymethod", "backend"}
    assert PARAMETERS["final_wht_type"].default == "EXP"
    assert PARAMETERS["skymethod"].default == "localmin"  # the manual's behaviour
    assert PARAMETERS["backend"].default == "auto"


def test_every_departure_from_table2_is_documented():

    doc = DOCS_DIR / "differences.md"
    if not doc.exists():
        pytest.skip("docs/ is not in this checkout")
    text = doc.read_text()
    for name in DEPARTURES:
        assert f"`{name}`" in text, f"docs/differences.md does not explain the default of {name}"


def test_order_follows_the_manual():
    # Table 2's order, with final_wht_type where section 1.4 puts it and
    # AstroDrizzle's skymethod before skyuser.
    expected = list(TABLE2)
    expected.insert(expected.index("driz_combine") + 1, "final_wht_type")
    expected.insert(expected.index("skyuser"), "skymethod")
    assert list(PARAMETERS) == expected + ["backend"]


def test_groups_match_section_14():
    assert list(STEPS) == list(SECTION_14)
    for step, names in SECTION_14.items():
        assert [n for n, p in PARAMETERS.items() if p.step == step] == names.split(), step


def test_definitions_are_consistent():
    for name, p in PARAMETERS.items():
        assert p.name == name
        assert p.description and "\n" not in p.description
        assert p.validate(p.default) == p.default, name
        assert p.validate(P.format_value(p.default)) == p.default, name
        if p.default is None:
            assert p.nullable, name
        if p.kind == "choice":
            assert p.default in p.choices
    with pytest.raises(ValueError, match="none_means"):
        P.Parameter("x", "init", "float", None, "X", nullable=True)
    with pytest.raises(ValueError, match="step"):
        P.Parameter("x", "nowhere", "float", 1.0, "X")
    with pytest.raises(ValueError, match="choices"):
        P.Parameter("x", "init", "choice", "a", "X")


def test_choices_match_the_manual_and_the_engine():
    from gpudriz.backend import BACKEND_NAMES
    from gpudriz.blot import INTERPOLANTS
    from gpudriz.resample import SUPPORTED_DRIZZLE_KERNELS

    manual_kernels = {"square", "point", "gaussian", "turbo", "tophat", "lanczos3"}
    for name in ("driz_sep_kernel", "final_kernel"):
        choices = set(PARAMETERS[name].choices)
        assert manual_kernels <= choices <= set(SUPPORTED_DRIZZLE_KERNELS)
    blot = set(PARAMETERS["blot_interp"].choices)
    assert {"nearest", "linear", "poly3", "poly5", "sinc"} <= blot <= set(INTERPOLANTS)
    combine = {"average", "median", "sum", "minmed", "minmax"}  # minmax: combine_nlow/nhigh
    assert set(PARAMETERS["combine_type"].choices) == combine
    assert PARAMETERS["skystat"].choices == ("median", "mode", "mean")
    assert set(PARAMETERS["final_wht_type"].choices) == {"EXP", "ERR", "IVM"}
    assert PARAMETERS["backend"].choices == BACKEND_NAMES


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("clean", "YES", True),
        ("clean", "y", True),
        ("clean", "True", True),
        ("clean", " No ", False),
        ("clean", "n", False),
        ("clean", "FALSE", False),
        ("clean", False, False),
        ("clean", np.bool_(True), True),
        ("bits", "3458", 3458),
        ("bits", 4.0, 4),
        ("bits", "1e3", 1000),
        ("bits", np.int64(7), 7),
        ("skyclip", " 0 ", 0),
        ("final_pixfrac", "0.8", 0.8),
        ("final_pixfrac", 2, 2.0),
        ("final_pixfrac", np.float32(0.5), 0.5),
        ("final_rot", "-45", -45.0),
        ("skylower", "-1e2", -100.0),
        ("ra", "359.9", 359.9),
        ("dec", -90, -90.0),
        ("final_kernel", "LANCZOS3", "lanczos3"),
        ("final_wht_type", "ivm", "IVM"),
        ("blot_interp", " Sinc ", "sinc"),
        ("combine_type", "MinMed", "minmed"),
        ("backend", "CUDA", "cuda"),
        ("combine_nsigma", "4 3", (4.0, 3.0)),
        ("combine_nsigma", "4,3", (4.0, 3.0)),
        ("combine_nsigma", " 4, 3 ", (4.0, 3.0)),
        ("combine_nsigma", [4, 3], (4.0, 3.0)),
        ("combine_nsigma", np.array([4.5, 3.5]), (4.5, 3.5)),
        ("combine_nsigma", ("4", "3"), (4.0, 3.0)),
        ("combine_nsigma", "5", (5.0, 5.0)),
        ("combine_nsigma", 5, (5.0, 5.0)),
        ("driz_cr_scale", "0 0.7", (0.0, 0.7)),
        ("skyuser", "mdrizsky", "MDRIZSKY"),
        ("gnkeyword", "ccd-gain", "CCD-GAIN"),
        ("group", 1, "1"),
        ("group", " sci,1 ", "sci,1"),
        ("coeffs", "TRAUGER", "trauger"),
        ("coeffs", "None", "none"),
        ("coeffs", "my_idc.fits", "my_idc.fits"),
        ("refimage", Path("ref.fits"), "ref.fits"),
        ("input", ["a_flt.fits", Path("b_flt.fits")], "a_flt.fits,b_flt.fits"),
        ("input", "@inputs.lst", "@inputs.lst"),
        ("driz_sep_outnx", "4096", 4096),
        ("crbit", 0, 0),
    ],
)
def test_validate_good_values(name, value, expected):
    got = validate(name, value)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("text", [None, "INDEF", "indef", "", "   ", "None"])
@pytest.mark.parametrize(
    "name", ["final_scale", "final_rot", "refimage", "skyuser", "crbit", "output"]
)
def test_indef_where_allowed(name, text):
    assert validate(name, text) is None


@pytest.mark.parametrize(
    "name, value, accepted",
    [
        ("final_pixfrac", -1, "a number > 0"),
        ("final_pixfrac", 0, "a number > 0"),
        ("final_pixfrac", "abc", "a number > 0"),
        ("final_pixfrac", "nan", "a number > 0"),
        ("final_pixfrac", float("inf"), "a number > 0"),
        ("final_pixfrac", True, "a number > 0"),
        ("final_pixfrac", None, "a number > 0"),
        ("final_pixfrac", "INDEF", "a number > 0"),
        ("final_pixfrac", [1.0], "a number > 0"),
        ("clean", "maybe", "yes or no"),
        ("clean", 1, "yes or no"),
        ("clean", "INDEF", "yes or no"),
        ("bits", -1, "an integer >= 0"),
        ("bits", 2.5, "an integer >= 0"),
        ("bits", "0x10", "an integer >= 0"),
        ("bits", True, "an integer >= 0"),
        ("skyclip", "3.5", "an integer >= 0"),
        ("driz_sep_outnx", 0, "an integer >= 1"),
        ("ra", 360, "a number in [0, 360)"),
        ("dec", 90.5, "a number in [-90, 90]"),
        ("final_kernel", "boxcar",
         "one of square, point, gaussian, turbo, tophat, lanczos2, lanczos3"),  # fmt: skip
        ("final_kernel", 3, "one of square"),
        ("final_kernel", None, "one of square"),
        ("final_wht_type", "weights", "one of EXP, ERR, IVM"),
        ("combine_nsigma", "4 3 2", "one or two numbers > 0"),
        ("combine_nsigma", "4 -3", "one or two numbers > 0"),
        ("combine_nsigma", "0 3", "one or two numbers > 0"),
        ("combine_nsigma", "a b", "one or two numbers > 0"),
        ("combine_nsigma", ",4", "one or two numbers > 0"),
        ("combine_nsigma", [], "one or two numbers > 0"),
        ("combine_nsigma", "INDEF", "one or two numbers > 0"),
        ("driz_cr_scale", "1 -0.5", "one or two numbers >= 0"),
        ("skyuser", "TOOLONGKEY", "a FITS header keyword"),
        ("skyuser", "sky val", "a FITS header keyword"),
        ("input", "", "a file name, a wildcard"),
        ("input", [], "a file name, a wildcard"),
        ("input", ["a.fits", "b,c.fits"], "a file name, a wildcard"),
        ("input", 3, "a file name, a wildcard"),
        ("refimage", "a\nb.fits", "a file name, or INDEF"),
        ("runfile", "INDEF", "a file name"),
        ("coeffs", "", "header, cubic, trauger, none or a file name"),
        ("group", 1.5, "text such as '1' or 'sci,1', or INDEF"),
        ("backend", "gpu", "one of auto, cpu, cuda"),
    ],
)
def test_validate_bad_values(name, value, accepted):
    with pytest.raises(ParameterError) as info:
        validate(name, value)
    msg = str(info.value)
    assert msg.startswith(f"{name} = {value!r} is not valid: expected {accepted}")
    assert msg.endswith(".") and "\n" not in msg


def test_error_message_reads_as_in_the_brief():
    with pytest.raises(ParameterError) as info:
        validate("final_pixfrac", -1)
    assert str(info.value) == "final_pixfrac = -1 is not valid: expected a number > 0."


def test_names_are_forgiving_and_unknown_ones_get_a_suggestion():
    assert canonical_name(" Final-Pixfrac ") == "final_pixfrac"
    assert canonical_name("gainkeyword") == "gnkeyword"  # section 1.4's spelling
    assert validate("gainkeyword", "ccdgain") == "CCDGAIN"
    with pytest.raises(UnknownParameterError) as info:
        validate("final_pixfrc", 1)
    assert str(info.value) == "unknown parameter 'final_pixfrc' (did you mean 'final_pixfrac'?)."
    assert isinstance(info.value, ParameterError) and isinstance(info.value, KeyError)
    with pytest.raises(UnknownParameterError, match=r"did you mean 'gnkeyword'\?"):
        canonical_name("gainkeywrd")
    with pytest.raises(UnknownParameterError) as info:
        canonical_name("zzzz")
    assert str(info.value) == "unknown parameter 'zzzz'."
    with pytest.raises(UnknownParameterError, match="parameter names are text"):
        canonical_name(3)


# --- the Parameters mapping -------------------------------------------------------------


def test_parameters_start_from_the_defaults():
    p = Parameters()
    assert list(p) == list(PARAMETERS) and len(p) == len(PARAMETERS)
    assert {k: p[k] for k in TABLE2} == dict(TABLE2, **DEPARTURES)
    assert p.changed() == {}
    assert p == Parameters() and p == p.as_dict()


def test_parameters_validate_every_assignment():
    p = Parameters({"final_scale": "0.05"}, combine_nsigma="4 3")
    assert p.final_scale == 0.05 and p["combine-nsigma"] == (4.0, 3.0)
    p["final_pixfrac"] = "0.7"
    p.final_kernel = "GAUSSIAN"
    assert (p.final_pixfrac, p.final_kernel) == (0.7, "gaussian")
    with pytest.raises(ParameterError, match=r"^final_pixfrac = -2 is not valid"):
        p["final_pixfrac"] = -2
    with pytest.raises(ParameterError, match="did you mean 'final_pixfrac'"):
        p.final_pixfrc = 0.5  # a typo must not become a new attribute
    with pytest.raises(AttributeError, match="did you mean 'final_pixfrac'"):
        p.final_pixfrc  # noqa: B018
    assert p.final_pixfrac == 0.7
    with pytest.raises(ParameterError):
        Parameters(final_scale=-1)


def test_update_is_all_or_nothing():
    p = Parameters()
    with pytest.raises(ParameterError, match="final_scale"):
        p.update(final_pixfrac=0.5, final_scale=-1)
    assert p.final_pixfrac == 1.0
    p.update({"final-pixfrac": 0.5}, final_scale=0.04)
    p.update([("clean", "yes")])
    assert p.changed() == {"clean": True, "final_scale": 0.04, "final_pixfrac": 0.5}


def test_copy_changed_reset_and_mapping_behaviour():
    p = Parameters(final_rot=None, bits=64)
    q = p.copy()
    q.bits = 0
    assert p.bits == 64 and q.changed() == {"final_rot": None}
    q.final_rot = 0
    assert q.changed() == {}
    d = p.as_dict()
    d["bits"] = 1
    assert p.bits == 64 and type(d) is dict
    assert "final-rot" in p and "nope" not in p and p.get("nope") is None
    with pytest.raises(TypeError, match="cannot be removed"):
        del p["bits"]
    p.reset("bits")
    assert p.changed() == {"final_rot": None}
    p.reset()
    assert p.changed() == {}
    assert "bits=64" in repr(Parameters(bits=64))
    assert pickle.loads(pickle.dumps(Parameters(bits=64))) == Parameters(bits=64)
    assert set(p.step_values("blot")) == {"blot", "blot_interp", "blot_sinscl"}
    with pytest.raises(ParameterError, match="step 'blotting'"):
        p.step_values("blotting")


# --- configuration files ----------------------------------------------------------------

ODD = {
    "input": ["a_flt.fits", "b_flt.fits"],
    "output": "'quoted'",
    "refimage": 'ref "x".fits',
    "coeffs": "none",
    "context": False,
    "bits": 3458,
    "ra": 0.1 + 0.2,
    "dec": -1e-7,
    "skyuser": "MDRIZSKY",
    "skylower": None,
    "driz_sep_scale": 0.05,
    "final_rot": None,
    "final_fillval": -1e30,
    "combine_nsigma": (4.5, 3.25),
    "driz_cr_snr": (1 / 3, 2.0),
    "final_kernel": "lanczos3",
    "final_wht_type": "ERR",
    "driz_sep_outnx": 2048,
    "backend": "cpu",
}


def _same(a, b):
    assert a == b
    for name in PARAMETERS:
        assert type(a[name]) is type(b[name]), name


def test_config_round_trip_of_defaults_and_odd_values(tmp_path):
    for values in ({}, ODD):
        p = Parameters(values)
        path = tmp_path / "md.cfg"
        write_config(path, p)
        _same(read_config(path), p)
        assert [f.name for f in tmp_path.iterdir()] == ["md.cfg"]  # no temporary left behind
        assert path.stat().st_mode & 0o777 == 0o644


def test_config_file_is_commented_and_grouped():
    buf = io.StringIO()
    write_config(buf, {"final_scale": 0.05})
    text = buf.getvalue()
    lines = text.splitlines()
    for name, p in PARAMETERS.items():
        i = next(k for k, line in enumerate(lines) if line.startswith(f"{name} = "))
        comment = lines[i - 1]
        assert comment.startswith(f"# {p.description}")
        assert f"{p.kind_label}; default {P.format_value(p.default)}; {p.allowed}" in comment
    assert "combine_nsigma = 4 3" in lines and "final_scale = 0.05" in lines
    assert "driz_sep_scale = INDEF" in lines and "clean = no" in lines
    heads = [line for line in lines if re.fullmatch(r"# .+ \[\w+\]", line)]
    assert heads == [f"# {title} [{step}]" for step, title in STEPS.items()]
    _same(read_config(io.StringIO(text)), Parameters(final_scale=0.05))


def test_hand_written_config(tmp_path):
    path = tmp_path / "hand.cfg"
    path.write_text(
        "# my run\n\n   # indented comment\nFinal-Pixfrac=0.8\n  combine_nsigma = 5,3  \n"
        "final_kernel = 'gaussian'\nskyuser =\nclean = YES\n",
        encoding="utf-8",
    )
    p = read_config(path)
    assert p.changed() == {
        "final_pixfrac": 0.8, "combine_nsigma": (5.0, 3.0), "final_kernel": "gaussian",
        "clean": True,
    }  # fmt: skip


@pytest.mark.parametrize(
    "body, line, message",
    [
        ("bits = 1\nfinal_pixfrac = -1\n", 2,
         "final_pixfrac = '-1' is not valid: expected a number > 0."),
        ("# c\n\nfinal_pixfrc = 1\n", 3,
         "unknown parameter 'final_pixfrc' (did you mean 'final_pixfrac'?)."),
        ("clean yes\n", 1, "expected 'name = value' or a '#' comment, got 'clean yes'."),
        ("= 3\n", 1, "expected 'name = value'"),
        ("bits = 1\n\nbits = 2\n", 3, "bits is set twice (first on line 1)."),
        ("final_kernel = INDEF\n", 1, "final_kernel = 'INDEF' is not valid: expected one of"),
    ],
)
def test_config_errors_name_file_and_line(tmp_path, body, line, message):
    path = tmp_path / "bad.cfg"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ParameterError) as info:
        read_config(path)
    assert str(info.value).startswith(f"{path}, line {line}: {message}")


def test_config_rejects_non_text_and_bad_values_to_write(tmp_path):
    path = tmp_path / "bin.cfg"
    path.write_bytes(b"\xff\xfe\x00bits = 1")
    with pytest.raises(ParameterError, match="not a configuration file"):
        read_config(path)
    with pytest.raises(ParameterError, match="unknown parameter 'final_pixfrc'"):
        write_config(tmp_path / "x.cfg", {"final_pixfrc": 1})
    assert not (tmp_path / "x.cfg").exists()


# --- command line -----------------------------------------------------------------------


def test_cli_forms():
    got = parse_cli([
        "final_pixfrac=0.8", "--final-scale", "0.05", "--combine_nsigma=4 3", "--clean", "yes",
        "skyuser=", "--final-rot", "-45", "Final_Kernel=Lanczos3", "bits=4", "--bits", "8",
    ])  # fmt: skip
    assert got == {
        "final_pixfrac": 0.8, "final_scale": 0.05, "combine_nsigma": (4.0, 3.0), "clean": True,
        "skyuser": None, "final_rot": -45.0, "final_kernel": "lanczos3", "bits": 8,
    }  # fmt: skip
    assert list(got)[-1] == "bits"  # a later setting wins
    assert parse_cli([]) == {}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--final-pixfrac"], "option '--final-pixfrac' needs a value"),
        (["--clean", "--build", "no"], "option '--clean' needs a value"),
        (["final_pixfrc=1"], "unknown parameter 'final_pixfrc' (did you mean 'final_pixfrac'?)."),
        (["--final-pixfrc", "1"],
         "unknown parameter 'final-pixfrc' (did you mean 'final_pixfrac'?)."),
        (["final_pixfrac=abc"], "final_pixfrac = 'abc' is not valid: expected a number > 0."),
        (["extra.fits"], "'extra.fits' is not a parameter setting: expected name=value"),
        (["=3"], "'=3' is not a parameter setting"),
    ],
)
def test_cli_errors(args, message):
    with pytest.raises(ParameterError) as info:
        parse_cli(args)
    assert str(info.value).startswith(message)


# --- help and reference -----------------------------------------------------------------


def test_help_text_mentions_every_parameter():
    text = help_text()
    for step, title in STEPS.items():
        assert f"{title} [{step}]" in text
    for name, p in PARAMETERS.items():
        assert f"  {name} ({p.kind_label}, default {P.format_value(p.default)})" in text
    assert "combine_nsigma (pair of numbers, default 4 3)" in text
    assert "INDEF: the undistorted pixel scale of the first input." in text
    assert max(len(line) for line in text.splitlines()) <= 100
    shown = help_text({"final_pixfrac": 0.8})
    assert "final_pixfrac (number, default 1) = 0.8" in shown


def test_reference_markdown_has_one_table_per_step_and_a_row_per_parameter():
    md = reference_markdown()
    for step, title in STEPS.items():
        assert f"## {title} (`{step}`)" in md
    assert md.count("| Parameter | Kind | Default | Accepted values | Description |") == len(STEPS)
    rows = [line for line in md.splitlines() if line.startswith("| `")]
    assert [re.match(r"\| `(\w+)`", r).group(1) for r in rows] == list(PARAMETERS)
    for row in rows:
        # five cells: any '|' inside a cell is escaped
        assert len(re.findall(r"(?<!\\)\|", row)) == 6, row
    assert "| `combine_nsigma` | pair of numbers | `4 3` |" in md


def test_docs_parameter_reference_is_generated_from_the_definitions():
    """docs/parameters.md is reference_markdown()'s output: one source of truth."""

    from gpudriz.pipeline.config.parameters import reference_markdown

    doc = DOCS_DIR / "parameters.md"
    if not doc.exists():
        pytest.skip("docs/ is not in this checkout")
    assert doc.read_text() == reference_markdown(), (
        "docs/parameters.md is stale: regenerate it with "
        "python -c \"from gpudriz.pipeline.config.parameters import reference_markdown as r; "
        "open('docs/parameters.md', 'w').write(r())\""
    )
