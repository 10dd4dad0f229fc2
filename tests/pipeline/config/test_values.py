"""Conversion of parameter values: every kind, INDEF, bounds and the error sentence."""

from pathlib import Path

import numpy as np
import pytest

from gpudriz.pipeline.config.definitions import PARAMETERS
from gpudriz.pipeline.config.mapping import validate
from gpudriz.pipeline.config.values import (
    CONVERTERS,
    KIND_LABELS,
    ParameterError,
    format_number,
    format_value,
)


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




def test_every_kind_has_a_converter():
    assert set(CONVERTERS) == set(KIND_LABELS)


@pytest.mark.parametrize(
    "kind, value",
    [("bool", "maybe"), ("int", 2.5), ("float", "nan"), ("float", True), ("pair", "1 2 3"),
     ("str", "a\nb"), ("files", ["a,b.fits"]), ("keyword", "TOOLONGKEY"), ("choice", "x")],
)
def test_converters_answer_none_for_unacceptable_values(kind, value):
    p = next(p for p in PARAMETERS.values() if p.kind == kind)
    assert CONVERTERS[kind](p, value) is None


@pytest.mark.parametrize(
    "value, text",
    [(None, "INDEF"), (True, "yes"), (False, "no"), ((6.0, 3.0), "6 3"), ((0.1, 2.5), "0.1 2.5"),
     (4.0, "4"), (0.05, "0.05"), (1e20, "1e+20"), (7, "7"), ("square", "square")],
)
def test_format_value_writes_text_that_reads_back(value, text):
    assert format_value(value) == text


def test_format_number_keeps_every_digit():
    assert format_number(0.1 + 0.2) == "0.30000000000000004"
    assert float(format_number(1 / 3)) == 1 / 3
