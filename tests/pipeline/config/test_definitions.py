"""The parameter definitions: Table 2 defaults, departures, order, groups and choices."""

import pytest
from helpers.paths import DOCS_DIR

from gpudriz.pipeline.config.definitions import KERNELS, PARAMETERS, STEPS, Parameter
from gpudriz.pipeline.config.values import format_value
from gpudriz.resample import SUPPORTED_DRIZZLE_KERNELS

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
                    "final_pixfrac final_rot final_fillval tile_size",
    "instrument": "gain gnkeyword rdnoise rnkeyword exptime expkeyword crbit",
    "gpudriz": "backend workers scheduler",
}  # fmt: skip




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
    assert set(PARAMETERS) - set(TABLE2) == {"final_wht_type", "skymethod", "tile_size", "backend", "workers", "scheduler"}
    assert PARAMETERS["final_wht_type"].default == "EXP"
    assert PARAMETERS["skymethod"].default == "localmin"  # the manual's behaviour
    assert PARAMETERS["backend"].default == "auto"
    assert PARAMETERS["tile_size"].default == 0  # one frame, as MultiDrizzle writes it


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
    expected.insert(expected.index("final_fillval") + 1, "tile_size")
    assert list(PARAMETERS) == expected + ["backend", "workers", "scheduler"]


def test_groups_match_section_14():
    assert list(STEPS) == list(SECTION_14)
    for step, names in SECTION_14.items():
        assert [n for n, p in PARAMETERS.items() if p.step == step] == names.split(), step


def test_definitions_are_consistent():
    for name, p in PARAMETERS.items():
        assert p.name == name
        assert p.description and "\n" not in p.description
        assert p.validate(p.default) == p.default, name
        assert p.validate(format_value(p.default)) == p.default, name
        if p.default is None:
            assert p.nullable, name
        if p.kind == "choice":
            assert p.default in p.choices
    with pytest.raises(ValueError, match="none_means"):
        Parameter("x", "init", "float", None, "X", nullable=True)
    with pytest.raises(ValueError, match="step"):
        Parameter("x", "nowhere", "float", 1.0, "X")
    with pytest.raises(ValueError, match="choices"):
        Parameter("x", "init", "choice", "a", "X")


def test_choices_match_the_manual_and_the_engine():
    from gpudriz.backend import BACKEND_NAMES
    from gpudriz.blot import INTERPOLANTS

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




def test_kernels_are_the_engines_in_the_manuals_order():
    assert sorted(KERNELS) == sorted(SUPPORTED_DRIZZLE_KERNELS)
    # The manual's original five first, then the Lanczos kernels: the order help and docs show.
    assert KERNELS == ("square", "point", "gaussian", "turbo", "tophat", "lanczos2", "lanczos3")
    assert PARAMETERS["final_kernel"].choices == KERNELS == PARAMETERS["driz_sep_kernel"].choices
