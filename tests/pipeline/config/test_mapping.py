"""Parameter names and the validated Parameters mapping."""

import pickle

import pytest

from gpudriz.pipeline.config.definitions import PARAMETERS
from gpudriz.pipeline.config.mapping import Parameters, canonical_name, validate
from gpudriz.pipeline.config.values import ParameterError, UnknownParameterError


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




def test_parameters_start_from_the_defaults():
    p = Parameters()
    assert list(p) == list(PARAMETERS) and len(p) == len(PARAMETERS)
    assert p.as_dict() == {name: d.default for name, d in PARAMETERS.items()}
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


