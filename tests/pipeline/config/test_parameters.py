"""gpudriz.pipeline.config.parameters: the public face re-exports every name of the split modules."""

import pytest

from gpudriz.pipeline.config import (
    command_line,
    configfile,
    definitions,
    mapping,
    parameters,
    reference,
    values,
)

HOMES = {
    "Parameter": definitions,
    "ParameterError": values,
    "UnknownParameterError": values,
    "PARAMETERS": definitions,
    "STEPS": definitions,
    "ALIASES": definitions,
    "KIND_LABELS": values,
    "canonical_name": mapping,
    "validate": mapping,
    "format_value": values,
    "Parameters": mapping,
    "write_config": configfile,
    "read_config": configfile,
    "parse_cli": command_line,
    "help_text": reference,
    "reference_markdown": reference,
}


def test_all_is_unchanged():
    assert sorted(parameters.__all__) == sorted(HOMES)


@pytest.mark.parametrize("name", sorted(HOMES))
def test_each_name_is_the_object_of_its_module(name):
    home = HOMES[name]
    assert getattr(parameters, name) is getattr(home, name)
    assert name in home.__all__


def test_the_face_works_as_the_other_modules_use_it(tmp_path):
    P = parameters
    p = P.Parameters(final_pixfrac="0.8")
    path = tmp_path / "md.cfg"
    P.write_config(path, p)
    assert P.read_config(path) == p
    assert P.parse_cli(["--final-pixfrac", "0.8"]) == {"final_pixfrac": 0.8}
    with pytest.raises(P.ParameterError):
        P.validate("final_pixfrac", 0)
    assert P.format_value(P.PARAMETERS["combine_nsigma"].default) == "4 3"
